"""What one collection run is asked to do: `CollectConfig`, the target and the shard.

Config flows one way: the `amn collect` command line (flags and --config file, generated from
the fields) or a Python caller fills a `CollectConfig`; `collect()` reads it and never looks
at argv. Everything a user can get wrong
here is checked in `CollectConfig.validate` and raises a one-line `UserError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from actor_mimic.common.limits import (
    check_memory,
    check_num_envs,
    check_real,
    check_seed,
    check_steps,
    check_whole,
    check_workers,
    format_bytes,
)
from actor_mimic.common.settings import setting
from actor_mimic.errors import UserError
from actor_mimic.store import BACKENDS, MAX_HIDDEN_WINDOW, VALUE_DTYPES, parse_compression, window_for

# The paper's test protocol plays its networks epsilon-greedy with epsilon 0.05; collecting
# with the same epsilon makes the store show the states an evaluated expert visits, plus a
# little off-policy coverage around them.
DEFAULT_EPSILON = 0.05
# A chunk is the unit of writing, compressing and reading; readers hold a few per game and
# worker, and HDF5 refuses chunks of 4 GiB or more. 256 MiB is ~36k steps of 84x84 frames.
MAX_CHUNK_BYTES = 256 << 20
MAX_CHUNK_LEN = 1 << 20


def parse_shard(text: str) -> tuple[int, int]:
    """`"2/8"` -> (2, 8)."""
    index, slash, count = text.partition("/")
    if not slash or not all(part.strip().isascii() and part.strip().isdigit() for part in (index, count)):
        raise UserError(f"--shard must look like I/N (e.g. 0/4), got {text!r}")
    index_value, count_value = int(index), int(count)
    if count_value < 1 or index_value >= count_value:
        raise UserError(f"--shard {text} is invalid: use I/N with 0 <= I < N")
    return index_value, count_value


def show_shard(shard: tuple[int, int]) -> str:
    return f"{shard[0]}/{shard[1]}"


@dataclass
class CollectConfig:
    """One `amn collect` run. Each field declared with `setting` is also the flag and the
    --config key of `amn collect` (common/settings.py); the others are for Python callers.

    `expert` and `behaviour` may also be loaded `Checkpoint`s (e.g.
    `random_init_expert(AtariConfig("pong"))` in tests). The same seed and num_envs give the
    same store. Each env holds its running episode in memory (~9 KB per step with float32 fc
    activations), so memory grows with num_envs x episode length.
    """

    expert: Any = setting(None, "expert checkpoint (.safetensors) that labels every step (required)")
    out: str | Path | None = setting(None, "the store to write: a .zarr directory or an .h5 file (required)")
    steps: int | None = setting(
        None, "collect exactly N steps over all shards (running episodes are cut at the budget)", exclusive="target"
    )
    episodes: int | None = setting(
        None, "collect exactly N episodes over all shards that the game ended (or timed out)", exclusive="target"
    )
    epsilon: float = setting(
        DEFAULT_EPSILON, "epsilon-greedy exploration of the acting policy; the default is the paper's test protocol"
    )
    behaviour: Any = setting(
        None, "another checkpoint acts (an expert of this game or an AMN) while --expert labels every state"
    )
    behaviour_epsilon: float | None = setting(None, "epsilon of --behaviour (default: --epsilon)")
    round: str | None = setting(None, "a label of this collection round, recorded in the store (DAgger-like)")
    game: str | None = setting(None, "the game; optional, checked against the expert's")
    hidden_layer: str = setting("fc", "expert layer whose activations are stored; fc is the paper's h")
    seed: int = setting(0, "seed of envs and exploration")
    num_envs: int = setting(8, "parallel environments")
    shard: tuple[int, int] = setting((0, 1), "collect shard I of N (I/N)", parse=parse_shard, show=show_shard)
    backend: str | None = setting(None, "storage engine (default: from --out's suffix)", choices=BACKENDS)
    chunk_len: int = setting(1024, "steps per stored chunk")
    compression: str = setting("zstd", "zstd|lz4|gzip|none, optionally :level")
    hidden_window: int | None = setting(
        None,
        "steps of a lane within which each distinct activation row is stored once, a whole number of "
        "--chunk-len (default: 32768, fewer for wide layers); longer stores less, and makes the loader "
        "decode more (docs/storage.md)",
    )
    q_dtype: str = setting(
        "float32", "dtype of stored Q-values; float32 as they are the distillation targets", choices=VALUE_DTYPES
    )
    hidden_dtype: str = setting(
        "float16", "dtype of stored activations; float16 is half the size of float32", choices=VALUE_DTYPES
    )
    noop_max: int | None = setting(None, "no-op starts after each reset (default: the expert's)")
    sticky: float | None = setting(
        None, "repeat_action_probability (default: the expert's); the store keeps the chosen actions: "
        "ALE does not report which ones it executed", flag="--sticky-actions", aliases=("--sticky",),
    )  # fmt: skip
    frame_skip: int | None = setting(None, "must equal the expert's (checked); default: the expert's")
    fire_on_reset: bool | None = setting(
        None, "press FIRE at each episode's start (default: the expert's recorded protocol)"
    )
    fire_on_life_loss: bool | None = setting(
        None, "press FIRE after a lost life (default: the expert's recorded protocol)"
    )
    acting: str | None = setting(
        None, "how a logit teacher (PPO, A2C) acts: greedy, or sample from its policy (default: as its checkpoint "
        "records)", choices=("greedy", "sample"),
    )  # fmt: skip
    resume: bool = setting(False, "continue an interrupted store to its target (a missing store is started)")
    overwrite: bool = setting(
        False, "replace an existing teacher store (nothing else): it is kept as NAME.previous.SUFFIX "
        "until the new store is complete, then deleted",
    )  # fmt: skip
    # False plays the same rollout without storing anything (benchmarks).
    record: bool = True
    # Python callers get no progress bar unless they ask; the command shows one.
    progress: bool = setting(False, "show a progress bar", command_default=True)
    # One intra-op thread: on a small shared CPU, torch's thread pool spinning against the
    # C++ env threads made a batch-8 forward ~20x slower here (measured 4.5 ms vs 85 ms).
    torch_threads: int | None = setting(1, "torch's intra-op threads")
    extra_metadata: dict = field(default_factory=dict)

    def validate(self) -> None:
        """Raise UserError for settings that cannot work, before anything is opened."""
        if self.expert is None:
            raise UserError("--expert is required: the expert checkpoint that labels the states")
        if self.record and self.out is None:
            raise UserError("--out is required: where to write the teacher store")
        target = self._checked_target()
        self._check_acting()
        self._check_shard(target)
        self._check_storage()
        if self.resume and self.overwrite:
            raise UserError("--resume and --overwrite contradict each other: pass one of them")
        self._check_dynamics()
        self._check_names()

    def _checked_target(self) -> int:
        """--steps or --episodes, exactly one of them, a positive whole number."""
        if (self.steps is None) == (self.episodes is None):
            raise UserError("give exactly one target: --steps N or --episodes N")
        target = self.steps if self.steps is not None else self.episodes
        if isinstance(target, bool) or not isinstance(target, int) or target < 1:
            raise UserError(f"the target must be a positive whole number, got {target!r}")
        check_steps(target, f"--{self.target_kind}")
        return target

    def _check_acting(self) -> None:
        """The policies' epsilons, the seed, the environments and the threads."""
        check_real(self.epsilon, "--epsilon", 0.0, 1.0)
        if self.behaviour_epsilon is not None:
            check_real(self.behaviour_epsilon, "--behaviour-epsilon", 0.0, 1.0)
        check_seed(self.seed)
        check_num_envs(self.num_envs)
        if self.torch_threads is not None:
            check_workers(self.torch_threads, "--torch-threads", low=1)

    def _check_shard(self, target: int) -> None:
        index, count = self.shard
        if count < 1 or not 0 <= index < count:
            raise UserError(f"shard {index}/{count} is invalid: use I/N with 0 <= I < N")
        if target < count:
            raise UserError(f"a target of {target} cannot be split into {count} shards")

    def _check_storage(self) -> None:
        """The store's engine, value dtypes, chunks, activation windows and compression."""
        if self.backend is not None and self.backend not in BACKENDS:
            raise UserError(f"unknown backend {self.backend!r}: choose one of {', '.join(BACKENDS)}")
        for flag, dtype in (("--q-dtype", self.q_dtype), ("--hidden-dtype", self.hidden_dtype)):
            if dtype not in VALUE_DTYPES:
                raise UserError(f"{flag} must be one of {', '.join(VALUE_DTYPES)}, got {dtype!r}")
        check_whole(self.chunk_len, "--chunk-len", 1, MAX_CHUNK_LEN)
        if self.hidden_window is not None:
            check_whole(self.hidden_window, "--hidden-window", 1, MAX_HIDDEN_WINDOW)
            if self.hidden_window % self.chunk_len:
                raise UserError(
                    f"--hidden-window {self.hidden_window} must be a whole number of chunks of "
                    f"--chunk-len {self.chunk_len} steps (a chunk never straddles two windows)"
                )
        parse_compression(self.compression)

    def _check_dynamics(self) -> None:
        """The environment's settings given over the expert's."""
        if self.sticky is not None:
            check_real(self.sticky, "--sticky-actions", 0.0, 1.0, high_open=True)
        if self.noop_max is not None:
            check_whole(self.noop_max, "--noop-max", 0, 10_000)
        if self.frame_skip is not None:
            check_whole(self.frame_skip, "--frame-skip", 1, 64)

    def _check_names(self) -> None:
        if self.acting is not None and self.acting not in ("greedy", "sample"):
            raise UserError(f"--acting must be greedy or sample, got {self.acting!r}")
        for flag, text in (("--round", self.round), ("--game", self.game), ("--hidden-layer", self.hidden_layer)):
            if text is not None and (not isinstance(text, str) or not text.isprintable()):
                raise UserError(f"{flag} must be a plain name, got {text!r}")

    def check_sizes(self, fields: dict) -> None:
        """Refuse chunks too large to write or read, and buffers that do not fit in memory,
        before any environment starts. `fields`: `store.step_fields` of this collection."""
        step_bytes = 0
        for name, (shape, dtype) in fields.items():
            row_bytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
            step_bytes += row_bytes
            if row_bytes * self.chunk_len > MAX_CHUNK_BYTES:
                raise UserError(
                    f"--chunk-len {self.chunk_len} makes chunks of {name} of "
                    f"{format_bytes(row_bytes * self.chunk_len)}, above the {format_bytes(MAX_CHUNK_BYTES)} "
                    f"a chunk may hold: use --chunk-len {MAX_CHUNK_BYTES // row_bytes} or less"
                )
        # Each env's running episode, the writer's queue and one chunk being written; and each
        # lane's index of the distinct activation rows of its window (store/dedup.py).
        hidden_bytes = int(np.prod(fields["hidden"][0], dtype=np.int64)) * np.dtype(fields["hidden"][1]).itemsize
        buffered = (self.num_envs + 8) * self.chunk_len * step_bytes
        window = self.hidden_window or window_for(self.chunk_len, hidden_bytes)
        buffered += self.num_envs * window * hidden_bytes
        doing = f"collecting with --num-envs {self.num_envs}, --chunk-len {self.chunk_len}, windows of {window} steps"
        check_memory(buffered, doing, "lower --chunk-len, --num-envs or --hidden-window")

    @property
    def target_kind(self) -> str:
        return "steps" if self.steps is not None else "episodes"

    @property
    def total_target(self) -> int:
        """The target of the whole run, over all shards."""
        return int(cast(int, self.steps if self.steps is not None else self.episodes))  # check(): one is set

    @property
    def shard_target(self) -> int:
        """This shard's part of the target; the shards' parts add up to the total exactly."""
        return split_target(self.total_target, *self.shard)

    @property
    def acting_epsilon(self) -> float:
        if self.behaviour is not None and self.behaviour_epsilon is not None:
            return float(self.behaviour_epsilon)
        return float(self.epsilon)


def split_target(total: int, index: int, count: int) -> int:
    """Shard `index` of `count` gets total // count, the first total % count one more."""
    return total // count + (1 if index < total % count else 0)
