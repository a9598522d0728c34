"""The DQN learner's settings: one typed dataclass, two named presets.

Config flows one way: `amn train-dqn` flags (generated from the fields) -> `DQNConfig` -> the
learner. Every count is in
**agent steps** (one action of one environment, i.e. 4 emulator frames) unless its name says
`updates`: the paper's "frames" are agent steps.

Presets:
- `paper`: the Nature-DQN settings Actor-Mimic used for its experts and transfer runs
  (RMSProp 0.00025, epsilon 1 -> 0.1 over 1M steps, replay 1M, target update 10k updates,
  learning starts 50k, Huber loss, discount 0.99, one update per 4 steps, batch 32).
- `cheap`: a sample-efficient expert for a CPU budget of about a million steps: Adam 1e-4,
  Double DQN, 3-step returns, replay 100k, learning starts 20k, target update 2k updates,
  epsilon 1 -> 0.01 over 250k steps. Double DQN and n-step returns are the two cheapest known
  sample-efficiency gains (Rainbow's ablations, Hessel et al. 2018); Adam with a small
  learning rate is the usual replacement for the Nature RMSProp (Dopamine, CleanRL).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from actor_mimic.common.atari import settings_from_dict
from actor_mimic.common.limits import (
    MAX_STEPS,
    check_field_types,
    check_num_envs,
    check_real,
    check_seed,
    check_whole,
    check_workers,
)
from actor_mimic.common.settings import flag_of, setting
from actor_mimic.errors import UserError

OPTIMIZERS = ("rmsprop", "adam")


@dataclass
class DQNConfig:
    """Every setting of a DQN run. Stored with its checkpoints, so a resumed run keeps them.

    Each field declared with `setting` is also a flag (and --config key) of `amn train-dqn`
    and `amn transfer`, where it overrides the preset only when given (common/settings.py)."""

    # Budget and environment stepping.
    total_steps: int = setting(10_000_000, "training budget in agent steps (4 emulator frames each)", flag="--steps")
    num_envs: int = setting(4, "environments stepped in lockstep; each vector step is num_envs agent steps")
    env_threads: int = setting(1, "threads of ale-py's vector env")
    torch_threads: int = setting(1, "torch's intra-op threads")
    seed: int = setting(0, "seed of the network, the environments and exploration")
    # The learning problem.
    discount: float = setting(0.99, "discount of future rewards")
    n_step: int = setting(1, "steps of reward in each TD target (n-step returns)")
    double_dqn: bool = setting(False, "Double DQN targets")
    clip_rewards: bool = setting(True, "clip rewards to [-1, 1] for learning only")
    huber_delta: float = setting(1.0, "TD errors beyond this get a constant gradient (the paper's clip at 1)")
    # Optimisation.
    optimizer: str = setting("rmsprop", "rmsprop or adam")
    learning_rate: float = setting(0.00025, "the optimiser's step size")
    adam_eps: float = setting(1.5e-4, "Adam's epsilon")
    rmsprop_alpha: float = setting(0.95, "RMSProp's smoothing constant")
    rmsprop_eps: float = setting(0.01, "RMSProp's epsilon")
    max_grad_norm: float = setting(0.0, "clip gradients to this norm; 0: no clipping")
    batch_size: int = setting(32, "transitions per update")
    train_every: int = setting(4, "one update per this many agent steps")
    target_update_updates: int = setting(
        10_000, "sync the target network every this many updates", flag="--target-update"
    )
    learning_starts: int = setting(50_000, "agent steps of play before the first update")
    replay_capacity: int = setting(1_000_000, "replay memory size in agent steps (frames stored once)")
    # Exploration.
    epsilon_start: float = setting(1.0, "exploration epsilon at the first step")
    epsilon_end: float = setting(0.1, "exploration epsilon after the decay")
    epsilon_decay_steps: int = setting(1_000_000, "agent steps of the linear epsilon decay")
    # Evaluation (the shared protocol) and bookkeeping.
    eval_every: int = setting(250_000, "evaluate every this many agent steps")
    eval_steps: int = setting(125_000, "agent steps per evaluation")
    eval_epsilon: float = 0.05  # the shared evaluation protocol's: not a flag, so scores stay comparable
    eval_num_envs: int = setting(8, "environments of each evaluation")
    checkpoint_every_minutes: float = setting(
        15.0, "save the learner every this many wall-clock minutes", flag="--checkpoint-minutes"
    )
    max_wall_minutes: float = setting(0.0, "stop (save, evaluate, export) after this many minutes; 0: no limit")

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Types, ranges and limits of every setting (common.limits); raises UserError."""
        check_field_types(self, flag)
        positive = (
            "total_steps", "n_step", "batch_size", "train_every", "target_update_updates",
            "replay_capacity", "eval_every", "eval_steps",
        )  # fmt: skip
        for name in positive:
            check_whole(getattr(self, name), flag(name), 1, MAX_STEPS)
        check_num_envs(self.num_envs, flag("num_envs"))
        check_num_envs(self.eval_num_envs, flag("eval_num_envs"))
        check_workers(self.env_threads, flag("env_threads"), low=1)
        check_workers(self.torch_threads, flag("torch_threads"), low=1)
        check_seed(self.seed, flag("seed"))
        if self.optimizer not in OPTIMIZERS:
            raise UserError(f"{flag('optimizer')} must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        check_real(self.discount, flag("discount"), 0.0, 1.0)
        for name in ("learning_rate", "adam_eps", "rmsprop_eps", "huber_delta", "checkpoint_every_minutes"):
            if check_real(getattr(self, name), flag(name)) <= 0:
                raise UserError(f"{flag(name)} must be positive, got {getattr(self, name)}")
        check_real(self.rmsprop_alpha, flag("rmsprop_alpha"), 0.0, 1.0, high_open=True)
        check_real(self.max_grad_norm, flag("max_grad_norm"), low=0.0)
        check_real(self.max_wall_minutes, flag("max_wall_minutes"), low=0.0)
        for name in ("epsilon_start", "epsilon_end", "eval_epsilon"):
            check_real(getattr(self, name), flag(name), 0.0, 1.0)
        check_whole(self.learning_starts, flag("learning_starts"), 0, MAX_STEPS)
        check_whole(self.epsilon_decay_steps, flag("epsilon_decay_steps"), 0, MAX_STEPS)
        per_env = self.replay_capacity // self.num_envs
        if per_env < self.n_step + 8:
            raise UserError(
                f"--replay-capacity {self.replay_capacity} is too small for {self.num_envs} "
                f"environments: give at least {(self.n_step + 8) * self.num_envs}"
            )
        if self.batch_size > self.replay_capacity:
            raise UserError(
                f"--batch-size {self.batch_size} exceeds --replay-capacity {self.replay_capacity}: "
                "a minibatch samples from the replay memory"
            )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> DQNConfig:
        return settings_from_dict(cls, data, "DQN settings")


PRESETS: dict[str, dict] = {
    "paper": {},  # the dataclass defaults are the paper's settings
    "cheap": {
        "optimizer": "adam",
        "learning_rate": 1e-4,
        "double_dqn": True,
        "n_step": 3,
        "replay_capacity": 100_000,
        "learning_starts": 20_000,
        "target_update_updates": 2_000,
        "epsilon_end": 0.01,
        "epsilon_decay_steps": 250_000,
        "eval_every": 100_000,
        "eval_steps": 25_000,
    },
}


def flag(field_name: str) -> str:
    """How messages name a DQNConfig field: the flag users type (--steps for total_steps)."""
    return flag_of(DQNConfig, field_name)


def preset(name: str, **overrides) -> DQNConfig:
    """`DQNConfig` of a named preset with some fields replaced."""
    if name not in PRESETS:
        raise UserError(f"unknown preset {name!r}: choose one of {sorted(PRESETS)}")
    return DQNConfig(**{**PRESETS[name], **overrides})


def epsilon_at(config: DQNConfig, step: int) -> float:
    """The exploration epsilon after `step` agent steps: linear from start to end, then flat."""
    if config.epsilon_decay_steps == 0:
        return config.epsilon_end
    fraction = min(1.0, step / config.epsilon_decay_steps)
    return config.epsilon_start + fraction * (config.epsilon_end - config.epsilon_start)
