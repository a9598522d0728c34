"""What a store holds is what the live environment and the expert produced, exactly."""

from __future__ import annotations

import numpy as np
import torch

from actor_mimic.collect import CollectConfig, collect
from actor_mimic.common.atari import make_env
from actor_mimic.datasets.block_stacks import build_stacks, episode_start_of_steps
from tests.collect.conftest import BREAKOUT, assert_episode_table_consistent, read_store


def stored_stacks(arrays: dict) -> np.ndarray:
    steps = np.arange(len(arrays["frames"]))
    starts = episode_start_of_steps(arrays["episode_starts"], arrays["episode_lengths"], steps)
    return build_stacks(arrays["frames"], 0, steps, starts, BREAKOUT.stack_size)


def test_stacks_rewards_and_flags_replay_in_the_single_env(tmp_path, expert):
    """Replay each stored episode's actions through `make_env` (the reference path) and compare
    every rebuilt stack, reward, terminal flag and lives counter with the live ones."""
    path = collect(CollectConfig(expert=expert, out=tmp_path / "s.zarr", steps=700, num_envs=2, epsilon=1.0, seed=3))
    arrays, info = read_store(path)
    assert info.num_episodes >= 4, "the budget must cross several episode boundaries"
    assert_episode_table_consistent(arrays)
    stacks = stored_stacks(arrays)
    cut = set(arrays["cut_episodes"])
    env = make_env(BREAKOUT)
    for episode, (start, length) in enumerate(zip(arrays["episode_starts"], arrays["episode_lengths"])):
        observation, reset_info = env.reset(seed=0)
        lives = reset_info["lives"]
        for t in range(start, start + length):
            np.testing.assert_array_equal(stacks[t], observation, err_msg=f"step {t}")
            assert arrays["lives"][t] == lives
            observation, reward, terminated, truncated, step_info = env.step(int(arrays["actions"][t]))
            lives = step_info["lives"]
            assert arrays["rewards"][t] == reward
            assert arrays["terminated"][t] == terminated
            if t < start + length - 1 or episode not in cut:
                assert arrays["truncated"][t] == truncated
        if episode in cut:  # stopped by the budget: truncated in the store, running live
            assert arrays["truncated"][start + length - 1] and not terminated
        else:
            assert terminated or truncated
    env.close()


def expert_labels(expert, stacks: np.ndarray, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    with torch.inference_mode():
        pieces = [
            expert.network(torch.from_numpy(stacks[i : i + batch_size]), hidden_layer="fc")
            for i in range(0, len(stacks), batch_size)
        ]
    return torch.cat([q for q, _ in pieces]).numpy(), torch.cat([h for _, h in pieces]).numpy()


def test_stored_labels_are_the_experts_forward_pass_bit_for_bit(tmp_path, expert):
    """One env: the collector ran the float32 network on one stack at a time, and so does
    this check, so Q-values must be identical to the last bit, and the fc activations (stored
    as float16 by default) must be exactly the float16 rounding of the network's."""
    path = collect(CollectConfig(expert=expert, out=tmp_path / "s.zarr", steps=200, num_envs=1, epsilon=0.5, seed=1))
    arrays, _ = read_store(path)
    q_values, hidden = expert_labels(expert, stored_stacks(arrays), batch_size=1)
    assert arrays["q_values"].dtype == np.float32 and arrays["hidden"].dtype == np.float16
    np.testing.assert_array_equal(arrays["q_values"], q_values)
    np.testing.assert_array_equal(arrays["hidden"], hidden.astype(np.float16))
    assert arrays["q_values"].shape == (200, 4) and arrays["hidden"].shape == (200, 512)
    greedy = arrays["actions"] == arrays["q_values"].argmax(axis=1)
    assert 0.5 < greedy.mean() < 0.9, "epsilon 0.5 over 4 actions: ~5/8 of actions are greedy"


def test_batched_labels_match_within_float32_rounding(tmp_path, expert):
    """Several envs: the collector labelled the envs' stacks together (batch 3). CPU
    convolutions pick their summation order by batch size, so the same stack can differ in
    the last bits between batch 3 and any other batch: compare with a relative tolerance of
    2e-6 (a few float32 ulps) instead of bit equality."""
    path = collect(CollectConfig(expert=expert, out=tmp_path / "s.h5", steps=300, num_envs=3, epsilon=0.5, seed=1,
                                 hidden_dtype="float32"))  # fmt: skip
    arrays, _ = read_store(path)
    q_values, hidden = expert_labels(expert, stored_stacks(arrays), batch_size=64)
    np.testing.assert_allclose(arrays["q_values"], q_values, rtol=2e-6, atol=1e-7)
    np.testing.assert_allclose(arrays["hidden"], hidden, rtol=2e-6, atol=1e-7)
    assert not np.array_equal(arrays["hidden"], np.zeros_like(arrays["hidden"]))
