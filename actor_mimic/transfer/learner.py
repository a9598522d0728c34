"""The DQN run: act in `num_envs` games at once, store frames once, learn from replay.

It is put together from parts, each with its inputs and outputs (dqn_zoo's `parts.py` style):

    acting.py      Actor         Q-values -> epsilon-greedy actions; a vector step -> replay memory
    replay.py      ReplayMemory  frames stored once; n-step minibatches
    learning.py    QLearning     online/target networks, optimiser; a minibatch -> one update
    reporting.py   TrainingReport, Evaluations   episodes, training rows, progress bar, scores
    run_state.py   Checkpointer  when to save; atomic, pickle-free checkpoints

`DQNLearner.run` is the loop; one iteration (one *vector step*):

    1. act: epsilon-greedy actions over the game's actions for every environment, one step of
       the C++ vector env, the new frames, actions and rewards stored;
    2. learn: the updates that are due (one per `train_every` agent steps after
       `learning_starts`), the target network synced every `target_update_updates` updates;
       each update's statistics go to `update_hooks`;
    3. report: the progress bar, a training row every 30 s, an evaluation every `eval_every`
       agent steps;
    4. stop (signal, wall-clock limit) or checkpoint every `checkpoint_every_minutes`.

Reproducibility: one numpy Generator (seeded by `config.seed`) draws exploration and
minibatches, in that order, every iteration; the networks are seeded; torch runs
`config.torch_threads` threads. Same seed, same settings -> the same weights after N steps,
and a resumed run continues bit for bit (run_state.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from actor_mimic.common.atari import AtariConfig
from actor_mimic.common.networks import build_network
from actor_mimic.common.run_lock import RunLock
from actor_mimic.errors import UserError
from actor_mimic.transfer import run_state
from actor_mimic.transfer.acting import Actor
from actor_mimic.transfer.config import DQNConfig, epsilon_at
from actor_mimic.transfer.initialisation import InitialisedNetwork
from actor_mimic.transfer.learning import QLearning, UpdateStatistics
from actor_mimic.transfer.logs import RunLogger
from actor_mimic.transfer.replay import ReplayMemory
from actor_mimic.transfer.reporting import Evaluations, TrainingReport

# Settings a resumed session may change: they decide when the process stops or saves, never
# what the learner computes.
SESSION_SETTINGS = ("max_wall_minutes", "checkpoint_every_minutes")

UpdateHook = Callable[[UpdateStatistics], None]


class DQNLearner:
    """Trains `init.network` on `atari.game`. Use `DQNLearner.resume(run_dir)` to continue."""

    def __init__(
        self,
        atari: AtariConfig,
        config: DQNConfig,
        init: InitialisedNetwork,
        run_dir: str | Path,
        progress: bool = False,
        tensorboard: bool = True,
        _resume_step: int | None = None,
    ):
        torch.set_num_threads(config.torch_threads)
        self.atari, self.config, self.run_dir = atari, config, Path(run_dir)
        self.provenance = dict(init.provenance)
        self.learning = QLearning(config, init)
        self.replay = ReplayMemory(config.replay_capacity, config.num_envs, atari.screen_size, atari.stack_size)
        self.rng = np.random.default_rng(config.seed)  # exploration and minibatches
        self.actor = Actor(atari, config.num_envs, config.env_threads)
        # After every check (the replay memory's size above), before anything is written there.
        self.run_lock = RunLock(run_dir)
        self.logger = RunLogger(self.run_dir, _resume_step, tensorboard)
        self.report = TrainingReport(self.logger, atari.game, config.total_steps, progress)
        self.evaluation = Evaluations(atari, config, self.logger)
        self.checkpointer = run_state.Checkpointer(self.run_dir, config.checkpoint_every_minutes)
        # Called after every update, in order. A hook may read anything; it must not draw from
        # `self.rng` or change the networks, or runs stop being reproducible.
        self.update_hooks: list[UpdateHook] = []
        self.step = 0  # agent steps
        self.wall_seconds = 0.0  # training time over all sessions
        self.stop_requested = False  # set by a signal handler: save and leave at the next step

    # --- the loop ------------------------------------------------------------------------
    def run(self, until_step: int | None = None) -> bool:
        """Train until `until_step` (default: the budget) agent steps. Returns True when the
        budget is reached, False when stopped early (wall-clock limit or a signal); either
        way a checkpoint of the state is on disk."""
        c = self.config
        until_step = min(until_step or c.total_steps, c.total_steps)
        if self.actor.frames is None:
            self.actor.reset(c.seed, self.replay)
        self.provenance.pop("stopped_early", None)
        session_start, wall_before = time.monotonic(), self.wall_seconds
        self.report.start_session(self.step)
        self.checkpointer.restart_clock()
        try:
            while self.step < until_step:
                epsilon = epsilon_at(c, self.step)
                previous_step = self.step
                # 1. act
                assert self.actor.frames is not None  # reset above
                self.env_step(self.act(self.actor.frames, epsilon))
                # 2. learn
                self.learn()
                # 3. report
                self.wall_seconds = wall_before + (time.monotonic() - session_start)
                self.report.progress_made(
                    self.step, self.step - previous_step, self.learning.updates, epsilon,
                    self.learning.last_loss, self.learning.last_mean_q, final=self.step >= until_step,
                )  # fmt: skip
                if self.evaluation.due(self.step):
                    self.evaluate_now()
                # 4. stop or checkpoint
                stop_reason = self._stop_reason(session_start)
                if stop_reason:
                    self.provenance["stopped_early"] = stop_reason
                    return False
                if self.checkpointer.due():
                    self.save()
            return True
        finally:
            self.report.end_session()
            self.save()

    def act(self, frames: np.ndarray, epsilon: float) -> np.ndarray:
        """int64 (N,): epsilon-greedy game actions for the observations `frames` (N, K, H, W)."""
        return self.actor.act(self.learning.q_values(frames), epsilon, self.rng)

    def env_step(self, actions: np.ndarray) -> None:
        """Step every environment once with `actions`; store and count what happened."""
        played = self.actor.step(actions, self.replay)
        self.step += played.agent_steps
        for episode in played.episodes:
            self.report.episode_ended(self.step, episode, self.wall_seconds)

    def learn(self) -> None:
        """Run the updates that are due, each on a fresh minibatch; hand each one's statistics
        to the hooks."""
        c = self.config
        while self.learning.updates < self.learning.updates_due(self.step, self.replay):
            batch = self.replay.sample(c.batch_size, self.rng, c.n_step, c.discount, c.clip_rewards)
            statistics = self.learning.update(batch)
            for hook in self.update_hooks:
                hook(statistics)

    def evaluate_now(self) -> dict:
        """Score the online network with the shared protocol; log and remember the result."""
        return self.evaluation.run(self.expert(), self.step)

    def _stop_reason(self, session_start: float) -> str | None:
        c = self.config
        if self.stop_requested:
            return "signal"
        if c.max_wall_minutes > 0 and time.monotonic() - session_start >= 60 * c.max_wall_minutes:
            return "wall-clock limit"
        return None

    # --- what callers read ---------------------------------------------------------------
    def expert(self) -> torch.nn.Module:
        """A copy of the online network with exactly the game's actions as outputs."""
        return self.learning.expert()

    @property
    def online(self) -> torch.nn.Module:
        return self.learning.online

    @property
    def target(self) -> torch.nn.Module:
        return self.learning.target

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        return self.learning.optimizer

    @property
    def updates(self) -> int:
        return self.learning.updates

    @property
    def frames(self) -> np.ndarray | None:
        """uint8 (N, K, H, W): the current observations (None before the first `run`)."""
        return self.actor.frames

    @property
    def env(self):
        return self.actor.env

    @property
    def episodes_finished(self) -> int:
        return self.report.episodes_finished

    @property
    def recent_returns(self) -> list[float]:
        return self.report.recent_returns

    @property
    def evaluations(self) -> list[dict]:
        return self.evaluation.rows

    # --- checkpoints ---------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything but tensors and arrays, as JSON-ready values: the run's identity and
        counters, and each part's share."""
        return {
            "atari": self.atari.to_dict(), "config": self.config.to_dict(), "provenance": self.provenance,
            "step": self.step, "wall_seconds": self.wall_seconds, "rng": run_state.rng_state_to_json(self.rng),
            **self.learning.get_state(), **self.actor.get_state(),
            **self.report.get_state(), **self.evaluation.get_state(),
        }  # fmt: skip

    def save(self) -> Path:
        learning = self.learning
        path = self.checkpointer.save(self.state_dict(), learning.online, learning.target, learning.optimizer,
                                      self.actor.recorded_actions(), self.replay)  # fmt: skip
        self.logger.flush()
        return path

    @classmethod
    def resume(cls, run_dir: str | Path, progress: bool = False, tensorboard: bool = True,
               total_steps: int | None = None, session: dict | None = None) -> DQNLearner:  # fmt: skip
        """Rebuild a learner from `run_dir`'s checkpoint, at exactly the saved step.

        `total_steps` may extend the budget; `session` may replace the settings that do not
        change what is learned (SESSION_SETTINGS: wall-clock limit, checkpoint interval).
        """
        directory = run_state.checkpoint_dir(run_dir)
        if directory is None:
            raise UserError(f"{run_dir}: no learner checkpoint to resume; start the run without --resume")
        state = run_state.read_state(directory)
        atari = AtariConfig.from_dict(state["atari"])
        settings = dict(state["config"])
        if total_steps is not None:
            settings["total_steps"] = total_steps  # extending a finished run is allowed
        for name, value in (session or {}).items():
            if name not in SESSION_SETTINGS:
                raise UserError(f"{name} cannot change when a run resumes; start a new run")
            settings[name] = value
        config = DQNConfig.from_dict(settings)
        network = build_network(state["architecture"], state["num_outputs"], atari.stack_size, atari.screen_size)
        init = InitialisedNetwork(network, state["output_indices"], state["provenance"])
        learner = cls(atari, config, init, run_dir, progress, tensorboard, _resume_step=state["step"])
        learning = learner.learning
        actions = run_state.restore_into(directory, learning.online, learning.target, learning.optimizer,
                                         learner.replay)  # fmt: skip
        learner.step, learner.wall_seconds = state["step"], state["wall_seconds"]
        learner.rng = run_state.rng_from_json(state["rng"])
        for part in (learning, learner.actor, learner.report, learner.evaluation):
            part.set_state(state)
        newest_row = (learner.replay.cursor - 1) % learner.replay.rows
        learner.actor.restore(config.seed, actions, learner.replay.frames[newest_row], learner.run_dir)
        return learner

    def close(self) -> None:
        self.actor.close()
        self.logger.close()
        self.run_lock.release()
