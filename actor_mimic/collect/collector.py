"""`collect()`: roll out an expert in its game and write a teacher store.

The loop, per step of the vector env (all envs at once):

    1. the expert labels every env's observation in one batched forward pass
       (Q-values over the game's actions, hidden activations);
    2. the acting policy (the expert, or `behaviour`) picks epsilon-greedy actions;
    3. the actions are sent to the C++ envs, and while they step, each env's state half of
       the step (newest frame, lives, action, labels) goes into its episode buffer;
    4. the outcome (reward, terminated, truncated) completes the step; an episode that ended
       is appended to the store whole.

ale-py's vector env resets in NEXT_STEP mode: the step after an episode's last step is a
reset whose action is ignored and whose observation is the next episode's first. That step
is not a transition, so nothing is recorded for it.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

from actor_mimic.collect.config import CollectConfig
from actor_mimic.collect.episodes import EpisodeBuffer
from actor_mimic.collect.interrupt import CollectionInterrupted, stop_on_signals
from actor_mimic.collect.metadata import behaviour_metadata, store_metadata
from actor_mimic.collect.policies import (
    Actor,
    Labeller,
    check_behaviour,
    checkpoint_identity,
    describe,
    load_policy,
    resolve_environment,
)
from actor_mimic.collect.output import (
    REPLACES_KEY,
    aside_path,
    backend_name,
    check_out,
    replacing_store,
    will_replace,
)
from actor_mimic.collect.writer import BackgroundWriter, open_writer
from actor_mimic.common.atari import action_set, make_vector_env
from actor_mimic.common.outputs import remove
from actor_mimic.common.store import step_fields
from actor_mimic.errors import UserError

log = logging.getLogger(__name__)


def segment_seeds(config: CollectConfig, start_step: int, start_episode: int) -> tuple[np.ndarray, np.random.Generator]:
    """(env seeds (num_envs,), the actor's random generator) for one collection segment.

    Derived from the seed, the shard and where in the store the segment starts, so every shard
    and every resumed segment plays different episodes, and the same run plays the same ones.
    """
    index, count = config.shard
    sequence = np.random.SeedSequence([int(config.seed), index, count, start_step, start_episode])
    env_sequence, actor_sequence = sequence.spawn(2)
    env_seeds = env_sequence.generate_state(config.num_envs, dtype=np.uint32) % (2**31 - 1)
    return env_seeds.astype(np.int64), np.random.default_rng(actor_sequence)


class Budget:
    """How much is left to record: steps, or episodes to start and to finish."""

    def __init__(self, kind: str, target: int, steps_done: int, episodes_done: int):
        self.kind = kind
        self.target = target
        self.steps_done = steps_done  # in the store plus in the buffers
        self.episodes_done = episodes_done  # episodes the game ended, in the store
        self.episodes_started = episodes_done

    def may_start_episode(self) -> bool:
        if self.kind == "episodes" and self.episodes_started >= self.target:
            return False
        self.episodes_started += 1
        return True

    def steps_allowed(self, wanted: int) -> int:
        if self.kind == "steps":
            return max(0, min(wanted, self.target - self.steps_done))
        return wanted

    @property
    def reached(self) -> bool:
        if self.kind == "steps":
            return self.steps_done >= self.target
        return self.episodes_done >= self.target


def collect(config: CollectConfig) -> Path | None:
    """Run one collection to its target and return the store's path (None when not recording).

    Raises UserError for bad settings (nothing written), and CollectionInterrupted after a
    SIGINT/SIGTERM once everything played so far is stored (resume with `resume=True`).
    """
    config.validate()
    if config.record:
        check_out(config)  # the output location, before anything is read or written
    expert = load_policy(config.expert, "expert")
    atari = resolve_environment(expert, config.game, config.noop_max, config.sticky, config.frame_skip)
    behaviour = None
    if config.behaviour is not None:
        behaviour = load_policy(config.behaviour, "behaviour policy")
        check_behaviour(behaviour, atari)
    labeller = Labeller(expert.network, config.hidden_layer)
    actions_of_game = list(action_set(atari))
    if config.torch_threads is not None:
        torch.set_num_threads(config.torch_threads)

    expert_identity = checkpoint_identity(expert)
    behaviour_identity = checkpoint_identity(behaviour) if behaviour is not None else None
    metadata = store_metadata(
        config,
        atari,
        expert_identity,
        dataclasses.asdict(expert.metadata),
        behaviour_metadata(config, behaviour_identity, behaviour.metadata.kind if behaviour else None),
        backend_name(config) if config.record else "zarr",
    )
    fields = step_fields(len(actions_of_game), labeller.hidden_size, atari.screen_size, config.q_dtype, config.hidden_dtype)
    config.check_sizes(fields)
    expert_name = describe(expert, "expert")
    if config.record and will_replace(config):
        metadata[REPLACES_KEY] = aside_path(Path(config.out)).name

    venv = make_vector_env(atari, config.num_envs, num_threads=config.env_threads)
    try:
        with stop_on_signals() as stop, replacing_store(config) if config.record else nullcontext():
            return _run(config, atari, venv, labeller, behaviour, actions_of_game, metadata, fields, expert_name, stop)
    finally:
        venv.close()


def _run(config, atari, venv, labeller, behaviour, actions_of_game, metadata, fields, expert_name, stop):
    num_envs = config.num_envs
    writer, cut_episodes = (None, [])
    start_step = start_episode = 0
    # Probe the expert before touching the disk: weights that give NaN or overflow on the
    # zero-padded first stack of every episode fail here, with nothing written.
    probe = np.zeros((1, *atari.observation_shape), dtype=np.uint8)
    _check_labels(*labeller(probe), expert_name, [0])
    resumed = config.record and config.resume and Path(config.out).exists()
    if config.record:
        writer, cut_episodes = open_writer(
            config, metadata, len(actions_of_game), labeller.hidden_size, atari.screen_size
        )
        start_step, start_episode = writer.num_steps, writer.num_episodes
    budget = Budget(config.target_kind, config.shard_target, start_step, start_episode - len(cut_episodes))
    env_seeds, rng = segment_seeds(config, start_step, start_episode)
    segment = None  # this run's entry in the store's list of segments (runs that wrote it)
    if writer is not None and not budget.reached:
        segment = {
            "start_step": start_step,
            "start_episode": start_episode,
            "env_seeds": env_seeds.tolist(),
            "versions": metadata["versions"],  # a resume may run other library versions
        }
        writer.attrs.setdefault("segments", []).append(segment)
    actor = Actor(config.acting_epsilon, len(actions_of_game), rng, behaviour, actions_of_game)
    buffers = [EpisodeBuffer(fields) for _ in range(num_envs)] if writer is not None else []
    background = BackgroundWriter(writer) if writer is not None else None
    recent_returns: collections.deque = collections.deque(maxlen=20)

    # Length and raw return of each env's running episode (also when not recording).
    lengths = np.zeros(num_envs, dtype=np.int64)
    returns = np.zeros(num_envs, dtype=np.float64)

    def finish_episode(env: int, cut: bool) -> None:
        if lengths[env] == 0:
            return
        if writer is not None:
            if cut:  # only from stop_all, after the background writer drained
                cut_episodes.append(writer.total_episodes)
                writer.append_episode(buffers[env].take(cut=True))
            else:
                background.append_episode(buffers[env].take())
        if not cut:
            budget.episodes_done += 1
            recent_returns.append(float(returns[env]))
        lengths[env], returns[env] = 0, 0.0

    def stop_all(complete: bool, reason: str) -> None:
        """Store the running episodes (cut) and close the store, recording why it stopped."""
        if writer is not None:
            background.drain()
        for env in range(num_envs):
            finish_episode(env, cut=True)
        if writer is not None:
            if segment is not None:
                segment.update(end_step=writer.total_steps, stopped_by=reason)
            writer.close(complete=complete)

    from tqdm import tqdm

    bar = tqdm(
        total=budget.target if budget.kind == "steps" else None,
        initial=start_step if budget.kind == "steps" else 0,
        unit="step",
        disable=not config.progress,
        dynamic_ncols=True,
    )
    obs, info = venv.reset(seed=env_seeds)
    lives = info["lives"]
    started, started_cpu = time.perf_counter(), time.process_time()
    recording = np.array([budget.may_start_episode() for _ in range(num_envs)])
    resetting = np.zeros(num_envs, dtype=bool)  # this step is the env's reset, not a transition
    try:
        while not budget.reached:
            if stop:
                stop_all(complete=False, reason=f"signal {stop.signal_number}")
                steps, episodes = _done(writer, budget, "steps"), _done(writer, budget, "episodes")
                raise CollectionInterrupted(config.out, steps, episodes, stop.signal_number)
            active = np.flatnonzero(recording & ~resetting)
            active = active[: budget.steps_allowed(len(active))]
            q_values, hidden = labeller(obs)
            try:
                _check_labels(q_values, hidden, expert_name, active)
            except UserError as error:
                stop_all(complete=False, reason="non-finite expert output")
                raise UserError(f"{error} ({_what_was_kept(writer, resumed, config.out)})") from None
            actions = actor.act(obs, q_values)
            venv.send(actions.astype(np.int32))
            if writer is not None:
                frames = obs[:, -1]
                for env in active:  # while the envs step
                    buffers[env].add_state(frames[env], lives[env], actions[env], q_values[env], hidden[env])
            obs, rewards, terminated, truncated, info = venv.recv()
            lives = info["lives"]
            ended = terminated | truncated
            lengths[active] += 1
            returns[active] += rewards[active]
            if writer is not None:
                for env in active:
                    buffers[env].add_outcome(rewards[env], terminated[env], truncated[env])
            for env in active[ended[active]]:
                finish_episode(env, cut=False)
            for env in np.flatnonzero(resetting):  # a new episode began in these envs
                recording[env] = budget.may_start_episode()
            budget.steps_done += len(active)
            bar.update(len(active))
            if len(active) and ended[active].any() and recent_returns:
                bar.set_postfix(episodes=budget.episodes_done, mean_return=f"{np.mean(recent_returns):.1f}")
            resetting = ended & ~resetting
        stop_all(complete=True, reason="target")
    finally:
        bar.close()
        if background is not None:
            background.shutdown()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - started_cpu
    recorded = budget.steps_done - start_step
    # The rollout's own speed (env setup excluded), for users and for benchmarks/bench_collect.py;
    # cpu_seconds counts every thread of the process (env threads, store writer).
    log.info(
        "collected %d steps in %.1f s (%.0f steps/s)", recorded, seconds, recorded / max(seconds, 1e-9),
        extra={"steps": recorded, "seconds": seconds, "cpu_seconds": cpu_seconds},
    )
    return Path(config.out) if writer is not None else None


def _check_labels(q_values: np.ndarray, hidden: np.ndarray, expert_name: str, rows) -> None:
    """The expert's outputs must be finite; a store never holds NaN or infinite labels."""
    for name, values in (("Q-values", q_values), ("hidden activations", hidden)):
        if not np.isfinite(values[rows]).all():
            raise UserError(
                f"{expert_name} produced NaN or infinite {name}: the checkpoint is broken, "
                "collect with a sound expert"
            )


def _what_was_kept(writer, resumed: bool, out) -> str:
    """After a failure: keep what earlier steps stored, remove a store this run made empty."""
    if writer is None:
        return "nothing was written"
    if writer.num_steps == 0 and not resumed:
        remove(Path(out))
        return "nothing was written"
    return f"{out} keeps the {writer.num_steps} steps stored before it, marked incomplete"


def _done(writer, budget: Budget, kind: str) -> int:
    if writer is None:
        return budget.steps_done if kind == "steps" else budget.episodes_done
    return writer.num_steps if kind == "steps" else writer.num_episodes
