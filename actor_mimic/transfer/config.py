"""The DQN learner's settings: one typed dataclass, two named presets.

Config flows one way: `amn train-dqn` flags -> `DQNConfig` -> the learner. Every count is in
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
from actor_mimic.errors import UserError

OPTIMIZERS = ("rmsprop", "adam")
# Fields whose command-line flag is not simply --field-name, so messages name what users type.
FLAGS = {"total_steps": "--steps", "target_update_updates": "--target-update",
         "checkpoint_every_minutes": "--checkpoint-minutes"}  # fmt: skip


def flag(field_name: str) -> str:
    return FLAGS.get(field_name, "--" + field_name.replace("_", "-"))


@dataclass
class DQNConfig:
    """Every setting of a DQN run. Stored with its checkpoints, so a resumed run keeps them."""

    # Budget and environment stepping.
    total_steps: int = 10_000_000
    num_envs: int = 4  # environments stepped in lockstep; each vector step is num_envs agent steps
    env_threads: int = 1
    torch_threads: int = 1
    seed: int = 0
    # The learning problem.
    discount: float = 0.99
    n_step: int = 1
    double_dqn: bool = False
    clip_rewards: bool = True  # rewards clipped to [-1, 1] for learning only
    huber_delta: float = 1.0  # TD errors beyond this get a constant gradient (the paper's clip at 1)
    # Optimisation.
    optimizer: str = "rmsprop"
    learning_rate: float = 0.00025
    adam_eps: float = 1.5e-4
    rmsprop_alpha: float = 0.95
    rmsprop_eps: float = 0.01
    max_grad_norm: float = 0.0  # 0: no gradient clipping
    batch_size: int = 32
    train_every: int = 4  # one update per this many agent steps
    target_update_updates: int = 10_000
    learning_starts: int = 50_000
    replay_capacity: int = 1_000_000  # agent steps (frames stored once)
    # Exploration.
    epsilon_start: float = 1.0
    epsilon_end: float = 0.1
    epsilon_decay_steps: int = 1_000_000
    # Evaluation (the shared protocol) and bookkeeping.
    eval_every: int = 250_000
    eval_steps: int = 125_000
    eval_epsilon: float = 0.05
    eval_num_envs: int = 8
    checkpoint_every_minutes: float = 15.0
    max_wall_minutes: float = 0.0  # 0: no limit; otherwise stop (and save) after this long

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
            raise UserError(f"--optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        check_real(self.discount, "--discount", 0.0, 1.0)
        for name in ("learning_rate", "adam_eps", "rmsprop_eps", "huber_delta", "checkpoint_every_minutes"):
            if check_real(getattr(self, name), flag(name)) <= 0:
                raise UserError(f"{flag(name)} must be positive, got {getattr(self, name)}")
        check_real(self.rmsprop_alpha, flag("rmsprop_alpha"), 0.0, 1.0, high_open=True)
        check_real(self.max_grad_norm, "--max-grad-norm", low=0.0)
        check_real(self.max_wall_minutes, "--max-wall-minutes", low=0.0)
        for name in ("epsilon_start", "epsilon_end", "eval_epsilon"):
            check_real(getattr(self, name), flag(name), 0.0, 1.0)
        check_whole(self.learning_starts, "--learning-starts", 0, MAX_STEPS)
        check_whole(self.epsilon_decay_steps, "--epsilon-decay-steps", 0, MAX_STEPS)
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
