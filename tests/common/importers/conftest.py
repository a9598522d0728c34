"""Shared by the importer tests: real observations to compare outputs on."""

import numpy as np

from actor_mimic.common.atari import make_env


def real_stacks(config, count=32, seed=0):
    """uint8 (count, 4, 84, 84) stacks from random play, so outputs vary meaningfully."""
    env = make_env(config)
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    stacks = []
    for _ in range(count):
        stacks.append(obs)
        obs, _, terminated, truncated, _ = env.step(int(rng.integers(env.action_space.n)))
        if terminated or truncated:
            obs, _ = env.reset()
    return np.stack(stacks)
