"""Rebuilding frame stacks from frames stored once.

A store keeps only the newest frame of each observation. The observation at step t is the
stack of frames t-(K-1) .. t, oldest first, where any position before the start of t's
episode is a zero frame (the rule, `stack_offsets`, is common/stacking.py's: the DQN's replay
memory rebuilds its stacks by it too).

The loader reads whole blocks of consecutive frames; the few frames just before a block
(needed only by the first K-1 steps of an episode that began before the block) come as a
separate small `context` array, so a block never has to be copied to prepend them.
"""

from __future__ import annotations

import numpy as np

from actor_mimic.common.stacking import stack_offsets


def episode_start_of_steps(episode_starts: np.ndarray, episode_lengths: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """int64 (N,): the first step of the episode that contains each of `steps`.

    episode_starts, episode_lengths: (E,) the episode table, sorted by start.
    """
    steps = np.asarray(steps, dtype=np.int64)
    episode = np.searchsorted(episode_starts, steps, side="right") - 1
    if np.any(episode < 0) or np.any(steps >= episode_starts[episode] + episode_lengths[episode]):
        raise IndexError("a step lies outside every episode of the table")
    return np.asarray(episode_starts, dtype=np.int64)[episode]


def gather_stacks(
    frames: np.ndarray,
    first_index: int,
    steps: np.ndarray,
    step_episode_starts: np.ndarray,
    stack_size: int = 4,
    context: np.ndarray | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """uint8 (N, stack_size, H, W): the observation at each of `steps`, written into `out`.

    frames: (M, H, W) the stored frames of steps first_index .. first_index+M-1.
    context: (C, H, W) the frames of steps first_index-C .. first_index-1 (C < stack_size),
        needed wherever a stack reaches before `first_index` inside its episode.
    steps: (N,) absolute step indices; step_episode_starts: (N,) the first step of each
        step's episode.
    out: optional (N, stack_size, H, W) uint8 array to fill (e.g. a slice of a batch).
    """
    offsets, inside = stack_offsets(steps, step_episode_starts, stack_size)
    local = offsets - first_index
    num_context = 0 if context is None else len(context)
    needed = local[inside]
    if needed.size and (needed.min() < -num_context or needed.max() >= len(frames)):
        raise IndexError("the frames given do not cover the stacks asked for")
    if out is None:
        out = np.empty((len(offsets), stack_size, *frames.shape[1:]), dtype=frames.dtype)
    from_frames = inside & (local >= 0)
    # mode="clip" lets numpy write straight into `out` (mode="raise" buffers a copy); the
    # indices were checked above, and positions outside the episode are overwritten below.
    np.take(frames, np.where(from_frames, local, 0), axis=0, out=out, mode="clip")
    if not from_frames.all():
        out[~inside] = 0
        from_context = inside & (local < 0)
        if from_context.any():
            rows, positions = np.nonzero(from_context)
            assert context is not None  # needed.min() < -num_context refused above
            out[rows, positions] = context[num_context + local[rows, positions]]
    return out


def build_stacks(
    frames: np.ndarray,
    first_index: int,
    steps: np.ndarray,
    step_episode_starts: np.ndarray,
    stack_size: int = 4,
) -> np.ndarray:
    """uint8 (N, stack_size, H, W): the observation at each of `steps`.

    frames: (M, H, W) the stored frames of steps first_index .. first_index+M-1; they must
        cover steps[i]-(stack_size-1) wherever that is still inside steps[i]'s episode.
    steps: (N,) absolute step indices.
    step_episode_starts: (N,) the first step of each step's episode.
    """
    return gather_stacks(frames, first_index, steps, step_episode_starts, stack_size)
