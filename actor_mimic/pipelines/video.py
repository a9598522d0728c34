"""A short GIF of one episode, for looking at what a policy does (`amn evaluate --video`).

Played on the single-env reference path (`make_env`, rendered in colour) with the same
epsilon-greedy rule and action masking as `actor_mimic.common.evaluation` (common/policies.py).
Needs Pillow.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from actor_mimic.common.atari import AtariConfig, action_set, make_env
from actor_mimic.common.outputs import atomic_output
from actor_mimic.common.policies import epsilon_greedy, epsilon_sample, greedy_env_actions, output_to_env_actions
from actor_mimic.errors import UserError

# One agent step is frame_skip emulator frames at 60 Hz: 4/60 s, so ~70 ms plays in real time.
FRAME_MS = 70


def save_episode_gif(
    network: nn.Module,
    config: AtariConfig,
    output_actions: list[int],
    path: str | Path,
    *,
    epsilon: float = 0.05,
    seed: int = 0,
    max_steps: int = 1000,
    acting: str = "greedy",
) -> Path:
    """Play one episode (at most `max_steps` agent steps) and write it as an animated GIF."""
    try:
        from PIL import Image
    except ImportError:
        raise UserError("--video needs Pillow: pip install pillow") from None
    if max_steps < 1:
        raise UserError(f"--video-steps must be at least 1, got {max_steps}")
    game_actions = list(action_set(config))
    valid, env_index = output_to_env_actions(output_actions, game_actions)
    rng = np.random.default_rng(seed)
    device = next(network.parameters()).device
    env = make_env(config, render_mode="rgb_array")
    images = []
    try:
        frames, _ = env.reset(seed=seed)
        images.append(Image.fromarray(env.render()))
        for _ in range(max_steps):
            with torch.no_grad():
                q_values = network(torch.from_numpy(np.asarray(frames)[None]).to(device))
            if acting == "sample":  # a logit teacher playing its policy (common/policies.py)
                action = int(epsilon_sample(q_values, valid, env_index, epsilon, rng, len(game_actions))[0])
            else:
                greedy = greedy_env_actions(q_values, valid, env_index)
                action = int(epsilon_greedy(greedy, epsilon, rng, len(game_actions))[0])
            frames, _, terminated, truncated, _ = env.step(action)
            images.append(Image.fromarray(env.render()))
            if terminated or truncated:
                break
    finally:
        env.close()
    path = Path(path)
    with atomic_output(path) as temporary:
        images[0].save(temporary, format="GIF", save_all=True, append_images=images[1:], duration=FRAME_MS, loop=0)
    return path
