"""The evaluation protocol on real ALE games: exact, seeded, masked."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from actor_mimic.common.atari import AtariConfig, action_set, make_env
from actor_mimic.common.checkpoint import random_init_expert
from actor_mimic.common.evaluation import (
    EvaluationResult,
    evaluate,
    greedy_env_actions,
    output_to_env_actions,
)
from actor_mimic.common.networks import NatureDQN
from actor_mimic.errors import UserError

torch.set_num_threads(1)
FIRE = 1


def constant_policy(num_outputs: int, favourite: int, trap: int | None = None) -> NatureDQN:
    """A real Nature DQN whose outputs ignore the frames: `favourite` scores 1, `trap` 100."""
    network = NatureDQN(num_outputs)
    with torch.no_grad():
        network.head.weight.zero_()
        network.head.bias.zero_()
        network.head.bias[favourite] = 1.0
        if trap is not None:
            network.head.bias[trap] = 100.0
    return network


def test_output_mapping_masks_actions_the_game_lacks():
    breakout = [0, 1, 3, 4]  # NOOP FIRE RIGHT LEFT
    valid, env_index = output_to_env_actions(list(range(18)), breakout)
    assert valid.tolist() == [i in breakout for i in range(18)]
    assert env_index[[0, 1, 3, 4, 2, 17]].tolist() == [0, 1, 2, 3, -1, -1]
    q_values = torch.zeros(2, 18)
    q_values[0, 17] = 50.0  # invalid in Breakout: must never be chosen
    q_values[0, 4] = 1.0
    q_values[1, 3] = 2.0
    assert greedy_env_actions(q_values, valid, env_index).tolist() == [3, 2]


def test_same_seed_same_returns_and_different_seed_differs():
    config = AtariConfig("breakout")
    expert = random_init_expert(config, seed=0)
    actions = expert.metadata.action_sets["breakout"]
    kwargs = dict(steps=600, epsilon=1.0, num_envs=4)
    first = evaluate(expert.network, config, actions, seed=3, **kwargs)
    second = evaluate(expert.network, config, actions, seed=3, **kwargs)
    other = evaluate(expert.network, config, actions, seed=4, **kwargs)
    assert first.to_dict() == second.to_dict()
    assert first.returns != other.returns or first.steps != other.steps or first.partial != other.partial
    assert first.steps == 600  # 600 is a multiple of 4 envs, and reset steps are not counted
    assert first.num_episodes == len(first.returns) or first.partial
    assert first.mean == pytest.approx(np.mean(first.returns))


def test_score_equals_a_hand_played_episode_on_the_reference_env():
    """Constant FIRE in Breakout with no no-ops, epsilon 0: the score is exactly the return of
    the same actions played through the single-env gymnasium path."""
    config = AtariConfig("breakout", noop_max=0)
    game_actions = list(action_set(config))
    env = make_env(config)
    env.reset(seed=0)
    expected, length, done = 0.0, 0, False
    while not done:
        _, reward, terminated, truncated, _ = env.step(game_actions.index(FIRE))
        expected += float(reward)
        length += 1
        done = terminated or truncated
    env.close()

    # An AMN-shaped network (18 outputs) whose best output is an action Breakout lacks.
    network = constant_policy(18, favourite=FIRE, trap=17)
    result = evaluate(network, config, list(range(18)), steps=None, episodes=1, epsilon=0.0, num_envs=4)
    assert isinstance(result, EvaluationResult)
    assert result.returns == [expected]
    assert result.num_episodes == 1 and not result.partial
    assert result.steps == length and result.num_envs == 1  # num_envs is capped at the episodes asked for
    assert result.lengths == [length] and result.num_truncated == 0, "the game ended it, not the time limit"
    assert (result.mean, result.std, result.min, result.max) == (expected, 0.0, expected, expected)


def test_episode_quota_gives_exactly_the_episodes_asked_for():
    config = AtariConfig("breakout", noop_max=0)
    network = constant_policy(4, favourite=1)  # FIRE in Breakout's action set
    result = evaluate(network, config, list(action_set(config)), steps=None, episodes=3, epsilon=0.0, num_envs=2)
    assert result.num_episodes == 3 and len(result.returns) == 3 and result.num_envs == 2
    # Deterministic game, no no-ops, no exploration: every episode plays out the same.
    assert len(set(result.returns)) == 1


def test_episodes_the_time_limit_cuts_are_counted_with_their_lengths():
    # 400 emulator frames at a frame skip of 4: Pong with NOOP lasts far longer.
    config = AtariConfig("pong", noop_max=0, max_episode_frames=400)
    network = constant_policy(6, favourite=0)
    result = evaluate(network, config, list(action_set(config)), steps=None, episodes=3, epsilon=0.0, num_envs=2)
    assert result.lengths == [100, 100, 100] and result.num_truncated == 3
    assert result.num_episodes == 3 and not result.partial


def test_partial_return_only_when_no_episode_completed():
    config = AtariConfig("pong")
    network = constant_policy(6, favourite=0)
    result = evaluate(network, config, list(action_set(config)), steps=40, epsilon=0.0, num_envs=2)
    assert result.partial and result.num_episodes == 0
    assert len(result.returns) == 2 and result.steps == 40


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(steps=None, episodes=None), "budget"),
        (dict(steps=0), "at least 1 step"),
        (dict(epsilon=1.5), "epsilon"),
        (dict(num_envs=0), "num_envs"),
    ],
)
def test_bad_arguments_raise_user_errors(kwargs, message):
    config = AtariConfig("pong")
    with pytest.raises(UserError, match=message):
        evaluate(constant_policy(6, 0), config, list(action_set(config)), **kwargs)


def test_network_without_any_valid_output_is_refused():
    config = AtariConfig("pong")
    with pytest.raises(UserError, match="none of the network's output actions"):
        evaluate(constant_policy(2, 0), config, [2, 5], steps=10)  # UP, DOWN: not Pong's ids
