"""`collect()`: roll out an expert in its game and write a teacher store.

The loop, per step of the vector env (all envs at once):

    1. the expert labels every env's observation in one batched forward pass
       (Q-values over the game's actions, hidden activations);
    2. the acting policy (the expert, or `behaviour`) picks epsilon-greedy actions, from each
       lane's own random draws (lanes.py);
    3. the actions are sent to the C++ envs, and while they step, each env's state half of
       the step (newest frame, lives, action, labels) goes into its lane's row buffer;
    4. the outcome (reward, terminated, truncated) completes the step; a full buffer goes to
       the store (a background thread writes and commits it), an env whose episode ended is
       reset with its lane's next episode seed.

Each env fills one lane of the store until the lane's quota of steps (the last episode cut,
marked truncated) or of game-ended episodes; a lane that reached it idles. A stop (signal,
kill) keeps every lane's committed chunks; `--resume` replays what is missing exactly.
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
from actor_mimic.collect.interrupt import CollectionInterrupted, stop_on_signals
from actor_mimic.collect.lanes import DRAWS_PER_STEP, Lane, episode_rng, episode_seed, resume_lanes, start_lanes
from actor_mimic.collect.metadata import behaviour_metadata, store_metadata
from actor_mimic.collect.output import (
    REPLACES_KEY,
    aside_path,
    backend_name,
    check_out,
    existing_store,
    replacing_store,
    will_replace,
)
from actor_mimic.collect.policies import (
    Actor,
    Labeller,
    check_behaviour,
    checkpoint_identity,
    describe,
    load_policy,
    resolve_environment,
)
from actor_mimic.collect.rows import RowBuffer
from actor_mimic.collect.writer import BackgroundWriter, open_writer
from actor_mimic.common.atari import action_set, make_vector_env
from actor_mimic.common.outputs import remove
from actor_mimic.common.store import step_fields, stored_path
from actor_mimic.common.store_card import refresh_card
from actor_mimic.errors import UserError

log = logging.getLogger(__name__)


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
    fields = step_fields(
        len(actions_of_game), labeller.hidden_size, atari.screen_size, config.q_dtype, config.hidden_dtype
    )
    config.check_sizes(fields)
    expert_name = describe(expert, "expert")
    if config.record and will_replace(config):
        metadata[REPLACES_KEY] = aside_path(existing_store(Path(config.out))).name

    venv = make_vector_env(atari, config.num_envs, num_threads=config.env_threads)
    try:
        with stop_on_signals() as stop, replacing_store(config) if config.record else nullcontext():
            return _run(config, atari, venv, labeller, behaviour, actions_of_game, metadata, fields, expert_name, stop)
    finally:
        venv.close()


def _run(config, atari, venv, labeller, behaviour, actions_of_game, metadata, fields, expert_name, stop):  # noqa: C901 - the rollout loop, one pass per step; splitting it would scatter its shared state
    num_envs = config.num_envs
    # Probe the expert before touching the disk: weights that give NaN or overflow on the
    # zero-padded first stack of every episode fail here, with nothing written.
    probe = np.zeros((1, *atari.observation_shape), dtype=np.uint8)
    _check_labels(*labeller(probe), expert_name, [0])
    resumed = config.record and config.resume and stored_path(config.out).exists()
    writer = None
    lanes = [Lane.start(config, lane) for lane in range(num_envs)]
    heads = [None] * num_envs
    if config.record:
        writer = open_writer(config, metadata, len(actions_of_game), labeller.hidden_size, atari.screen_size)
        if writer is None:  # a complete store: nothing to do
            return Path(config.out)
        lanes, heads = resume_lanes(config, writer)
    start_steps = [lane.rows for lane in lanes]
    segment = None  # this run's entry in the store's list of segments (runs that wrote it)
    if writer is not None:
        segment = {"start_steps": start_steps, "versions": metadata["versions"]}  # a resume may run other versions
        writer.attrs.setdefault("segments", []).append(segment)
    actor = Actor(config.acting_epsilon, len(actions_of_game), behaviour, actions_of_game)
    buffers = [RowBuffer(fields, config.chunk_len) for _ in range(num_envs)] if writer is not None else []
    background = BackgroundWriter(writer) if writer is not None else None
    recent_returns: collections.deque = collections.deque(maxlen=20)

    def stop_all(complete: bool, reason: str) -> None:
        """Close the store, recording why it stopped. Rows short of a chunk are not kept."""
        if writer is None:
            return
        background.drain()
        segment.update(end_steps=[record["steps"] for record in writer.lanes], stopped_by=reason)
        writer.close(complete=complete)
        if writer.num_steps or complete:  # (a run that stored nothing removes its store)
            refresh_card(config.out)  # the store changed: its README.md says what it now holds

    from tqdm import tqdm

    steps_done = sum(start_steps)
    bar = tqdm(
        total=config.shard_target if config.target_kind == "steps" else None,
        initial=steps_done if config.target_kind == "steps" else 0,
        unit="step",
        disable=not config.progress,
        dynamic_ncols=True,
    )
    obs, lives = start_lanes(venv, config, lanes, heads, config.out)
    started, started_cpu = time.perf_counter(), time.process_time()
    uniforms = np.zeros((num_envs, DRAWS_PER_STEP))
    try:
        while not all(lane.done for lane in lanes):
            if stop:
                stop_all(complete=False, reason=f"signal {stop.signal_number}")
                kept = (writer.num_steps, writer.num_episodes) if writer is not None else (steps_done, 0)
                raise CollectionInterrupted(config.out, *kept, stop.signal_number)
            active = [lane.index for lane in lanes if not lane.done]
            q_values, hidden = labeller(obs)
            try:
                _check_labels(q_values, hidden, expert_name, active)
            except UserError as error:
                stop_all(complete=False, reason="non-finite expert output")
                raise UserError(f"{error} ({_what_was_kept(writer, resumed, config.out)})") from None
            for env in active:
                uniforms[env] = lanes[env].rng.random(DRAWS_PER_STEP)
            actions = actor.act(obs, q_values, uniforms)
            venv.send(actions.astype(np.int32))
            if writer is not None:
                frames = obs[:, -1]
                for env in active:  # while the envs step
                    buffers[env].add_state(frames[env], lives[env], actions[env], q_values[env], hidden[env])
            obs, rewards, terminated, truncated, info = venv.recv()
            lives = info["lives"]
            resets = []
            for env in active:
                lane = lanes[env]
                lane.rows += 1
                lane.head += 1
                lane.episode_return += float(rewards[env])
                cut = not lane.by_episodes and lane.rows == lane.quota and not (terminated[env] or truncated[env])
                if writer is not None:
                    buffers[env].add_outcome(rewards[env], terminated[env], truncated[env] or cut)
                    if buffers[env].full:
                        background.submit(writer.append, env, buffers[env].take())
                if terminated[env] or truncated[env] or cut:
                    lane.episodes += 1
                    if not cut:
                        recent_returns.append(lane.episode_return)
                    lane.head, lane.episode_return = 0, 0.0
                    lane.rng = episode_rng(config, env, lane.episodes)
                    resets.append(env)
                if lane.reached:
                    lane.done = True
                    if writer is not None:
                        background.submit(_finish_lane, writer, env, buffers[env].take(), cut)
            resets = [env for env in resets if not lanes[env].done]
            if resets:
                mask = np.zeros(num_envs, dtype=bool)
                mask[resets] = True
                seeds = np.array([episode_seed(config, env, lanes[env].episodes) for env in resets], dtype=np.int64)
                obs, info = venv.reset(seed=seeds, options={"reset_mask": mask})
                lives = info["lives"]
            steps_done += len(active)
            bar.update(len(active))
            if resets and recent_returns:
                bar.set_postfix(
                    episodes=sum(lane.episodes for lane in lanes), mean_return=f"{np.mean(recent_returns):.1f}"
                )
        stop_all(complete=True, reason="target")
    finally:
        bar.close()
        if background is not None:
            background.shutdown()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - started_cpu
    recorded = steps_done - sum(start_steps)
    # The rollout's own speed (env setup excluded), for users and for benchmarks/bench_collect.py;
    # cpu_seconds counts every thread of the process (env threads, store writer).
    log.info(
        "collected %d steps in %.1f s (%.0f steps/s)",
        recorded,
        seconds,
        recorded / max(seconds, 1e-9),
        extra={"steps": recorded, "seconds": seconds, "cpu_seconds": cpu_seconds},
    )
    return Path(config.out) if writer is not None else None


def _finish_lane(writer, lane: int, rows: dict, cut: bool) -> None:
    writer.append(lane, rows)
    writer.finish_lane(lane, cut=cut)


def _check_labels(q_values: np.ndarray, hidden: np.ndarray, expert_name: str, rows) -> None:
    """The expert's outputs must be finite; a store never holds NaN or infinite labels."""
    for name, values in (("Q-values", q_values), ("hidden activations", hidden)):
        if not np.isfinite(values[rows]).all():
            raise UserError(
                f"{expert_name} produced NaN or infinite {name}: the checkpoint is broken, collect with a sound expert"
            )


def _what_was_kept(writer, resumed: bool, out) -> str:
    """After a failure: keep what earlier steps stored, remove a store this run made empty."""
    if writer is None:
        return "nothing was written"
    if writer.num_steps == 0 and not resumed:
        remove(Path(writer.backend.path))  # the new store, or an HDF5 store's collection in progress
        return "nothing was written"
    return f"{out} keeps the {writer.num_steps} steps stored before it, marked incomplete"
