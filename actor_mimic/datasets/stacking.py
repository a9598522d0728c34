"""Rebuilding frame stacks from frames stored once.

A store keeps only the newest frame of each observation. The observation at step t is the
stack of frames t-(K-1) .. t, oldest first, where any position before the start of t's
episode is a zero frame: exactly what the environment itself returns after a reset
(`actor_mimic.common.atari`), and never a frame of the previous episode.
"""

from __future__ import annotations

import numpy as np


def episode_start_of_steps(
    episode_starts: np.ndarray, episode_lengths: np.ndarray, steps: np.ndarray
) -> np.ndarray:
    """int64 (N,): the first step of the episode that contains each of `steps`.

    episode_starts, episode_lengths: (E,) the episode table, sorted by start.
    """
    episode = np.searchsorted(episode_starts, steps, side="right") - 1
    if np.any(episode < 0) or np.any(steps >= episode_starts[episode] + episode_lengths[episode]):
        raise IndexError("a step lies outside every episode of the table")
    return episode_starts[episode]


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
    steps = np.asarray(steps, dtype=np.int64)
    offsets = steps[:, None] - np.arange(stack_size - 1, -1, -1, dtype=np.int64)[None, :]
    inside = offsets >= np.asarray(step_episode_starts, dtype=np.int64)[:, None]
    local = np.where(inside, offsets - first_index, 0)
    if inside.any() and (local[inside].min() < 0 or local[inside].max() >= len(frames)):
        raise IndexError("the frames given do not cover the stacks asked for")
    stacks = frames[local]
    stacks[~inside] = 0
    return stacks
