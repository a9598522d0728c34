"""Reading blocks, and drawing shuffled samples from them through a bounded buffer.

`BlockReader.load` decompresses a group of blocks with one contiguous read per array and
block, each game's blocks into one array per field (so a batch is written with one gather per
game, not one per block), checks their Q-values and activations are finite, and puts the few
frames before each block (its `context`) just before its frames (taken from the previous
block's tail when this process just read it, so the chunk before the block is not
decompressed again). `BlockStream` holds `group_size` blocks at a time, serves their held
steps in a random order, and frees them before loading the next group: memory stays at
`group_size` blocks however large the dataset.
"""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from actor_mimic.common.stacking import stack_offsets
from actor_mimic.datasets.batch import GameLayout, write_values
from actor_mimic.datasets.blocks import Block, held_steps, interleave_windows

MAX_CACHED_TAILS = 1024  # frames before a block: (stack_size-1) frames each, a few MB in all
MAX_FREE_FRAME_ARRAYS = 4  # a stream holds two groups at most (one served, one read ahead)


@dataclass
class LoadedBlocks:
    """Blocks of one game, decoded: each field of all of them in one array.

    N: their held steps, block after block; M: all their steps (held or not).
    """

    game_id: int
    frames: np.ndarray  # uint8 (F, H, W): per block, its context frames, then its frames
    frame_shift: np.ndarray  # int64 (N,): a held step's position in `frames`, minus the step
    steps: np.ndarray  # int64 (N,): the held steps
    episode_starts: np.ndarray  # int64 (N,): first step of each held step's episode
    indices: np.ndarray  # int64 (N,): the held steps' indices in their game's dataset
    value_rows: np.ndarray  # int64 (N,): each held step's row in q_values and actions
    q_values: np.ndarray  # float32 (M, A)
    actions: np.ndarray  # int16 (M,): indices into the action set
    hidden: np.ndarray  # float32 (U, H): the blocks' distinct activation rows
    hidden_rows: np.ndarray  # int64 (N,): each held step's row in `hidden`


class BlockReader:
    """Loads blocks of a mixture's datasets and writes their samples into batches."""

    def __init__(self, datasets: list, with_hidden: bool = True):
        self.datasets = datasets
        self.layouts = [GameLayout(game_id, ds.action_set) for game_id, ds in enumerate(datasets)]
        self.with_hidden = with_hidden  # False: skip the activations, about half the reading
        self._tails: dict[tuple[int, int, int], np.ndarray] = {}
        # Frame arrays of groups served and released, for the next groups to decode into: a
        # fresh array of ~100 MB costs the kernel zeroing every page of it, for each group.
        self._free_frames: list[np.ndarray] = []
        self._free_lock = threading.Lock()

    def keep_windows(self, blocks: list[Block], count: int) -> None:
        """Keep the decoded activation chunks of `count` windows per shard these blocks lie
        in: a stream serving `count` windows at a time then decodes each chunk once."""
        for game_id, shard_id in {(block.game_id, block.shard_id) for block in blocks}:
            self.datasets[game_id].shards[shard_id].keep_activation_windows(count)

    def load(self, blocks: list[Block]) -> list[LoadedBlocks]:
        """`blocks` (sorted by game) decoded, one LoadedBlocks per game."""
        return [self._load_game(list(group)) for _, group in itertools.groupby(blocks, key=lambda b: b.game_id)]

    def _load_game(self, blocks: list[Block]) -> LoadedBlocks:
        dataset = self.datasets[blocks[0].game_id]
        shards = [dataset.shards[block.shard_id] for block in blocks]
        held = [held_steps(dataset, block) for block in blocks]
        contexts = [
            max(0, min(shard.stack_size - 1, block.start - int(episode_starts[0])))
            for block, shard, (_, episode_starts) in zip(blocks, shards, held)
        ]
        frames = self._frames_buffer(
            (sum(c + block.stop - block.start for c, block in zip(contexts, blocks)), *shards[0].frame_shape[1:])
        )
        hidden, plans = self._hidden_of(blocks, shards)
        position, shifts, q_values, actions, hidden_rows, value_rows = 0, [], [], [], [], []
        values_before = hidden_before = 0
        for block, shard, (steps, _), context, plan in zip(blocks, shards, held, contexts, plans):
            length = block.stop - block.start
            self._context_into(block, shard, frames[position : position + context])
            position += context
            mine = shard.read_frames_into(block.start, block.stop, frames[position : position + length])
            key = (block.game_id, block.shard_id, block.stop)
            if len(self._tails) >= MAX_CACHED_TAILS:
                self._tails.clear()
            self._tails[key] = mine[len(mine) - (shard.stack_size - 1) :].copy()
            shifts.append(np.full(len(steps), position - block.start, dtype=np.int64))
            position += length
            q_values.append(shard.values("q_values", block.start, block.stop))
            actions.append(shard.read("actions", block.start, block.stop))
            value_rows.append(steps - block.start + values_before)
            values_before += length
            if plan is not None:  # straight into the group's array: no copy of the widest field
                stored, index = plan
                shard.activations_into(stored, index, block.start, hidden[hidden_before : hidden_before + len(stored)])
                hidden_rows.append(index[steps - block.start] + hidden_before)
                hidden_before += len(stored)
        all_value_rows = np.concatenate(value_rows)
        return LoadedBlocks(
            game_id=blocks[0].game_id,
            frames=frames,
            frame_shift=np.concatenate(shifts),
            steps=np.concatenate([steps for steps, _ in held]),
            episode_starts=np.concatenate([starts for _, starts in held]),
            indices=np.concatenate([dataset.indices_of(b.shard_id, steps) for b, (steps, _) in zip(blocks, held)]),
            value_rows=all_value_rows,
            q_values=np.concatenate(q_values),
            actions=np.concatenate(actions),
            hidden=hidden,
            hidden_rows=np.concatenate(hidden_rows) if self.with_hidden else all_value_rows,
        )

    def _frames_buffer(self, shape: tuple[int, int, int]) -> np.ndarray:
        """uint8 `shape`: the front of a released frame array large enough, or a new one."""
        size = int(np.prod(shape))
        with self._free_lock:
            for position, buffer in enumerate(self._free_frames):
                if buffer.size >= size:
                    del self._free_frames[position]
                    return buffer[:size].reshape(shape)
        return np.empty(shape, dtype=np.uint8)

    def release(self, loaded: list[LoadedBlocks]) -> None:
        """Give back the frame arrays of groups served: nothing may read them after this."""
        with self._free_lock:
            for group in loaded:
                whole = group.frames.base if group.frames.base is not None else group.frames
                if len(self._free_frames) < MAX_FREE_FRAME_ARRAYS:
                    self._free_frames.append(whole.reshape(-1))

    def _hidden_of(self, blocks: list[Block], shards: list) -> tuple[np.ndarray, list]:
        """(hidden, plans): the float32 array the blocks' distinct activation rows are decoded
        into, and per block its (stored rows, index) (`Shard.activation_rows`); None without
        activations. float16 rows are converted here, on the reading thread: batches are then
        written with one gather, on the thread the trainer waits for (measured 0.3-1 us per
        sample less there than gathering float16 and converting)."""
        if not self.with_hidden:
            steps = sum(block.stop - block.start for block in blocks)
            return np.zeros((steps, 0), dtype=np.float32), [None] * len(blocks)
        plans = [shard.activation_rows(block.start, block.stop) for block, shard in zip(blocks, shards)]
        return np.empty((sum(len(stored) for stored, _ in plans), shards[0].hidden_size), dtype=np.float32), plans

    def _context_into(self, block: Block, shard, out: np.ndarray) -> None:
        """The len(out) frames just before the block (of its first episode) into `out`."""
        count = len(out)
        if count == 0:
            return
        tail = self._tails.get((block.game_id, block.shard_id, block.start))
        if tail is not None and len(tail) >= count:
            out[...] = tail[len(tail) - count :]
        else:
            out[...] = shard.read("frames", block.start - count, block.start)

    def write(self, loaded: LoadedBlocks, picks: np.ndarray, batch: dict, position: int) -> int:
        """Write the held steps `picks` (indices into loaded.steps) at batch rows from
        `position`; returns the next free row."""
        stop = position + len(picks)
        out = batch["frames"][position:stop]
        offsets, inside = stack_offsets(loaded.steps[picks], loaded.episode_starts[picks], out.shape[1])
        local = offsets + loaded.frame_shift[picks][:, None]
        needed = local[inside]
        if needed.size and (needed.min() < 0 or needed.max() >= len(loaded.frames)):
            raise IndexError("the frames loaded do not cover the stacks asked for")
        # mode="clip" lets numpy write straight into `out` (checked just above); positions
        # before an episode's start are zeroed after.
        np.take(loaded.frames, np.where(inside, local, 0), axis=0, out=out, mode="clip")
        if not inside.all():
            out[~inside] = 0
        layout = self.layouts[loaded.game_id]
        rows, hidden_rows = loaded.value_rows[picks], loaded.hidden_rows[picks]
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
        self._group: list[LoadedBlocks] = []
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

    def _load(self, blocks: list[Block]) -> list[LoadedBlocks]:
        return self.reader.load(blocks) if blocks else []

    def _next_group(self) -> bool:
        self.reader.release(self._group)  # the group served last: its frames are reused
        self._group = []
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
