"""The DQN learner: act in `num_envs` games at once, store frames once, learn from replay.

One loop iteration (one *vector step*):

    1. pick epsilon-greedy actions over the game's actions for every environment;
    2. step the C++ vector env; store the new frames, the actions and the rewards;
    3. run the updates that are due (one per `train_every` agent steps after `learning_starts`),
       syncing the target network every `target_update_updates` updates;
    4. evaluate with the shared protocol every `eval_every` agent steps;
    5. checkpoint every `checkpoint_every_minutes` of wall-clock.

The env autoresets in NEXT_STEP mode: the step after a terminal is a reset whose action is
ignored. Such steps are not agent steps (the shared evaluation does not count them either),
earn nothing, and no transition crosses them (see replay.py).

Reproducibility: one numpy Generator (seeded by `config.seed`) draws exploration and
minibatches; the networks are seeded; torch runs `config.torch_threads` threads. Same seed,
same settings -> the same weights after N steps, and a resumed run continues bit for bit
(run_state.py).
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import cast

import numpy as np
import torch
from torch import nn

from actor_mimic.common.atari import AtariConfig, action_set, make_vector_env
from actor_mimic.common.fire import played_actions
from actor_mimic.common.networks import build_network
from actor_mimic.common.policies import epsilon_greedy
from actor_mimic.common.rollout import EndedEpisode, EpisodeTracker
from actor_mimic.common.run_lock import RunLock
from actor_mimic.errors import UserError
from actor_mimic.transfer import run_state
from actor_mimic.transfer.config import DQNConfig, epsilon_at
from actor_mimic.transfer.initialisation import InitialisedNetwork, expert_network
from actor_mimic.transfer.logs import RunLogger
from actor_mimic.transfer.losses import game_q_values, td_loss
from actor_mimic.transfer.replay import ReplayMemory

# Settings a resumed session may change: they decide when the process stops or saves, never
# what the learner computes.
SESSION_SETTINGS = ("max_wall_minutes", "checkpoint_every_minutes")


def make_optimizer(config: DQNConfig, parameters) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=config.learning_rate, eps=config.adam_eps)
    # The Nature-DQN RMSProp: centred, squared-gradient momentum 0.95, 0.01 inside the root.
    return torch.optim.RMSprop(
        parameters, lr=config.learning_rate, alpha=config.rmsprop_alpha,
        eps=config.rmsprop_eps, centered=True,
    )  # fmt: skip


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
        self.num_actions = len(action_set(atari))
        self.online = init.network.cpu().train()
        self.output_indices = list(init.output_indices)
        identity = self.output_indices == list(range(cast(nn.Linear, self.online.head).out_features))
        self._index = None if identity else torch.as_tensor(self.output_indices, dtype=torch.long)
        self.provenance = dict(init.provenance)
        self.target = copy.deepcopy(self.online).eval()
        self.target.requires_grad_(False)
        self.optimizer = make_optimizer(config, self.online.parameters())
        self.replay = ReplayMemory(config.replay_capacity, config.num_envs, atari.screen_size, atari.stack_size)
        self.rng = np.random.default_rng(config.seed)
        self.env = make_vector_env(atari, config.num_envs, config.env_threads)
        self.progress = progress
        # After every check (the replay memory's size above), before anything is written there.
        self.run_lock = RunLock(run_dir)
        self.logger = RunLogger(self.run_dir, _resume_step, tensorboard)
        # Counters and per-environment episode bookkeeping: all saved in checkpoints.
        self.step = 0  # agent steps
        self.updates = 0
        self.next_eval_step = config.eval_every
        self.action_log: list[np.ndarray] = []  # one (num_envs,) array per vector step
        self.episodes = EpisodeTracker(config.num_envs)  # running returns, lengths, autoresets
        self.episodes_finished = 0
        self.recent_returns: list[float] = []  # the last 100 finished episodes
        self.evaluations: list[dict] = []
        self.wall_seconds = 0.0  # training time over all sessions
        self.last_loss, self.last_mean_q = float("nan"), float("nan")
        self.frames: np.ndarray | None = None  # the current observations (N, K, H, W)
        self.stop_requested = False  # set by a signal handler: save and leave at the next step

    # --- acting --------------------------------------------------------------------------
    def start(self) -> None:
        """Reset the environments (seeded) and store their first observations."""
        self.frames, _ = self.env.reset(seed=self.config.seed)
        n = self.config.num_envs
        self.replay.add_observations(self.frames[:, -1], np.ones(n, bool), np.zeros(n, bool), np.zeros(n, bool))

    def act(self, frames: np.ndarray, epsilon: float) -> np.ndarray:
        """int64 (N,): epsilon-greedy game actions. Both random draws happen every step, so
        the random stream does not depend on the network's choices."""
        with torch.no_grad():
            q_values = game_q_values(self.online, torch.from_numpy(frames), self._index)
        return epsilon_greedy(q_values.argmax(dim=1).numpy(), epsilon, self.rng, self.num_actions)

    def env_step(self, actions: np.ndarray) -> None:
        """Step every environment once, record what happened (the actions played: FIRE where
        the environment presses it, common/fire.py)."""
        actions = played_actions(self.env, actions)
        frames, rewards, terminated, truncated, _ = self.env.step(actions)
        self.action_log.append(actions.astype(np.int64))
        self.replay.record_step(actions, rewards)
        playing, ended, episodes = self.episodes.step(rewards, terminated, truncated)
        self.replay.add_observations(frames[:, -1], ~playing, ended, terminated & ended)
        self.step += int(playing.sum())
        for episode in episodes:
            self._finish_episode(episode)
        self.frames = frames

    def _finish_episode(self, episode: EndedEpisode) -> None:
        self.logger.log("episodes", step=self.step, env=episode.env, **{"return": episode.episode_return},
                        length=episode.length, wall_seconds=round(self.wall_seconds, 2))  # fmt: skip
        self.recent_returns = (self.recent_returns + [episode.episode_return])[-100:]
        self.episodes_finished += 1

    # --- learning ------------------------------------------------------------------------
    def updates_due(self) -> int:
        if self.step < self.config.learning_starts or not self.replay.can_sample(self.config.n_step):
            return 0
        return (self.step - self.config.learning_starts) // self.config.train_every + 1

    def update(self) -> None:
        """One gradient step on a replay minibatch; sync the target network when due."""
        c = self.config
        batch = self.replay.sample(c.batch_size, self.rng, c.n_step, c.discount, c.clip_rewards)
        loss, q_taken = td_loss(
            self.online, self.target,
            torch.from_numpy(batch.frames), torch.from_numpy(batch.actions),
            torch.from_numpy(batch.returns), torch.from_numpy(batch.next_frames),
            torch.from_numpy(batch.bootstrap_discounts),
            self._index, c.double_dqn, c.huber_delta,
        )  # fmt: skip
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if c.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(self.online.parameters(), c.max_grad_norm)
        self.optimizer.step()
        self.updates += 1
        if self.updates % c.target_update_updates == 0:
            self.target.load_state_dict(self.online.state_dict())
        self.last_loss, self.last_mean_q = float(loss.detach()), float(q_taken.mean())

    # --- the loop ------------------------------------------------------------------------
    def run(self, until_step: int | None = None) -> bool:
        """Train until `until_step` (default: the budget) agent steps. Returns True when the
        budget is reached, False when stopped early (wall-clock limit or a signal); either
        way a checkpoint of the state is on disk."""
        c = self.config
        until_step = min(until_step or c.total_steps, c.total_steps)
        if self.frames is None:
            self.start()
        self.provenance.pop("stopped_early", None)
        session_start = last_save = last_log = time.monotonic()
        wall_before, step_before = self.wall_seconds, self.step
        bar = self._progress_bar()
        try:
            while self.step < until_step:
                epsilon = epsilon_at(c, self.step)
                previous_step = self.step
                assert self.frames is not None  # start() set them
                self.env_step(self.act(self.frames, epsilon))
                while self.updates < self.updates_due():
                    self.update()
                now = time.monotonic()
                self.wall_seconds = wall_before + (now - session_start)
                if bar is not None:
                    bar.update(self.step - previous_step)
                if now - last_log >= 30 or self.step >= until_step:
                    speed = (self.step - step_before) / max(now - session_start, 1e-9)
                    self._log_training(epsilon, speed, bar)
                    last_log = now
                if self.step >= self.next_eval_step:
                    self.evaluate_now()
                    self.next_eval_step += c.eval_every
                out_of_time = c.max_wall_minutes > 0 and now - session_start >= 60 * c.max_wall_minutes
                if self.stop_requested or out_of_time:
                    self.provenance["stopped_early"] = "signal" if self.stop_requested else "wall-clock limit"
                    return False
                if now - last_save >= 60 * c.checkpoint_every_minutes:
                    self.save()
                    last_save = time.monotonic()
            return True
        finally:
            if bar is not None:
                bar.close()
            self.save()

    def _log_training(self, epsilon: float, speed: float, bar) -> None:
        self.logger.log("training", step=self.step, updates=self.updates, epsilon=round(epsilon, 5),
                        loss=self.last_loss, mean_q=self.last_mean_q, steps_per_second=round(speed, 1))  # fmt: skip
        self.logger.flush()
        if bar is not None and self.recent_returns:
            bar.set_postfix(ret100=f"{np.mean(self.recent_returns):.1f}", eps=f"{epsilon:.3f}")

    def evaluate_now(self, steps: int | None = None, seed: int | None = None) -> dict:
        """Score the online network with the shared protocol; log and remember the result."""
        from actor_mimic.common.evaluation import evaluate

        c = self.config
        result = evaluate(
            self.expert(), self.atari, list(action_set(self.atari)),
            steps=steps or c.eval_steps, epsilon=c.eval_epsilon, num_envs=c.eval_num_envs,
            seed=c.seed + 1 if seed is None else seed,
        )  # fmt: skip
        row = {"step": self.step, "mean": result.mean, "std": result.std, "min": result.min,
               "max": result.max, "episodes": result.num_episodes, "eval_steps": result.steps}  # fmt: skip
        self.evaluations.append(row)
        self.logger.log("evaluations", **row)
        self.logger.flush()
        return result.to_dict()

    def expert(self) -> torch.nn.Module:
        """A copy of the online network with exactly the game's actions as outputs."""
        return expert_network(self.online, self.output_indices).eval()

    def _progress_bar(self):
        if not self.progress:
            return None
        import sys

        from tqdm import tqdm

        # Redirected to a log file, a bar redrawn 10 times a second would bloat it.
        interval = 0.1 if sys.stderr.isatty() else 60.0
        return tqdm(total=self.config.total_steps, initial=self.step, desc=f"dqn {self.atari.game}",
                    unit="step", smoothing=0.05, mininterval=interval)  # fmt: skip

    # --- checkpoints ---------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything but tensors and arrays, as JSON-ready values."""
        return {
            "atari": self.atari.to_dict(), "config": self.config.to_dict(),
            "architecture": self.online.architecture, "num_outputs": cast(nn.Linear, self.online.head).out_features,
            "output_indices": self.output_indices, "provenance": self.provenance,
            "step": self.step, "updates": self.updates, "next_eval_step": self.next_eval_step,
            "episode_returns": self.episodes.returns.tolist(),
            "episode_lengths": self.episodes.lengths.tolist(), "resetting": self.episodes.resetting.tolist(),
            "episodes_finished": self.episodes_finished, "recent_returns": self.recent_returns,
            "evaluations": self.evaluations, "wall_seconds": self.wall_seconds,
            "last_loss": self.last_loss, "last_mean_q": self.last_mean_q,
            "rng": run_state.rng_state_to_json(self.rng),
        }  # fmt: skip

    def save(self) -> Path:
        actions = np.stack(self.action_log) if self.action_log else np.zeros((0, self.config.num_envs), np.int64)
        path = run_state.write_checkpoint(
            self.run_dir, self.state_dict(), self.online, self.target, self.optimizer, actions, self.replay
        )
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
        actions = run_state.restore_into(directory, learner.online, learner.target, learner.optimizer, learner.replay)
        for name in ("step", "updates", "next_eval_step", "episodes_finished", "recent_returns",
                     "evaluations", "wall_seconds", "last_loss", "last_mean_q"):  # fmt: skip
            setattr(learner, name, state[name])
        learner.episodes.returns = np.array(state["episode_returns"], dtype=np.float64)
        learner.episodes.lengths = np.array(state["episode_lengths"], dtype=np.int64)
        learner.episodes.resetting = np.array(state["resetting"], dtype=bool)
        learner.rng = run_state.rng_from_json(state["rng"])
        learner._replay_environment(actions)
        return learner

    def _replay_environment(self, actions: np.ndarray) -> None:
        """Bring fresh environments to the saved state: same seed, every recorded action."""
        self.frames, _ = self.env.reset(seed=self.config.seed)
        for row in actions:
            self.frames, *_ = self.env.step(row)
        self.action_log = list(actions)
        newest_row = (self.replay.cursor - 1) % self.replay.rows
        if not np.array_equal(self.frames[:, -1], self.replay.frames[newest_row]):
            raise UserError(
                f"{self.run_dir}: the environments did not come back to the saved state "
                "(different ale-py or ROM?); start a new run"
            )

    def close(self) -> None:
        self.env.close()
        self.logger.close()
        self.run_lock.release()
