"""Episode bookkeeping over the autoresetting vector env (`make_vector_env`).

The C++ vector env autoresets in gymnasium's NEXT_STEP mode: the step after an env's
terminal or truncated step is a reset, whose action is ignored and whose reward and flags say
nothing about the game. Such a step is not an agent step, earns nothing and ends nothing.
`EpisodeTracker` keeps, per env, the running episode's return and length over the agent steps
only, and hands back each episode as it ends. The evaluation and the DQN learner both step
the env through it.

(The collector resets its envs itself, each with its own episode seed, so it does not
autoreset and keeps its lanes' returns in lanes.py.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class EndedEpisode:
    env: int
    episode_return: float  # raw (unclipped) sum of its rewards
    length: int  # agent steps
    truncated: bool = False  # cut by the time limit (max_episode_frames), not ended by the game


class EpisodeTracker:
    """Running returns and lengths of `num_envs` episodes, and which env resets next step.

    returns   float64 (N,)  raw return of each env's running episode so far
    lengths   int64 (N,)    agent steps of each env's running episode so far
    resetting bool (N,)     this env's next step is an autoreset (its episode just ended)
    """

    def __init__(self, num_envs: int):
        self.returns = np.zeros(num_envs, dtype=np.float64)
        self.lengths = np.zeros(num_envs, dtype=np.int64)
        self.resetting = np.zeros(num_envs, dtype=bool)

    def step(
        self, rewards: np.ndarray, terminated: np.ndarray, truncated: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, list[EndedEpisode]]:
        """Count one vector step. Returns (playing, ended, episodes):

        playing  bool (N,)  envs whose step was an agent step (not an autoreset)
        ended    bool (N,)  envs whose episode ended at this step
        episodes the episodes that ended, by env index; their counters start again at 0
        """
        playing = ~self.resetting
        ended = (terminated | truncated) & playing
        self.returns += np.where(playing, rewards, 0.0)
        self.lengths += playing
        cut = truncated & ~terminated
        episodes = [
            EndedEpisode(int(env), float(self.returns[env]), int(self.lengths[env]), bool(cut[env]))
            for env in np.flatnonzero(ended)
        ]
        self.returns[ended] = 0.0
        self.lengths[ended] = 0
        self.resetting = ended
        return playing, ended, episodes
