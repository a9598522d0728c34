"""gather_stacks rebuilds the live observations from single frames, with or without context."""

import numpy as np
import pytest

from actor_mimic.datasets import TeacherDataset
from actor_mimic.datasets.block_stacks import build_stacks, episode_start_of_steps, gather_stacks


def test_blocks_with_context_rebuild_the_live_stacks(breakout_zarr, breakout_live):
    ds = TeacherDataset(breakout_zarr)
    frames = breakout_live[:, -1]  # the newest frame of each live observation, as stored
    shard = ds.shards[0]
    starts = episode_start_of_steps(shard.episode_starts, shard.episode_lengths, np.arange(700))
    assert np.array_equal(build_stacks(frames, 0, np.arange(700), starts), breakout_live)
    episode_start = int(shard.episode_starts[1])
    for block_start in (episode_start, episode_start + 1, episode_start + 2, episode_start + 3, episode_start + 50):
        block_stop = min(block_start + 64, 700)
        steps = np.arange(block_start, block_stop)
        context_len = min(3, block_start - episode_start)
        context = frames[block_start - context_len : block_start]
        out = np.full((len(steps), 4, 84, 84), 7, np.uint8)  # stale contents must be overwritten
        gather_stacks(frames[block_start:block_stop], block_start, steps, starts[steps], context=context, out=out)
        assert np.array_equal(out, breakout_live[steps]), block_start
        if block_start > episode_start:  # mid-episode: the frames before the block are needed
            with pytest.raises(IndexError, match="do not cover"):
                gather_stacks(frames[block_start:block_stop], block_start, steps, starts[steps])
