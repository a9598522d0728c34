"""What `amn train-dqn` and `amn transfer` are asked to do, besides the DQN and Atari settings.

Each field is a flag and a --config key of its command (common/settings.py); the commands
also take every `DQNConfig` field (overriding the preset where given) and the Atari dynamics
settings of `AtariConfig`. The checks of these options live in `__post_init__`.
"""

from __future__ import annotations

from dataclasses import dataclass

from actor_mimic.common.limits import check_seed, check_steps
from actor_mimic.common.settings import setting
from actor_mimic.errors import UserError
from actor_mimic.transfer.config import PRESETS
from actor_mimic.transfer.export import DTYPES


@dataclass
class TrainOptions:
    """`amn train-dqn`: one DQN run in --run-dir."""

    game: str | None = setting(None, "Atari game, e.g. breakout (not needed with --resume or --init-expert)")
    run_dir: str | None = setting(None, "where checkpoints and logs go", required=True)
    resume: bool = setting(False, "continue the run in --run-dir")
    preset: str | None = setting(None, "base settings (default: paper)", choices=sorted(PRESETS))
    init: str | None = setting(None, "initialise from an AMN", metavar="AMN_CHECKPOINT")
    fresh_head: bool = setting(False, "with --init: new output layer")
    init_expert: str | None = setting(
        None, "continue training this expert (its game and settings unless flags say otherwise)",
        metavar="EXPERT_CHECKPOINT",
    )  # fmt: skip
    architecture: str = setting("nature_dqn", "network of a fresh run")
    export: str | None = setting(
        None, "also write the expert here (.safetensors), with its scores in PATH.json; checked before "
        "training starts", metavar="PATH",
    )  # fmt: skip
    overwrite: bool = setting(False, "replace --export (and its .json) if it holds an actor-mimic checkpoint")
    export_dtype: str = setting("float16", "dtype of the exported weights", choices=sorted(DTYPES))
    final_eval_steps: int = setting(125_000, "agent steps of the final evaluation")
    progress: bool = setting(True, "show a progress bar")

    def __post_init__(self) -> None:
        check_steps(self.final_eval_steps, "--final-eval-steps")


@dataclass
class TransferOptions:
    """`amn transfer`: random-init against AMN-init DQNs on a target game."""

    game: str | None = setting(None, "the target game, e.g. breakout", required=True)
    amn: list[str] = setting(
        [], "an AMN checkpoint to initialise from (repeat for several variants; none: only the "
        "random-init baseline, which can run while AMNs distill)", repeat=True, metavar="[NAME=]PATH",
    )  # fmt: skip
    out_dir: str | None = setting(None, "the experiment's folder", required=True)
    seeds: list[int] = setting([0], "one run per seed and variant")
    block_size: int = setting(1_000_000, "training steps per table column (the paper: 1M)")
    preset: str = setting("paper", "base settings", choices=sorted(PRESETS))
    fresh_head: bool = setting(False, "AMN hidden layers, new output layer")
    include_random: bool = setting(True, "train the random-init baseline", flag="--random")
    progress: bool = setting(True, "show a progress bar")

    def __post_init__(self) -> None:
        check_steps(self.block_size, "--block-size")
        for seed in self.seeds:
            check_seed(seed, "--seeds")
        if len(set(self.seeds)) != len(self.seeds):
            raise UserError(f"--seeds {self.seeds} repeats a seed; give distinct seeds")
        if not self.include_random and not self.amn:
            raise UserError("--no-random without --amn leaves nothing to train; give an AMN with --amn PATH")
