"""The acting part of a DQN run: play `num_envs` games at once and write what happens into the
replay memory.

    act(q_values, epsilon, rng)   Q-values (N, A) of the current frames -> int64 (N,) game actions
    step(actions, replay)         one vector step -> `Played` (agent steps, episodes that ended)

The C++ vector env autoresets in NEXT_STEP mode: the step after a terminal is a reset whose
action is ignored. Such steps are not agent steps (the shared evaluation does not count them
either), earn nothing, and no transition crosses them (see replay.py).

Every action sent to the environments is kept (`recorded_actions`): the environments cannot
be saved, so a resume replays those actions from the same seed (`restore`, run_state.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from actor_mimic.common.atari import AtariConfig, action_set, make_vector_env
from actor_mimic.common.fire import played_actions
from actor_mimic.common.policies import epsilon_greedy
from actor_mimic.common.rollout import EndedEpisode, EpisodeTracker
from actor_mimic.errors import UserError
from actor_mimic.transfer.replay import ReplayMemory


@dataclass
class Played:
    """What one vector step did: the agent steps it played (autoreset steps are not agent
    steps) and the episodes that ended in it."""

    agent_steps: int
    episodes: list[EndedEpisode]


class Actor:
    """The vector env, its running episodes, and every action sent to it.

    frames     uint8 (N, K, H, W) the current observations (None before `reset`)
    episodes   per-env running returns and lengths (common/rollout.py)
    """

    def __init__(self, atari: AtariConfig, num_envs: int, env_threads: int):
        self.env = make_vector_env(atari, num_envs, env_threads)
        self.num_envs = num_envs
        self.num_actions = len(action_set(atari))
        self.episodes = EpisodeTracker(num_envs)
        self.action_log: list[np.ndarray] = []  # one int64 (N,) array per vector step
        self.frames: np.ndarray | None = None

    def reset(self, seed: int, replay: ReplayMemory) -> None:
        """Reset the environments (seeded) and store their first observations."""
        self.frames, _ = self.env.reset(seed=seed)
        n = self.num_envs
        replay.add_observations(self.frames[:, -1], np.ones(n, bool), np.zeros(n, bool), np.zeros(n, bool))

    def act(self, q_values: torch.Tensor, epsilon: float, rng: np.random.Generator) -> np.ndarray:
        """int64 (N,): epsilon-greedy game actions for Q-values (N, A). Both random draws happen
        every step, so the random stream does not depend on the network's choices."""
        return epsilon_greedy(q_values.argmax(dim=1).numpy(), epsilon, rng, self.num_actions)

    def step(self, actions: np.ndarray, replay: ReplayMemory) -> Played:
        """Step every environment once with `actions` (N,); store the new frames, the actions
        played (FIRE where the environment presses it, common/fire.py) and the rewards in `replay`."""
        actions = played_actions(self.env, actions)
        frames, rewards, terminated, truncated, _ = self.env.step(actions)
        self.action_log.append(actions.astype(np.int64))
        replay.record_step(actions, rewards)
        playing, ended, episodes = self.episodes.step(rewards, terminated, truncated)
        replay.add_observations(frames[:, -1], ~playing, ended, terminated & ended)
        self.frames = frames
        return Played(int(playing.sum()), episodes)

    def recorded_actions(self) -> np.ndarray:
        """int64 (vector_steps, N): every action sent so far."""
        return np.stack(self.action_log) if self.action_log else np.zeros((0, self.num_envs), np.int64)

    # --- checkpoints ---------------------------------------------------------------------
    def get_state(self) -> dict:
        return {
            "episode_returns": self.episodes.returns.tolist(),
            "episode_lengths": self.episodes.lengths.tolist(),
            "resetting": self.episodes.resetting.tolist(),
        }

    def set_state(self, state: dict) -> None:
        self.episodes.returns = np.array(state["episode_returns"], dtype=np.float64)
        self.episodes.lengths = np.array(state["episode_lengths"], dtype=np.int64)
        self.episodes.resetting = np.array(state["resetting"], dtype=bool)

    def restore(self, seed: int, actions: np.ndarray, newest_frames: np.ndarray, run_dir: object) -> None:
        """Bring fresh environments to a saved state: the same seed, then every recorded action.
        `newest_frames` uint8 (N, H, W), the replay memory's newest row, must be where they land."""
        self.frames, _ = self.env.reset(seed=seed)
        for row in actions:
            self.frames, *_ = self.env.step(row)
        self.action_log = list(actions)
        if not np.array_equal(self.frames[:, -1], newest_frames):
            raise UserError(
                f"{run_dir}: the environments did not come back to the saved state "
                "(different ale-py or ROM?); start a new run"
            )

    def close(self) -> None:
        self.env.close()
