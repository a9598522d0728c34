"""FIRE at reset and after a lost life (common/fire.py): the protocol of SB3's and CleanRL's agents."""

import numpy as np

from actor_mimic.common.atari import AtariConfig, make_env, make_vector_env
from actor_mimic.common.fire import VectorFirePresses, fire_index, played_actions

NOOP = 0
FIRE = 1


def _noop_episode(config, max_steps):
    """Play NOOP in one Breakout env until the episode ends; (steps, lives seen, the actions played)."""
    venv = make_vector_env(config, num_envs=1, num_threads=1)
    venv.reset(seed=0)
    played, lives = [], []
    steps = 0
    for steps in range(1, max_steps + 1):  # noqa: B007 (the count is returned)
        played.append(int(played_actions(venv, np.array([NOOP]))[0]))
        _, _, terminated, truncated, info = venv.step(np.array([NOOP]))
        lives.append(int(info["lives"][0]))
        if terminated[0] or truncated[0]:
            break
    venv.close()
    return steps, lives, played


def test_a_policy_that_never_fires_finishes_breakout_only_with_fire_presses():
    """Breakout serves a ball only on FIRE: always-NOOP play ends the game (5 balls missed)
    when FIRE is pressed at reset and after each lost life, and never does without."""
    fired = AtariConfig("breakout", noop_max=0, fire_on_reset=True, fire_on_life_loss=True)
    steps, lives, played = _noop_episode(fired, 3000)
    assert lives[-1] == 0 and steps < 3000
    presses = [i for i, action in enumerate(played) if action == FIRE]
    assert presses[0] == 0  # the episode's first step
    assert len(presses) == 5  # at reset, then after each of the 4 lives lost before the last
    for press in presses[1:]:
        assert lives[press - 1] < lives[press - 2]  # the step before it lost a life

    steps, lives, _ = _noop_episode(AtariConfig("breakout", noop_max=0), 1500)
    assert steps == 1500 and lives[-1] == 5  # no ball ever served

    only_reset = AtariConfig("breakout", noop_max=0, fire_on_reset=True)
    steps, lives, played = _noop_episode(only_reset, 1500)
    assert played.count(FIRE) == 1 and lives[-1] == 4  # one ball served and missed, then waiting


def test_single_and_vector_paths_press_fire_alike_across_episode_ends():
    config = AtariConfig("breakout", noop_max=0, fire_on_reset=True, fire_on_life_loss=True)
    env = make_env(config)
    venv = make_vector_env(config, num_envs=1, num_threads=1)
    assert isinstance(venv, VectorFirePresses)
    single, _ = env.reset(seed=0)
    vector, _ = venv.reset(seed=0)
    rng = np.random.default_rng(0)
    episode_ends = 0
    for _ in range(900):
        action = int(rng.choice([NOOP, 2, 3]))  # never FIRE: every press is the wrapper's
        single, reward, terminated, truncated, info = env.step(action)
        vector, v_reward, v_terminated, v_truncated, v_info = venv.step(np.array([action]))
        np.testing.assert_array_equal(single, vector[0])
        assert (reward, terminated, truncated, info["lives"]) == (v_reward[0], v_terminated[0], v_truncated[0],
                                                                  v_info["lives"][0])  # fmt: skip
        if terminated or truncated:
            episode_ends += 1
            single, _ = env.reset()
            vector, *_ = venv.step(np.array([NOOP]))  # NEXT_STEP autoreset: this step resets
            np.testing.assert_array_equal(single, vector[0])
    assert episode_ends >= 1
    venv.close()
    env.close()


def test_games_without_fire_and_the_default_protocol_are_not_wrapped():
    assert fire_index(AtariConfig("breakout")) is None  # the toolkit's own protocol: no presses
    assert fire_index(AtariConfig("breakout", fire_on_life_loss=True)) == 1
    asterix = AtariConfig("asterix", fire_on_reset=True, fire_on_life_loss=True)
    assert fire_index(asterix) is None  # Asterix has no FIRE action
    venv = make_vector_env(asterix, num_envs=1)
    assert not isinstance(venv, VectorFirePresses)
    venv.close()
