"""Reading blocks, and drawing shuffled samples from them through a bounded buffer.

`BlockReader.load` decompresses one block with one contiguous read per array, checks its
Q-values and activations are finite, and keeps the few frames before the block as a separate
`context` (taken from the previous block's tail when this process just read it, so the chunk
before the block is not decompressed again). `BlockStream` holds `group_size` blocks at a
time, serves their held steps in a random order, and frees them before loading the next
group: memory stays at `group_size` blocks however large the dataset.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from actor_mimic.datasets.batch import GameLayout, write_values
from actor_mimic.datasets.block_stacks import gather_stacks
from actor_mimic.datasets.blocks import Block, held_steps, interleave_windows

MAX_CACHED_TAILS = 1024  # frames before a block: (stack_size-1) frames each, a few MB in all


@dataclass
class LoadedBlock:
    block: Block
    frames: np.ndarray  # uint8 (stop-start, H, W): steps start..stop-1
    context: np.ndarray  # uint8 (C, H, W): steps start-C..start-1 of start's episode
    steps: np.ndarray  # int64 (N,): the held steps
    episode_starts: np.ndarray  # int64 (N,): first step of each held step's episode
    indices: np.ndarray  # int64 (N,): the held steps' indices in their game's dataset
    q_values: np.ndarray  # float32 (stop-start, A)
    hidden: np.ndarray  # float32 (U, H): the distinct activation rows of steps start..stop-1
    hidden_index: np.ndarray  # int64 (stop-start,): each step's row in `hidden`
    actions: np.ndarray  # int16 (stop-start,): indices into the action set


class BlockReader:
    """Loads blocks of a mixture's datasets and writes their samples into batches."""

    def __init__(self, datasets: list, with_hidden: bool = True):
        self.datasets = datasets
        self.layouts = [GameLayout(game_id, ds.action_set) for game_id, ds in enumerate(datasets)]
        self.with_hidden = with_hidden  # False: skip the activations, about half the reading
        self._tails: dict[tuple[int, int, int], np.ndarray] = {}

    def keep_windows(self, blocks: list[Block], count: int) -> None:
        """Keep the decoded activation chunks of `count` windows per shard these blocks lie
        in: a stream serving `count` windows at a time then decodes each chunk once."""
        for game_id, shard_id in {(block.game_id, block.shard_id) for block in blocks}:
            self.datasets[game_id].shards[shard_id].keep_activation_windows(count)

    def load(self, block: Block) -> LoadedBlock:
        dataset = self.datasets[block.game_id]
        shard = dataset.shards[block.shard_id]
        steps, episode_starts = held_steps(dataset, block)
        frames = shard.read("frames", block.start, block.stop)
        context = self._context(block, shard, int(episode_starts[0]))
        key = (block.game_id, block.shard_id, block.stop)
        if len(self._tails) >= MAX_CACHED_TAILS:
            self._tails.clear()
        self._tails[key] = frames[-(shard.stack_size - 1) :].copy() if shard.stack_size > 1 else frames[:0]
        q_values = shard.values("q_values", block.start, block.stop)
        if self.with_hidden:
            hidden, hidden_index = shard.activations(block.start, block.stop)
        else:
            hidden = np.zeros((block.stop - block.start, 0), dtype=np.float32)
            hidden_index = np.arange(block.stop - block.start, dtype=np.int64)
        actions = shard.read("actions", block.start, block.stop)
        indices = dataset.indices_of(block.shard_id, steps)
        return LoadedBlock(
            block, frames, context, steps, episode_starts, indices, q_values, hidden, hidden_index, actions
        )

    def _context(self, block: Block, shard, episode_start: int) -> np.ndarray:
        """Frames of the block's first episode just before the block (at most stack_size-1)."""
        count = min(shard.stack_size - 1, block.start - episode_start)
        if count <= 0:
            return np.zeros((0, *shard.frame_shape[1:]), dtype=np.uint8)
        tail = self._tails.get((block.game_id, block.shard_id, block.start))
        if tail is not None and len(tail) >= count:
            return tail[len(tail) - count :]
        return shard.read("frames", block.start - count, block.start)

    def write(self, loaded: LoadedBlock, picks: np.ndarray, batch: dict, position: int) -> int:
        """Write the held steps `picks` (indices into loaded.steps) at batch rows from
        `position`; returns the next free row."""
        block = loaded.block
        stop = position + len(picks)
        steps = loaded.steps[picks]
        gather_stacks(
            loaded.frames,
            block.start,
            steps,
            loaded.episode_starts[picks],
            stack_size=batch["frames"].shape[1],
            context=loaded.context,
            out=batch["frames"][position:stop],
        )
        rows = steps - block.start
        layout = self.layouts[block.game_id]
        hidden_rows = loaded.hidden_index[rows]
        write_values(batch, position, layout, loaded.q_values, loaded.hidden, loaded.actions, rows, hidden_rows)
        batch["index"][position:stop] = loaded.indices[picks]
        return stop


class BlockStream:
    """The held steps of a sequence of blocks, `group_size` blocks in memory at a time.

    Each group's steps are served in a random order (or stored order if not `shuffle`).
    With `cycle`, the blocks are served again, in a fresh order, when they run out. With
    `prefetch`, the next group is read by a background thread while this one is served
    (decompression releases the GIL), so two groups are in memory at most.
    """

    def __init__(
        self, blocks: list[Block], reader: BlockReader, group_size: int, rng, shuffle: bool, cycle: bool,
        prefetch: bool = True,
    ):  # fmt: skip
        self.blocks = list(blocks)
        self.reader = reader
        self.group_size = max(1, group_size)
        self.rng = rng
        self.shuffle = shuffle
        self.cycle = cycle and bool(self.blocks)
        reader.keep_windows(self.blocks, self.group_size)
        self._queue = self._ordered(self.blocks)
        self._group: list[LoadedBlock] = []
        self._order = np.zeros(0, dtype=np.int64)
        self._sample_block = self._sample_row = self._order
        self._cursor = 0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="amn-read") if prefetch else None
        self._pending: Future | None = None

    def close(self) -> None:
        """Stop the background reader (a pending read is dropped)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self._pending = None

    def _ordered(self, blocks: list[Block]) -> list[Block]:
        if not self.shuffle:
            return list(blocks)
        return interleave_windows(blocks, self.group_size, self.rng)

    def _take_group(self) -> list[Block]:
        """The next group's blocks, in stored order (a block right after another in the
        store then reuses that one's tail as context); empty when the stream has run out."""
        if not self._queue and self.cycle:
            self._queue = self._ordered(self.blocks)
        chosen, self._queue = self._queue[: self.group_size], self._queue[self.group_size :]
        return sorted(chosen, key=lambda b: (b.game_id, b.shard_id, b.start))

    def _load(self, blocks: list[Block]) -> list[LoadedBlock]:
        return [self.reader.load(block) for block in blocks]

    def _next_group(self) -> bool:
        self._group = []  # free the group served last
        if self._pending is not None:
            group, self._pending = self._pending.result(), None
        else:
            group = self._load(self._take_group())
        if not group:
            return False
        self._group = group
        if self._pool is not None:
            upcoming = self._take_group()
            if upcoming:
                self._pending = self._pool.submit(self._load, upcoming)
        sizes = [len(loaded.steps) for loaded in self._group]
        self._sample_block = np.repeat(np.arange(len(sizes)), sizes)
        self._sample_row = np.concatenate([np.arange(n) for n in sizes])
        total = len(self._sample_block)
        self._order = self.rng.permutation(total) if self.shuffle else np.arange(total)
        self._cursor = 0
        return True

    def fill(self, batch: dict, position: int, count: int) -> int:
        """Write up to `count` samples into batch rows from `position`; returns the next free
        row (less than position+count only when the stream has run out)."""
        end = position + count
        while position < end:
            if self._cursor >= len(self._order) and not self._next_group():
                break
            take = min(end - position, len(self._order) - self._cursor)
            picks = self._order[self._cursor : self._cursor + take]
            self._cursor += take
            owners = self._sample_block[picks]
            for index, loaded in enumerate(self._group):
                mine = picks[owners == index]
                if len(mine):
                    position = self.reader.write(loaded, self._sample_row[mine], batch, position)
        return position
