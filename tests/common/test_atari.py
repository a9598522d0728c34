"""The shared environment: names, action sets, and the two paths giving identical stacks."""

import numpy as np
import pytest

from actor_mimic.common.atari import (
    AtariConfig,
    action_mask,
    action_set,
    canonical_game,
    display_name,
    make_env,
    make_vector_env,
)
from actor_mimic.errors import UserError


@pytest.mark.parametrize(
    "name, rom",
    [
        ("Breakout", "breakout"),
        ("ALE/SpaceInvaders-v5", "space_invaders"),
        ("PongNoFrameskip-v4", "pong"),
        ("space invaders", "space_invaders"),
        ("crazy_climber", "crazy_climber"),
    ],
)
def test_game_names_people_type_map_to_rom_ids(name, rom):
    assert canonical_game(name) == rom


def test_unknown_game_names_the_nearest_one():
    with pytest.raises(UserError, match="unknown Atari game 'Breakot': did you mean breakout"):
        AtariConfig("Breakot")


def test_action_sets_are_the_minimal_sets_in_ale_ids():
    assert action_set(AtariConfig("breakout")) == (0, 1, 3, 4)
    assert action_set(AtariConfig("pong")) == (0, 1, 3, 4, 11, 12)
    assert action_set(AtariConfig("pong", full_action_space=True)) == tuple(range(18))
    assert action_mask([0, 1, 3, 4]).nonzero()[0].tolist() == [0, 1, 3, 4]
    assert display_name("space_invaders") == "SpaceInvaders"


def test_bad_settings_are_refused():
    with pytest.raises(UserError, match="repeat_action_probability"):
        AtariConfig("pong", repeat_action_probability=1.5)
    with pytest.raises(UserError, match="newer actor-mimic"):
        AtariConfig.from_dict({"game": "pong", "colour": True})


def test_single_and_vector_paths_give_identical_stacks_across_episode_ends():
    """Same actions, no-op starts off: byte-identical observations, rewards and ends, through
    a whole random-play Breakout episode and into the next one (vector autoreset vs reset())."""
    config = AtariConfig("breakout", noop_max=0)
    env = make_env(config)
    venv = make_vector_env(config, num_envs=1, num_threads=1)
    single, _ = env.reset(seed=0)
    vector, _ = venv.reset(seed=0)
    assert single.shape == (4, 84, 84) and single.dtype == np.uint8
    assert not single[:3].any(), "the stack is zero-padded at reset"
    np.testing.assert_array_equal(single, vector[0])
    rng = np.random.default_rng(0)
    episode_ends = 0
    for _ in range(600):
        action = int(rng.integers(4))
        single, reward, terminated, truncated, info = env.step(action)
        vector, v_reward, v_terminated, v_truncated, v_info = venv.step(np.array([action]))
        np.testing.assert_array_equal(single, vector[0])
        assert (reward, terminated, truncated) == (v_reward[0], v_terminated[0], v_truncated[0])
        assert info["lives"] == v_info["lives"][0]
        if terminated or truncated:
            episode_ends += 1
            single, _ = env.reset()
            vector, *_ = venv.step(np.array([0]))  # NEXT_STEP autoreset: this step resets
            np.testing.assert_array_equal(single, vector[0])
            assert not single[:3].any()
    assert episode_ends >= 1
    venv.close()
    env.close()
