"""The replay memory rebuilds exactly the stacks the live environment returned."""

from __future__ import annotations

import numpy as np
import pytest

from actor_mimic.common.atari import AtariConfig, make_vector_env
from actor_mimic.transfer.replay import ReplayMemory

NUM_ENVS = 3


def _play(memory: ReplayMemory, vector_steps: int, max_episode_frames: int, seed: int = 0):
    """Random play in Breakout, written into `memory` the way the learner writes it.

    Returns the live observations (vector_steps + 1, N, K, H, W), and the actions, rewards and
    terminated / truncated flags of every step (vector_steps, N).
    """
    config = AtariConfig("breakout", max_episode_frames=max_episode_frames)
    env = make_vector_env(config, NUM_ENVS, num_threads=1)
    rng = np.random.default_rng(seed)
    frames, _ = env.reset(seed=seed)
    observations, actions_taken, rewards, terminated, truncated = [frames], [], [], [], []
    memory.add_observations(frames[:, -1], np.ones(NUM_ENVS, bool), np.zeros(NUM_ENVS, bool), np.zeros(NUM_ENVS, bool))
    resetting = np.zeros(NUM_ENVS, bool)
    for _ in range(vector_steps):
        actions = rng.integers(0, 4, size=NUM_ENVS)
        frames, reward, term, trunc, _ = env.step(actions)
        memory.record_step(actions, reward)
        ended = (term | trunc) & ~resetting
        memory.add_observations(frames[:, -1], resetting, ended, term & ended)
        resetting = ended
        observations.append(frames)
        actions_taken.append(actions)
        rewards.append(reward)
        terminated.append(term)
        truncated.append(trunc)
    env.close()
    return (np.stack(observations), np.stack(actions_taken), np.stack(rewards), np.stack(terminated),
            np.stack(truncated))  # fmt: skip


@pytest.fixture(scope="module")
def played():
    """Short episodes (truncated after 50 agent steps, some terminate earlier) and a ring
    that wraps around: 240 vector steps into 64 rows."""
    memory = ReplayMemory(capacity=64 * NUM_ENVS, num_envs=NUM_ENVS)
    return (memory, *_play(memory, 240, max_episode_frames=200))


def test_stacks_equal_the_live_observations_across_episode_boundaries(played):
    memory, observations, _, _, terminated, truncated = played
    assert memory.size == 64 and (terminated | truncated).sum() >= 2 * NUM_ENVS
    total = len(observations)
    checked = 0
    for logical in range(memory.stack_size - 1, memory.size):
        step = total - memory.size + logical  # which live observation this row holds
        for env in range(NUM_ENVS):
            stack = memory.stacks(np.array([logical]), np.array([env]))[0]
            np.testing.assert_array_equal(stack, observations[step, env])
            checked += 1
    assert checked == (64 - 3) * NUM_ENVS
    # The rows held include episode starts, so zero padding was exercised.
    assert memory.first.any()


def test_sampled_transitions_match_the_recorded_episode(played):
    memory, observations, actions, rewards, terminated, truncated = played
    total = len(observations)
    rng = np.random.default_rng(1)
    n_step, discount = 3, 0.9
    batch = memory.sample(256, rng, n_step=n_step, discount=discount, clip_rewards=True)
    ends = terminated | truncated
    for i in range(256):
        logical = (batch.rows[i] - memory.cursor) % memory.rows  # memory is full: oldest at cursor
        step, env = total - memory.size + logical, batch.envs[i]
        np.testing.assert_array_equal(batch.frames[i], observations[step, env])
        assert not (step > 0 and ends[step - 1, env]), "a transition started at a last observation"
        # Walk the live record: at most n steps, stopping at the episode's last observation.
        expected_return, k = 0.0, 0
        while True:
            expected_return += discount**k * np.clip(rewards[step + k, env], -1, 1)
            k += 1
            if ends[step + k - 1, env] or k == n_step:
                break
        np.testing.assert_array_equal(batch.next_frames[i], observations[step + k, env])
        assert batch.returns[i] == pytest.approx(expected_return, abs=1e-6)
        bootstrap = 0.0 if terminated[step + k - 1, env] else discount**k
        assert batch.bootstrap_discounts[i] == pytest.approx(bootstrap, abs=1e-7)
        assert batch.actions[i] == actions[step, env]


def test_no_transition_starts_at_a_last_observation():
    memory = ReplayMemory(capacity=32 * 2, num_envs=2)
    ones, zeros = np.ones(2, bool), np.zeros(2, bool)
    frame = np.zeros((2, 84, 84), np.uint8)
    for t in range(32):
        last = ones if t % 2 else zeros  # every other observation ends an episode
        memory.add_observations(frame + t, ~last, last, last)
        memory.record_step(np.array([t % 4, t % 4]), np.array([1.0, -2.0], np.float32))
    batch = memory.sample(500, np.random.default_rng(0), n_step=3, discount=0.5)
    assert not memory.last[batch.rows, batch.envs].any()
    # Each episode is one step long and terminal: the return is the clipped reward, no bootstrap.
    np.testing.assert_array_equal(batch.returns[batch.envs == 0], 1.0)
    np.testing.assert_array_equal(batch.returns[batch.envs == 1], -1.0)
    np.testing.assert_array_equal(batch.bootstrap_discounts, 0.0)


def test_save_and_load_round_trip(tmp_path, played):
    memory = played[0]
    memory.save(tmp_path)
    restored = ReplayMemory(capacity=64 * NUM_ENVS, num_envs=NUM_ENVS)
    restored.load(tmp_path)
    assert (restored.cursor, restored.size) == (memory.cursor, memory.size)
    for name in ("frames", "actions", "rewards", "first", "last", "terminal"):
        np.testing.assert_array_equal(getattr(restored, name), getattr(memory, name))
    a = memory.sample(16, np.random.default_rng(5), 3)
    b = restored.sample(16, np.random.default_rng(5), 3)
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.returns, b.returns)
