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
from actor_mimic.datasets.loader_settings import LoaderSettings
from actor_mimic.datasets.mixture import TeacherMixture
from actor_mimic.datasets.reader import BlockReader, BlockStream
from actor_mimic.datasets.teacher import TeacherDataset
from actor_mimic.errors import UserError


def resolve_distributed(settings: LoaderSettings) -> tuple[int, int]:
    """(rank, world_size) of this process: as the settings give it, else torch.distributed's
    when it is initialised, else (0, 1). Asked anew for every epoch and len(), since a loader
    may be made before DDP starts."""
    if settings.rank is not None and settings.world_size is not None:
        return settings.rank, settings.world_size
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class TeacherStream(IterableDataset):
    """The batches of one rank: an IterableDataset of ready-made batches (batch_size=None)."""

    def __init__(self, mixture: TeacherMixture, settings: LoaderSettings):
        self.mixture = mixture
        self.settings = settings
        self.hidden_width = mixture.hidden_size if settings.with_hidden else 0
        self.balanced = mixture.weighting == "balanced" and len(mixture.games) > 1
        self.samples_per_game = settings.samples_per_game or max(len(ds) for ds in mixture.datasets)
        self.blocks = [plan_blocks(ds, game_id, settings.block_chunks) for game_id, ds in enumerate(mixture.datasets)]
        self.epoch = settings.epoch
        # The (rank, world_size) an iteration's worker processes serve: fixed by the loader
        # before they start (they are not part of the process group, so cannot ask it).
        self.placement: tuple[int, int] | None = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _placement(self) -> tuple[int, int]:
        if get_worker_info() is not None and self.placement is not None:
            return self.placement
        return resolve_distributed(self.settings)

    # ------------------------------------------------------------------ the epoch's plan
    def _parts(self, world_size: int) -> int:
        return world_size * max(1, self.settings.num_workers)

    def _group_size(self, streams: int, block_len: int) -> int:
        return max(2, math.ceil(self.settings.shuffle_buffer / streams / max(1, block_len)))

    def _proportional_shares(self, world_size: int) -> list[list]:
        """Per part (rank * workers + worker): its blocks, all games pooled."""
        pooled = [block for game_blocks in self.blocks for block in game_blocks]
        order = block_order(pooled, self.settings.seed, self.epoch, 0, self.settings.shuffle)
        return split_evenly(self.mixture.datasets, [pooled[i] for i in order], self._parts(world_size))

    def batches_per_worker(self, world_size: int) -> np.ndarray:
        """int (world_size, workers): batches each worker of each rank yields this epoch."""
        workers, batch_size = max(1, self.settings.num_workers), self.settings.batch_size
        if self.balanced:
            total = math.ceil(len(self.mixture.games) * self.samples_per_game / batch_size)
            per_rank = total // world_size if world_size > 1 else total
            counts = np.array([per_rank // workers + (w < per_rank % workers) for w in range(workers)])
            return np.tile(counts, (world_size, 1))
        sizes = np.array([sum(b.size for b in share) for share in self._proportional_shares(world_size)])
        rounding = np.floor if self.settings.drop_last else np.ceil
        batches = rounding(sizes / batch_size).astype(np.int64).reshape(world_size, workers)
        return trim_to_equal_ranks(batches) if world_size > 1 else batches

    def __len__(self) -> int:
        rank, world_size = resolve_distributed(self.settings)
        return int(self.batches_per_worker(world_size)[rank].sum())

    # ------------------------------------------------------------------ iteration
    def __iter__(self):
        settings = self.settings
        rank, world_size = self._placement()
        info = get_worker_info()
        worker = info.id if info is not None else 0
        part = rank * max(1, settings.num_workers) + worker
        num_batches = int(self.batches_per_worker(world_size)[rank, worker])
        rng = np.random.default_rng([settings.seed, self.epoch, part])
        reader = BlockReader(self.mixture.datasets, settings.with_hidden)
        if self.balanced:
            streams = self._balanced_streams(part, world_size, reader, rng)
        else:
            blocks = self._proportional_shares(world_size)[part]
            group = self._group_size(1, _block_len(blocks))
            streams = [BlockStream(blocks, reader, group, rng, settings.shuffle, False, settings.read_ahead)]
        try:
            for index in range(num_batches):
                counts = self._counts(index, len(streams))
                batch, tensors = self._new_batch(int(counts.sum()), in_worker=info is not None)
                filled = 0
                for stream, count in zip(streams, counts):
                    filled = stream.fill(batch, filled, int(count))
                if filled == 0 or (settings.drop_last and filled < settings.batch_size):
                    return
                if filled < len(batch["index"]):  # the stream ran out: a short last batch
                    tensors = {key: value[:filled] for key, value in tensors.items()}
                yield tensors
        finally:
            for stream in streams:
                stream.close()

    def _new_batch(self, size: int, in_worker: bool) -> tuple[dict, dict]:
        """(numpy arrays to fill, the same memory as torch tensors)."""
        if in_worker:  # straight into shared memory, which the batch crosses to the trainer in
            return shared_batch(size, self.mixture.frame_shape, self.hidden_width)
        batch = empty_batch(size, self.mixture.frame_shape, self.hidden_width)
        return batch, {key: torch.from_numpy(value) for key, value in batch.items()}

    def _balanced_streams(self, part: int, world_size: int, reader: BlockReader, rng) -> list[BlockStream]:
        settings, streams = self.settings, []
        for game_id, blocks in enumerate(self.blocks):
            order = block_order(blocks, settings.seed, self.epoch, game_id + 1, settings.shuffle)
            mine = split_evenly(self.mixture.datasets, [blocks[i] for i in order], self._parts(world_size))[part]
            if not mine:  # a game with fewer steps than parts: every part cycles all of it
                mine = [blocks[i] for i in order]
            group = self._group_size(len(self.blocks), _block_len(mine))
            streams.append(BlockStream(mine, reader, group, rng, settings.shuffle, True, settings.read_ahead))
        return streams

    def _counts(self, index: int, num_streams: int) -> np.ndarray:
        """Samples per stream in batch `index`: the batch split evenly, the remainder rotating."""
        if num_streams == 1:
            return np.array([self.settings.batch_size])
        base, extra = divmod(self.settings.batch_size, num_streams)
        return np.array([base + ((g - index) % num_streams < extra) for g in range(num_streams)])


def _block_len(blocks: list) -> int:
    return max((b.stop - b.start for b in blocks), default=1)


class TeacherLoader(DataLoader):
    """A DataLoader over a `TeacherStream`; iterating it again starts the next epoch."""

    def __init__(self, stream: TeacherStream):
        settings = stream.settings
        super().__init__(
            stream,
            batch_size=None,
            collate_fn=_as_is,  # batches are made whole by the stream (the default walks every field)
            num_workers=settings.num_workers,
            multiprocessing_context=settings.multiprocessing_context if settings.num_workers else None,
            pin_memory=settings.pin_memory,
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
        self.stream.placement = resolve_distributed(self.stream.settings)  # before workers copy the stream
        batches = _OneLineErrors(super().__iter__())
        skip, self._skip = self._skip, 0
        for _ in range(skip):
            if next(batches, None) is None:
                break
        return batches


def _as_is(batch):
    return batch


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
    batch_size: int | None = None,
    *,
    settings: LoaderSettings | None = None,
    **options,
) -> TeacherLoader:
    """A DataLoader of batches (dict of tensors, batch.py) from a dataset or a mixture.

    settings: a `LoaderSettings` (loader_settings.py says what each field does); default:
        its defaults (batch_size 256, seed 0, shuffled, no worker processes, ...).
    batch_size, options: fields of LoaderSettings, overriding `settings`:
        `make_loader(mix, 256, seed=0, num_workers=2)`.
    """
    if isinstance(data, TeacherDataset):
        data = TeacherMixture([data], weighting="proportional")
    if not isinstance(data, TeacherMixture):
        raise UserError(f"make_loader takes a TeacherDataset or TeacherMixture, not {type(data).__name__}")
    if batch_size is not None:
        options["batch_size"] = batch_size
    settings = (settings or LoaderSettings()).with_options(**options)
    return TeacherLoader(TeacherStream(data, settings))
