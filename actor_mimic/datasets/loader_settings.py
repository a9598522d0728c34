"""The loader's settings, declared once: `make_loader`, `TeacherStream` and the distill
DataModule all take a `LoaderSettings`.

    settings = LoaderSettings(batch_size=256, seed=0, num_workers=2)
    make_loader(mixture, settings=settings)            # or make_loader(mixture, 256, seed=0, ...)
    make_loader(val, settings=replace(settings, shuffle=False))

Light on purpose (no torch, no store): the distill config imports `WEIGHTINGS` from here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from actor_mimic.errors import UserError

# How a mixture draws its games (mixture.py): about equal numbers of every game in each batch,
# or games in proportion to their sizes.
WEIGHTINGS = ("balanced", "proportional")


@dataclass(frozen=True)
class LoaderSettings:
    """How `make_loader` serves batches (loader.py's docstring says what an epoch is).

    batch_size: samples per batch, all games together.
    seed, epoch: fix the order (with rank, world_size and num_workers); `epoch` is the first
        one served.
    shuffle: False serves every held step in stored order (validation).
    shuffle_buffer: steps each worker shuffles among (at least 2 blocks per game; a block
        is `block_chunks` chunks of the store, 4096 steps by default, about 40 MB
        decompressed with 512 float32 activations). With read_ahead the next group is read
        meanwhile, so up to twice that is in memory per worker, plus the decoded activation
        chunks of the windows being read (docs/storage.md: at most (group + 1) x 32 MiB).
    num_workers: DataLoader worker processes. Each batch then crosses to the trainer through
        shared memory, which costs tens of milliseconds per batch of 256 on a small machine
        (benchmarks/bench_loading.py --workers N): with few cores, 0 (reading in this
        process, plus the read-ahead thread) is fastest. Scripts using workers need an
        `if __name__ == "__main__":` guard (the default "spawn" start method re-imports them).
    drop_last: skip each worker's last, short batch.
    samples_per_game: length of a balanced epoch per game (default: the largest game's size).
    block_chunks: chunks per block, the unit of reading and of sharing work out.
    rank, world_size: this process's DDP share; None: torch.distributed's when it is
        initialised, else (0, 1).
    multiprocessing_context: how workers start ("spawn": h5py and zarr handles are not fork-safe).
    pin_memory: DataLoader's, for copies to a GPU.
    read_ahead: read the next group of blocks in a background thread while this one is
        served (decompression releases the GIL; it pays when a core is free).
    with_hidden: False skips the expert activations (batches hold `hidden` of shape (B, 0)):
        for policy-regression-only training, it halves the reading work.
    """

    batch_size: int = 256
    seed: int = 0
    shuffle: bool = True
    shuffle_buffer: int = 16384
    num_workers: int = 0
    drop_last: bool = False
    samples_per_game: int | None = None
    block_chunks: int = 4
    rank: int | None = None
    world_size: int | None = None
    epoch: int = 0
    multiprocessing_context: str = "spawn"
    pin_memory: bool = False
    read_ahead: bool = True
    with_hidden: bool = True

    def __post_init__(self) -> None:
        for name, value, low in (
            ("batch_size", self.batch_size, 1), ("num_workers", self.num_workers, 0),
            ("shuffle_buffer", self.shuffle_buffer, 1), ("block_chunks", self.block_chunks, 1),
            ("samples_per_game", 1 if self.samples_per_game is None else self.samples_per_game, 1),
        ):  # fmt: skip
            if not isinstance(value, (int, np.integer)) or value < low:
                raise UserError(f"{name} must be a whole number >= {low}, got {value!r}")
        if (self.rank is None) != (self.world_size is None):
            raise UserError("give both rank and world_size, or neither (then torch.distributed decides)")
        if self.rank is not None and self.world_size is not None and not 0 <= self.rank < self.world_size:
            raise UserError(f"rank must lie in 0..{self.world_size - 1}, got {self.rank}")

    def with_options(self, **options) -> LoaderSettings:
        """A copy with `options` (field names) changed; an unknown name is refused."""
        unknown = sorted(set(options) - {field.name for field in dataclasses.fields(self)})
        if unknown:
            raise UserError(
                f"unknown loader option {unknown[0]!r}: the options are LoaderSettings' fields "
                f"({', '.join(field.name for field in dataclasses.fields(self))})"
            )
        return dataclasses.replace(self, **options)
