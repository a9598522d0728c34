"""The frame-stack rule, for everything that rebuilds stacks from frames stored once.

The observation at step t is the stack of frames t-(K-1) .. t, oldest first, where any
position before the start of t's episode is a zero frame: exactly what the environment itself
returns after a reset (`actor_mimic.common.atari`), and never a frame of the previous episode.
The teacher-store readers (datasets/block_stacks.py) and the DQN's replay memory
(transfer/replay.py) both keep one frame per step and rebuild stacks by this rule.
"""

from __future__ import annotations

import numpy as np


def stack_offsets(steps: np.ndarray, step_episode_starts: np.ndarray, stack_size: int):
    """(offsets, inside), both (N, stack_size): the step each stack position shows, oldest
    first, and whether that step is inside the episode (False means a zero frame).

    steps: (N,) step indices; step_episode_starts: (N,) the first step of each one's episode.
    """
    steps = np.asarray(steps, dtype=np.int64)
    offsets = steps[:, None] - np.arange(stack_size - 1, -1, -1, dtype=np.int64)[None, :]
    inside = offsets >= np.asarray(step_episode_starts, dtype=np.int64)[:, None]
    return offsets, inside
