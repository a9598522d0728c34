"""The options of each `amn diagnose` action, declared once: a field is a flag and a --config key.

Every check of the command line is here, so a mistake is refused before any checkpoint is
loaded or any game played (common/settings.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from actor_mimic.common.limits import (
    check_device,
    check_num_envs,
    check_real,
    check_seed,
    check_steps,
    check_whole,
    check_workers,
)
from actor_mimic.common.outputs import check_folder
from actor_mimic.common.settings import setting
from actor_mimic.errors import UserError

DEFAULT_STEPS = 10_000  # agent steps per game, as `amn evaluate`
MAX_BEFORE_DEATH = 1_000


@dataclass
class PlayOptions:
    """`amn diagnose play`: the student plays, its teachers label every state it reaches."""

    student: str | None = setting(
        None, "the policy to diagnose: an AMN, or any policy checkpoint (a DQN that amn train-dqn exported)",
        required=True, metavar="CHECKPOINT",
    )  # fmt: skip
    experts: list[str] = setting(
        [], "the teachers, one per game: they label every state the student reaches (none: the student alone)"
    )
    out: str | None = setting(None, "folder of the diagnosis (created if missing)", required=True, metavar="DIR")
    games: list[str] | None = setting(None, "only these games (default: all the student's)")
    steps: int | None = setting(None, f"agent steps per game (default {DEFAULT_STEPS})", exclusive="budget")
    episodes: int | None = setting(None, "play this many whole episodes per game instead", exclusive="budget")
    epsilon: float = setting(0.05, "the student's exploration, as in amn evaluate")
    num_envs: int = setting(8, "parallel environments per game")
    seed: int = setting(0, "seed of the environments and of exploration")
    tau: float | None = setting(
        None, "temperature of the teacher's policy softmax(outputs/tau) (default: the AMN's distillation tau, else 1)"
    )
    before_death: int = setting(32, "states kept before each lost life (strip, GIF, deaths.npz)", metavar="N")
    bins: int = setting(20, "about this many bins of episode step and of score")
    stores: list[str] = setting([], "teacher stores to look the kept states up in (as amn diagnose lookup)")
    nearest: bool = setting(False, "with --stores: also each kept state's nearest stored frame (reads every frame)")
    device: str = setting("cpu", "torch device of the networks (cpu, cuda, cuda:N, mps)")
    torch_threads: int = setting(1, "torch's intra-op threads")
    overwrite: bool = setting(False, "replace a diagnosis this command wrote before in --out")
    progress: bool = setting(True, "show progress bars")

    def __post_init__(self) -> None:
        if self.student is not None and not self.student.strip():
            raise UserError("--student is empty: give the checkpoint (.safetensors) to diagnose")
        if self.steps is not None:
            check_steps(self.steps, "--steps")
        if self.episodes is not None:
            check_steps(self.episodes, "--episodes")
        check_real(self.epsilon, "--epsilon", 0.0, 1.0)
        check_num_envs(self.num_envs)
        check_seed(self.seed)
        if self.tau is not None and check_real(self.tau, "--tau") <= 0:
            raise UserError(f"--tau must be positive, got {self.tau}")
        check_whole(self.before_death, "--before-death", 1, MAX_BEFORE_DEATH)
        check_whole(self.bins, "--bins", 1, 1000)
        if self.nearest and not self.stores:
            raise UserError("--nearest searches teacher stores: give them with --stores")
        check_device(self.device)
        check_workers(self.torch_threads, "--torch-threads", low=1)
        if self.out is not None:
            check_folder(self.out, "--out", "diagnosis folder")

    @property
    def step_budget(self) -> int | None:
        """Agent steps per game; None when whole episodes are counted instead."""
        if self.episodes is not None:
            return None
        return self.steps if self.steps is not None else DEFAULT_STEPS


@dataclass
class LookupOptions:
    """`amn diagnose lookup`: the states a diagnosis kept, looked up in teacher stores."""

    diagnosis: str | None = setting(None, "the folder `amn diagnose play` wrote", required=True, metavar="DIR")
    stores: list[str] = setting([], "teacher stores of the diagnosed games", required=True)
    nearest: bool = setting(False, "also find each kept state's nearest stored frame (reads every frame)")
    overwrite: bool = setting(False, "replace the store_lookup files a lookup wrote before")

    def __post_init__(self) -> None:
        if self.diagnosis is not None:
            check_folder(self.diagnosis, "--diagnosis", "diagnosis folder")


@dataclass
class DQNOptions:
    """`amn diagnose dqn`: a DQN run's first updates, replayed and recorded."""

    run: str | None = setting(
        None, "the run's folder: amn train-dqn's --run-dir, or one run of amn transfer (OUT/VARIANT/seedK)",
        required=True, metavar="DIR",
    )  # fmt: skip
    init: str | None = setting(None, "the AMN the run started from (checked against its recorded sha256)",
                               metavar="AMN_CHECKPOINT")  # fmt: skip
    fresh_head: bool = setting(False, "what if: the same run with a new output layer over the AMN's hidden layers")
    what_if: bool = setting(False, "replay the run's settings and seed from --init (or a random network without it) "
                            "even if it did not start from it; its logs are then not compared")  # fmt: skip
    game: str | None = setting(None, "the run's game, for a run that kept only finished.json (amn transfer)")
    steps: int | None = setting(None, "agent steps to replay (default: learning starts + 20,000)")
    every: int = setting(10, "record the Q-values on the probe states every this many updates")
    probe_states: int = setting(256, "states drawn from the replay memory when learning starts")
    export_at: list[int] = setting([], "also export the network at these agent steps (dqn-stepN.safetensors)",
                                   metavar="STEP")  # fmt: skip
    out: str | None = setting(None, "the diagnosis folder (written whole, created if missing)", required=True,
                              metavar="DIR")  # fmt: skip
    overwrite: bool = setting(False, "replace a DQN diagnosis this command wrote before at --out")
    progress: bool = setting(True, "show a progress bar")

    def __post_init__(self) -> None:
        if self.steps is not None:
            check_steps(self.steps, "--steps")
        check_whole(self.every, "--every", 1, 10**9)
        check_whole(self.probe_states, "--probe-states", 1, 100_000)
        for step in self.export_at:
            check_steps(step, "--export-at")
        if self.steps is not None and any(step > self.steps for step in self.export_at):
            raise UserError(f"--export-at {max(self.export_at)} lies past --steps {self.steps}: it would never come")


# action -> the dataclass of its options
ACTION_OPTIONS: dict[str, type] = {"play": PlayOptions, "lookup": LookupOptions, "dqn": DQNOptions}
