"""`make_loader`: shuffled training batches from teacher stores, read by chunk.

    loader = make_loader(mix, batch_size=256, seed=0, num_workers=2)
    for epoch in range(10):
        for batch in loader:      # dict of torch tensors, see batch.py
            ...

Each worker (of each DDP rank) reads its own disjoint share of blocks (blocks.py), holds a
few of them in memory (`shuffle_buffer` steps, at least 2 blocks per game), and serves their
steps in random order; so batches are close to uniform and memory stays flat.

What one epoch is:
- one game, or a mixture with weighting="proportional": every held step of every store
  exactly once, split over ranks and workers in equal shares (to one step). Each worker's
  last batch may be short (unless `drop_last`). Under DDP every rank must yield the same
  number of batches (else training hangs); when rounding makes one rank's count larger, its
  extra short batch is skipped in that epoch.
- weighting="balanced": `samples_per_game` steps of every game (default: the largest game's
  size), as full batches of `batch_size` with batch_size/num_games steps of each game in
  every batch (the remainder rotates between games): the largest game is seen about once, a
  smaller one is cycled, in a fresh order each pass. Every worker takes an equal, disjoint
  share of every game (a game with fewer steps than workers is cycled whole by each).

Iterating the loader again starts the next epoch (a new order), unless `set_epoch(e)` was
called since; order depends only on (seed, epoch, rank, world_size, num_workers).
Workers start with the "spawn" method by default: h5py and zarr handles are not fork-safe
(a fork after Zarr or h5py were used can deadlock the worker); stores are opened lazily
inside each worker.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from actor_mimic.datasets.batch import empty_batch, shared_batch
from actor_mimic.datasets.blocks import block_order, plan_blocks, split_evenly, trim_to_equal_ranks
from actor_mimic.datasets.mixture import TeacherMixture
from actor_mimic.datasets.reader import BlockReader, BlockStream
from actor_mimic.datasets.teacher import TeacherDataset
from actor_mimic.errors import UserError


class TeacherStream(IterableDataset):
    """The batches of one rank: an IterableDataset of ready-made batches (batch_size=None)."""

    def __init__(
        self,
        mixture: TeacherMixture,
        batch_size: int,
        seed: int = 0,
        shuffle: bool = True,
        shuffle_buffer: int = 16384,
        block_chunks: int = 4,
        drop_last: bool = False,
        samples_per_game: int | None = None,
        num_workers: int = 0,
        rank: int | None = None,
        world_size: int | None = None,
        read_ahead: bool = True,
        with_hidden: bool = True,
    ):
        self.mixture = mixture
        self.read_ahead = read_ahead
        self.with_hidden = with_hidden
        self.hidden_width = mixture.hidden_size if with_hidden else 0
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.shuffle_buffer = shuffle_buffer
        self.drop_last = drop_last
        self.num_workers = num_workers
        self.balanced = mixture.weighting == "balanced" and len(mixture.games) > 1
        self.samples_per_game = samples_per_game or max(len(ds) for ds in mixture.datasets)
        self.blocks = [plan_blocks(ds, game_id, block_chunks) for game_id, ds in enumerate(mixture.datasets)]
        self.epoch = 0
        # (rank, world_size) as given to make_loader; None: asked of torch.distributed
        self._given_placement = None if rank is None or world_size is None else (rank, world_size)
        self.rank, self.world_size = 0, 1  # the placement in effect (resolve_distributed)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def resolve_distributed(self) -> tuple[int, int]:
        """Set and return (rank, world_size): as given to make_loader, else torch.distributed's
        when it is initialised, else (0, 1). Asked anew for every epoch and len(), since a
        loader may be made before DDP starts; worker processes keep their parent's answer."""
        if get_worker_info() is not None:
            return self.rank, self.world_size
        if self._given_placement is not None:
            self.rank, self.world_size = self._given_placement
        elif torch.distributed.is_available() and torch.distributed.is_initialized():
            self.rank, self.world_size = torch.distributed.get_rank(), torch.distributed.get_world_size()
        else:
            self.rank, self.world_size = 0, 1
        return self.rank, self.world_size

    # ------------------------------------------------------------------ the epoch's plan
    @property
    def _parts(self) -> int:
        return self.world_size * max(1, self.num_workers)

    def _group_size(self, streams: int, block_len: int) -> int:
        return max(2, math.ceil(self.shuffle_buffer / streams / max(1, block_len)))

    def _proportional_shares(self) -> list[list]:
        """Per part (rank * workers + worker): its blocks, all games pooled."""
        pooled = [block for game_blocks in self.blocks for block in game_blocks]
        order = block_order(len(pooled), self.seed, self.epoch, 0, self.shuffle)
        return split_evenly(self.mixture.datasets, [pooled[i] for i in order], self._parts)

    def batches_per_worker(self) -> np.ndarray:
        """int (world_size, workers): batches each worker of each rank yields this epoch."""
        workers = max(1, self.num_workers)
        if self.balanced:
            total = math.ceil(len(self.mixture.games) * self.samples_per_game / self.batch_size)
            per_rank = total // self.world_size if self.world_size > 1 else total
            counts = np.array([per_rank // workers + (w < per_rank % workers) for w in range(workers)])
            return np.tile(counts, (self.world_size, 1))
        sizes = np.array([sum(b.size for b in share) for share in self._proportional_shares()])
        rounding = np.floor if self.drop_last else np.ceil
        batches = rounding(sizes / self.batch_size).astype(np.int64).reshape(self.world_size, workers)
        return trim_to_equal_ranks(batches) if self.world_size > 1 else batches

    def __len__(self) -> int:
        rank, _ = self.resolve_distributed()
        return int(self.batches_per_worker()[rank].sum())

    # ------------------------------------------------------------------ iteration
    def __iter__(self):
        rank, _ = self.resolve_distributed()
        info = get_worker_info()
        worker = info.id if info is not None else 0
        part = rank * max(1, self.num_workers) + worker
        num_batches = int(self.batches_per_worker()[rank, worker])
        rng = np.random.default_rng([self.seed, self.epoch, part])
        reader = BlockReader(self.mixture.datasets, self.with_hidden)
        if self.balanced:
            streams = self._balanced_streams(part, reader, rng)
        else:
            blocks = self._proportional_shares()[part]
            group = self._group_size(1, _block_len(blocks))
            streams = [BlockStream(blocks, reader, group, rng, self.shuffle, False, self.read_ahead)]
        try:
            for index in range(num_batches):
                counts = self._counts(index, len(streams))
                batch, tensors = self._new_batch(int(counts.sum()), in_worker=info is not None)
                filled = 0
                for stream, count in zip(streams, counts):
                    filled = stream.fill(batch, filled, int(count))
                if filled == 0 or (self.drop_last and filled < self.batch_size):
                    return
                yield {key: value[:filled] for key, value in tensors.items()}
        finally:
            for stream in streams:
                stream.close()

    def _new_batch(self, size: int, in_worker: bool) -> tuple[dict, dict]:
        """(numpy arrays to fill, the same memory as torch tensors)."""
        if in_worker:  # straight into shared memory, which the batch crosses to the trainer in
            return shared_batch(size, self.mixture.frame_shape, self.hidden_width)
        batch = empty_batch(size, self.mixture.frame_shape, self.hidden_width)
        return batch, {key: torch.from_numpy(value) for key, value in batch.items()}

    def _balanced_streams(self, part: int, reader: BlockReader, rng) -> list[BlockStream]:
        streams = []
        for game_id, blocks in enumerate(self.blocks):
            order = block_order(len(blocks), self.seed, self.epoch, game_id + 1, self.shuffle)
            mine = split_evenly(self.mixture.datasets, [blocks[i] for i in order], self._parts)[part]
            if not mine:  # a game with fewer steps than parts: every part cycles all of it
                mine = [blocks[i] for i in order]
            group = self._group_size(len(self.blocks), _block_len(mine))
            streams.append(BlockStream(mine, reader, group, rng, self.shuffle, True, self.read_ahead))
        return streams

    def _counts(self, index: int, num_streams: int) -> np.ndarray:
        """Samples per stream in batch `index`: the batch split evenly, the remainder rotating."""
        if num_streams == 1:
            return np.array([self.batch_size])
        base, extra = divmod(self.batch_size, num_streams)
        return np.array([base + ((g - index) % num_streams < extra) for g in range(num_streams)])


def _block_len(blocks: list) -> int:
    return max((b.stop - b.start for b in blocks), default=1)


class TeacherLoader(DataLoader):
    """A DataLoader over a `TeacherStream`; iterating it again starts the next epoch."""

    def __init__(self, stream: TeacherStream, multiprocessing_context: str | None, pin_memory: bool):
        super().__init__(
            stream,
            batch_size=None,
            num_workers=stream.num_workers,
            multiprocessing_context=multiprocessing_context if stream.num_workers else None,
            pin_memory=pin_memory,
        )
        self.stream = stream  # also `self.dataset`, which DataLoader types as any Dataset
        self._started = False
        self._epoch_was_set = False
        self._skip = 0  # batches the next iteration reads and drops

    def set_epoch(self, epoch: int) -> None:
        """The epoch the next iteration serves (fixes its order)."""
        self.stream.set_epoch(epoch)
        self._epoch_was_set = True

    def start_at(self, epoch: int, batch: int) -> None:
        """The next iteration serves `epoch` from its batch number `batch` on: what an
        iteration interrupted after `batch` batches had still to serve. The batches before
        are read and dropped (the order depends on the blocks read), which costs about
        batch * batch_size / 350k seconds."""
        if batch < 0:
            raise ValueError(f"batch must be >= 0, got {batch}")
        self.set_epoch(epoch)
        self._skip = batch

    @property
    def epoch(self) -> int:
        return self.stream.epoch

    def __iter__(self):
        if self._started and not self._epoch_was_set:
            self.stream.set_epoch(self.stream.epoch + 1)
        self._started, self._epoch_was_set = True, False
        self.stream.resolve_distributed()  # before workers copy the stream
        batches = _OneLineErrors(super().__iter__())
        skip, self._skip = self._skip, 0
        for _ in range(skip):
            if next(batches, None) is None:
                break
        return batches


class _OneLineErrors:
    """Batches of a DataLoader iterator; a UserError raised in a worker process (a damaged
    chunk, NaN values) comes back as the worker's one-line message. (torch re-raises it with
    the worker's whole traceback folded into the message.)"""

    def __init__(self, iterator):
        self.iterator = iterator

    def __iter__(self):
        return self

    def __len__(self) -> int:
        return len(self.iterator)

    def __next__(self):
        try:
            return next(self.iterator)
        except UserError as error:
            lines = str(error).strip().splitlines()
            if len(lines) < 2 or "Original Traceback" not in str(error):
                raise
            message = lines[-1].split(": ", 1)[-1]  # "package.module.UserError: message"
            raise type(error)(message) from None


def make_loader(
    data: TeacherDataset | TeacherMixture,
    batch_size: int = 256,
    *,
    seed: int = 0,
    shuffle: bool = True,
    shuffle_buffer: int = 16384,
    num_workers: int = 0,
    drop_last: bool = False,
    samples_per_game: int | None = None,
    block_chunks: int = 4,
    rank: int | None = None,
    world_size: int | None = None,
    epoch: int = 0,
    multiprocessing_context: str = "spawn",
    pin_memory: bool = False,
    read_ahead: bool = True,
    with_hidden: bool = True,
) -> TeacherLoader:
    """A DataLoader of batches (dict of tensors, batch.py) from a dataset or a mixture.

    shuffle_buffer: steps each worker shuffles among (at least 2 blocks per game; a block
        is `block_chunks` chunks of the store, 4096 steps by default, about 40 MB
        decompressed with 512 float32 activations). With read_ahead the next group is read
        meanwhile, so up to twice that is in memory per worker.
    num_workers: DataLoader worker processes. Each batch then crosses to the trainer through
        shared memory, which costs tens of milliseconds per batch of 256 on a small machine
        (benchmarks/bench_loading.py --workers N): with few cores, 0 (reading in this
        process, plus the read-ahead thread) is fastest. Scripts using workers need an
        `if __name__ == "__main__":` guard (the default "spawn" start method re-imports them).
    samples_per_game: length of a balanced epoch per game (see the module docstring).
    rank, world_size: this process's DDP share; default from torch.distributed.
    read_ahead: read the next group of blocks in a background thread while this one is
        served (decompression releases the GIL; it pays when a core is free).
    with_hidden: False skips the expert activations (batches hold `hidden` of shape (B, 0)):
        for policy-regression-only training, it halves the reading work.
    """
    if isinstance(data, TeacherDataset):
        data = TeacherMixture([data], weighting="proportional")
    if not isinstance(data, TeacherMixture):
        raise UserError(f"make_loader takes a TeacherDataset or TeacherMixture, not {type(data).__name__}")
    for name, value, low in (
        ("batch_size", batch_size, 1), ("num_workers", num_workers, 0), ("shuffle_buffer", shuffle_buffer, 1),
        ("block_chunks", block_chunks, 1),
        ("samples_per_game", 1 if samples_per_game is None else samples_per_game, 1),
    ):  # fmt: skip
        if not isinstance(value, (int, np.integer)) or value < low:
            raise UserError(f"{name} must be a whole number >= {low}, got {value!r}")
    if (rank is None) != (world_size is None):
        raise UserError("give both rank and world_size, or neither (then torch.distributed decides)")
    if rank is not None and world_size is not None and not 0 <= rank < world_size:
        raise UserError(f"rank must lie in 0..{world_size - 1}, got {rank}")
    stream = TeacherStream(
        data, batch_size, seed, shuffle, shuffle_buffer, block_chunks, drop_last,
        samples_per_game, num_workers, rank, world_size, read_ahead, with_hidden,
    )  # fmt: skip
    stream.set_epoch(epoch)
    return TeacherLoader(stream, multiprocessing_context, pin_memory)
