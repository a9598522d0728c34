"""Cutting datasets into blocks of whole chunks, and dealing blocks to ranks and workers.

A *block* is a run of consecutive steps of one shard, aligned to the store's chunks (reading
whole chunks is 30-50x faster than reading steps one by one), narrowed to the steps the
dataset holds. Blocks are the unit of reading and of sharing out work: every DataLoader
worker of every DDP rank gets a disjoint share, decided by the seed and the epoch alone, so
each process computes the same plan without talking to the others. Shares are equal to
one step, so DDP ranks make the same number of batches.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from actor_mimic.datasets.teacher import TeacherDataset


@dataclass(frozen=True)
class Block:
    game_id: int
    shard_id: int
    start: int  # first held step of the block
    stop: int  # one past its last held step
    size: int  # held steps in start..stop-1 (fewer than stop-start after a split)
    window: int = 0  # the activation window (store/dedup.py) of the block's shard it lies in

    @property
    def window_key(self) -> tuple[int, int, int]:
        """(game, shard, window): blocks with the same key share their activations' chunks."""
        return self.game_id, self.shard_id, self.window


def plan_blocks(dataset: TeacherDataset, game_id: int, block_chunks: int) -> list[Block]:
    """The blocks of one game's dataset: `block_chunks` chunks each, in stored order. (In a
    schema 3 store a block's activations may lie anywhere earlier in their window,
    store/dedup.py: reading it decodes those chunks too, so the loader serves the blocks of
    a few windows at a time, `block_order` and `interleave_windows`, and keeps those
    windows' decoded chunks. Blocks of whole windows would read less, but measured slower:
    4x the steps held in memory.)"""
    blocks = []
    for shard_id, shard in enumerate(dataset.shards):
        starts, lengths = dataset.selected_intervals(shard_id)
        if len(starts) == 0:
            continue
        ends = starts + lengths
        block_len = shard.chunk_len * block_chunks
        window_len = shard.hidden_window or block_len  # schema 2: no shared chunks, each block alone
        windows = np.arange(0, shard.num_steps, block_len, dtype=np.int64)
        window_stops = np.minimum(windows + block_len, shard.num_steps)
        first = np.searchsorted(ends, windows, side="right")  # first episode ending after
        last = np.searchsorted(starts, window_stops, side="left")  # one past the last starting before
        for window, window_stop, a, b in zip(windows, window_stops, first, last):
            if a >= b:
                continue  # no held episode overlaps this window
            low, high = max(window, starts[a]), min(window_stop, ends[b - 1])
            size = int(np.sum(np.minimum(ends[a:b], high) - np.maximum(starts[a:b], low)))
            blocks.append(Block(game_id, shard_id, int(low), int(high), size, int(window // window_len)))
    return blocks


def held_steps(dataset: TeacherDataset, block: Block) -> tuple[np.ndarray, np.ndarray]:
    """(steps, episode starts), int64 (N,): the held steps of a block and their episodes."""
    starts, lengths = dataset.selected_intervals(block.shard_id)
    ends = starts + lengths
    a = np.searchsorted(ends, block.start, side="right")
    b = np.searchsorted(starts, block.stop, side="left")
    low = np.maximum(starts[a:b], block.start)
    counts = np.minimum(ends[a:b], block.stop) - low
    first_of_run = np.cumsum(counts) - counts
    steps = np.repeat(low - first_of_run, counts) + np.arange(int(counts.sum()), dtype=np.int64)
    return steps, np.repeat(starts[a:b], counts)


def block_order(blocks: list[Block], seed: int, epoch: int, stream: int, shuffle: bool) -> np.ndarray:
    """The epoch's order of a list of blocks: a permutation fixed by (seed, epoch, stream)
    that keeps the blocks of each activation window together (windows in a random order,
    the blocks of each in a random order), so that ranks and workers, which take runs of
    this order, each get whole windows."""
    if not shuffle:
        return np.arange(len(blocks))
    rng = np.random.default_rng([seed, epoch, stream, 0xB10C])
    return np.array([i for window in _shuffled_windows(blocks, rng) for i in window], dtype=np.int64)


def interleave_windows(blocks: list[Block], slots: int, rng) -> list[Block]:
    """`blocks` in a random order in which every run of `slots` blocks holds blocks of
    `slots` different windows (while that many are left): each slot serves the blocks of one
    window, in a random order, then takes the next window. So a group of `slots` blocks is
    spread over the data like `slots` random blocks, and only `slots` windows are being read
    at any time (their decoded activation chunks are kept, not decoded again per block)."""
    queue = [[blocks[i] for i in window] for window in _shuffled_windows(blocks, rng)][::-1]
    active: list[list[Block]] = []
    out = []
    while queue or active:
        while len(active) < slots and queue:
            active.append(queue.pop())
        out += [window.pop() for window in active]
        active = [window for window in active if window]
    return out


def _shuffled_windows(blocks: list[Block], rng) -> list[list[int]]:
    """Positions in `blocks` grouped by window: the windows in a random order, the
    positions of each in a random order."""
    by_window: dict[tuple[int, int, int], list[int]] = {}
    for position, block in enumerate(blocks):
        by_window.setdefault(block.window_key, []).append(position)
    windows = list(by_window.values())
    return [[windows[w][i] for i in rng.permutation(len(windows[w]))] for w in rng.permutation(len(windows))]


def cut_block(dataset: TeacherDataset, block: Block, first: int, stop: int) -> Block:
    """The part of `block` holding its held steps number first..stop-1 (0 < stop <= size)."""
    if first == 0 and stop == block.size:
        return block
    steps, _ = held_steps(dataset, block)
    start, end = int(steps[first]), int(steps[stop - 1]) + 1
    return Block(block.game_id, block.shard_id, start, end, stop - first, block.window)


def split_evenly(datasets: list[TeacherDataset], blocks: list[Block], num_parts: int) -> list[list[Block]]:
    """`blocks` (in their epoch order) dealt into `num_parts` disjoint shares of equal size
    (to one step): part p takes steps p*N/P .. (p+1)*N/P-1 of the blocks laid end to end,
    so at most num_parts-1 blocks are cut in two and no part is a block short."""
    sizes = np.array([block.size for block in blocks], dtype=np.int64)
    ends = np.cumsum(sizes)
    total = int(ends[-1]) if len(ends) else 0
    bounds = [total * part // num_parts for part in range(num_parts + 1)]
    shares = []
    for low, high in itertools.pairwise(bounds):
        share = []
        first = int(np.searchsorted(ends, low, side="right"))
        for index in range(first, len(blocks)):
            block_start = int(ends[index] - sizes[index])
            if block_start >= high:
                break
            piece_low, piece_high = max(low, block_start) - block_start, min(high, int(ends[index])) - block_start
            share.append(cut_block(datasets[blocks[index].game_id], blocks[index], piece_low, piece_high))
        shares.append(share)
    return shares


def trim_to_equal_ranks(batches: np.ndarray) -> np.ndarray:
    """batches: int (world, workers), batches each worker can make. Returns how many each
    makes so that every rank makes the same number (the smallest rank's), cutting from a
    rank's last workers first: DDP ranks that yield different batch counts hang."""
    keep = batches.copy()
    target = int(batches.sum(axis=1).min())
    for rank in range(len(keep)):
        excess = int(keep[rank].sum()) - target
        for worker in range(keep.shape[1] - 1, -1, -1):
            cut = min(excess, int(keep[rank, worker]))
            keep[rank, worker] -= cut
            excess -= cut
    return keep
