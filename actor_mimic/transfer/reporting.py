"""What a DQN run reports about itself: episodes, training rows, the progress bar, evaluations.

    TrainingReport   a row per finished episode, a training row every 30 s, the progress bar
    Evaluations      the shared evaluation protocol every `eval_every` agent steps

Both write through `RunLogger` (logs.py); neither changes what the run learns.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from torch import nn

from actor_mimic.common.atari import AtariConfig, action_set
from actor_mimic.common.rollout import EndedEpisode
from actor_mimic.transfer.config import DQNConfig
from actor_mimic.transfer.logs import RunLogger

LOG_EVERY_SECONDS = 30.0


class TrainingReport:
    """The training side of the logs, and the last 100 finished episodes' returns."""

    def __init__(self, logger: RunLogger, game: str, total_steps: int, progress: bool):
        self.logger, self.game, self.total_steps, self.progress = logger, game, total_steps, progress
        self.episodes_finished = 0
        self.recent_returns: list[float] = []  # the last 100 finished episodes
        self.bar = None
        self.session_start = self.last_log = time.monotonic()
        self.session_first_step = 0

    def start_session(self, step: int) -> None:
        """A session (one process's share of the run) starts at `step`."""
        self.session_start = self.last_log = time.monotonic()
        self.session_first_step = step
        if self.progress:
            from tqdm import tqdm

            # Redirected to a log file, a bar redrawn 10 times a second would bloat it.
            interval = 0.1 if sys.stderr.isatty() else 60.0
            self.bar = tqdm(total=self.total_steps, initial=step, desc=f"dqn {self.game}",
                            unit="step", smoothing=0.05, mininterval=interval)  # fmt: skip

    def episode_ended(self, step: int, episode: EndedEpisode, wall_seconds: float) -> None:
        self.logger.log("episodes", step=step, env=episode.env, **{"return": episode.episode_return},
                        length=episode.length, wall_seconds=round(wall_seconds, 2))  # fmt: skip
        self.recent_returns = (self.recent_returns + [episode.episode_return])[-100:]
        self.episodes_finished += 1

    def progress_made(self, step: int, steps_played: int, updates: int, epsilon: float,
                      loss: float, mean_q: float, final: bool) -> None:  # fmt: skip
        """After each vector step: move the bar; every 30 s (and at the session's `final`
        step) write a training row and flush the logs."""
        now = time.monotonic()
        if self.bar is not None:
            self.bar.update(steps_played)
        if now - self.last_log < LOG_EVERY_SECONDS and not final:
            return
        self.last_log = now
        speed = (step - self.session_first_step) / max(now - self.session_start, 1e-9)
        self.logger.log("training", step=step, updates=updates, epsilon=round(epsilon, 5),
                        loss=loss, mean_q=mean_q, steps_per_second=round(speed, 1))  # fmt: skip
        self.logger.flush()
        if self.bar is not None and self.recent_returns:
            self.bar.set_postfix(ret100=f"{np.mean(self.recent_returns):.1f}", eps=f"{epsilon:.3f}")

    def end_session(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def get_state(self) -> dict:
        return {"episodes_finished": self.episodes_finished, "recent_returns": self.recent_returns}

    def set_state(self, state: dict) -> None:
        self.episodes_finished, self.recent_returns = state["episodes_finished"], state["recent_returns"]


class Evaluations:
    """Scores the network with the shared protocol (common/evaluation.py) every `eval_every`
    agent steps; each result is logged and kept in `rows`."""

    def __init__(self, atari: AtariConfig, config: DQNConfig, logger: RunLogger):
        self.atari, self.config, self.logger = atari, config, logger
        self.next_step = config.eval_every
        self.rows: list[dict] = []

    def due(self, step: int) -> bool:
        return step >= self.next_step

    def run(self, network: nn.Module, step: int) -> dict:
        """Score `network` (outputs: the game's actions) at agent step `step`; the next
        evaluation is due `eval_every` steps after this one's scheduled step."""
        from actor_mimic.common.evaluation import evaluate

        c = self.config
        result = evaluate(network, self.atari, list(action_set(self.atari)), steps=c.eval_steps,
                          epsilon=c.eval_epsilon, num_envs=c.eval_num_envs, seed=c.seed + 1)  # fmt: skip
        row = {"step": step, "mean": result.mean, "std": result.std, "min": result.min,
               "max": result.max, "episodes": result.num_episodes, "eval_steps": result.steps}  # fmt: skip
        self.rows.append(row)
        self.logger.log("evaluations", **row)
        self.logger.flush()
        self.next_step += c.eval_every
        return result.to_dict()

    def get_state(self) -> dict:
        return {"next_eval_step": self.next_step, "evaluations": self.rows}

    def set_state(self, state: dict) -> None:
        self.next_step, self.rows = state["next_eval_step"], state["evaluations"]
