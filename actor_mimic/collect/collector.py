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

`_roll_out` is that loop and nothing else; what watches it is passed in, as dqn_zoo's
`run_loop` takes its trackers: the `Recording` (recording.py: row buffers, the store, its
segment) when the run records, and the `Progress` bar. `_run` sets them up and closes them.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import time
from contextlib import nullcontext
from pathlib import Path
from typing import cast

import numpy as np
import torch

from actor_mimic.collect.config import CollectConfig
from actor_mimic.collect.interrupt import CollectionInterrupted, stop_on_signals
from actor_mimic.collect.lanes import DRAWS_PER_STEP, Head, Lane, episode_seed, resume_lanes, start_lanes
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
from actor_mimic.collect.players import (
    Actor,
    Labeller,
    Players,
    check_behaviour,
    checkpoint_identity,
    describe,
    load_policy,
    playing_description,
    resolve_environment,
)
from actor_mimic.collect.recording import Recording
from actor_mimic.collect.store_opening import open_writer
from actor_mimic.common.atari import action_set, make_vector_env
from actor_mimic.common.fire import played_actions
from actor_mimic.common.policies import acting_of
from actor_mimic.errors import UserError
from actor_mimic.store import step_fields, stored_path

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
    fire = {"fire_on_reset": config.fire_on_reset, "fire_on_life_loss": config.fire_on_life_loss}
    atari = resolve_environment(expert, config.game, config.noop_max, config.sticky, config.frame_skip, fire)
    behaviour = None
    if config.behaviour is not None:
        behaviour = load_policy(config.behaviour, "behaviour policy")
        check_behaviour(behaviour, atari)
    acting_policy = behaviour if behaviour is not None else expert
    acting = acting_of(acting_policy.metadata, config.acting)
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
        behaviour_metadata(config, behaviour_identity, behaviour.metadata.kind if behaviour else None, acting),
        backend_name(config) if config.record else "zarr",
    )
    fields = step_fields(
        len(actions_of_game), labeller.hidden_size, atari.screen_size, config.q_dtype, config.hidden_dtype
    )
    config.check_sizes(fields)
    expert_name = describe(expert, "expert")
    if config.record and will_replace(config):
        metadata[REPLACES_KEY] = aside_path(existing_store(Path(cast("str | Path", config.out)))).name

    actor = Actor(config.acting_epsilon, len(actions_of_game), behaviour, actions_of_game, acting == "sample")
    players = Players(labeller, actor, expert_name)
    if playing_description(expert, behaviour, atari, acting):  # FIRE presses or sampling: say so
        log.info("%s", playing_description(expert, behaviour, atari, acting))
    venv = make_vector_env(atari, config.num_envs, num_threads=config.env_threads)
    try:
        with stop_on_signals() as stop, replacing_store(config) if config.record else nullcontext():
            return _run(config, atari, venv, players, metadata, fields, stop)
    finally:
        venv.close()


def _run(config: CollectConfig, atari, venv, players: Players, metadata: dict, fields: dict, stop) -> Path | None:
    """Open the store (or resume it), bring every env to where its lane stands, roll out."""
    # Probe the expert before touching the disk: weights that give NaN or overflow on the
    # zero-padded first stack of every episode fail here, with nothing written.
    probe = np.zeros((1, *atari.observation_shape), dtype=np.uint8)
    _check_labels(*players.labeller(probe), players.expert_name, [0])
    lanes = [Lane.start(config, lane) for lane in range(config.num_envs)]
    heads: list[Head | None] = [None] * config.num_envs
    recording = None
    if config.record:
        assert config.out is not None  # check(): recording needs --out
        resumed = config.resume and cast(Path, stored_path(config.out)).exists()  # local: check_out took a Path
        writer = open_writer(
            config, metadata, players.actor.num_actions, players.labeller.hidden_size, atari.screen_size
        )
        if writer is None:  # a complete store: nothing to do
            return Path(config.out)
        lanes, heads = resume_lanes(config, writer)
        start_steps = [lane.rows for lane in lanes]
        recording = Recording(config.out, writer, fields, config.chunk_len, start_steps, metadata["versions"], resumed)
    progress = Progress(config, steps_done=sum(lane.rows for lane in lanes))
    steps_before = progress.steps_done
    obs, lives = start_lanes(venv, config, lanes, heads, config.out)
    started, started_cpu = time.perf_counter(), time.process_time()
    try:
        _roll_out(venv, config, lanes, obs, lives, players, recording=recording, progress=progress, stop=stop)
        if recording is not None:
            recording.stop(complete=True, reason="target")
    finally:
        progress.close()
        if recording is not None:
            recording.shutdown()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - started_cpu
    recorded = progress.steps_done - steps_before
    # The rollout's own speed (env setup excluded), for users and for benchmarks/bench_collect.py;
    # cpu_seconds counts every thread of the process (env threads, store writer).
    log.info(
        "collected %d steps in %.1f s (%.0f steps/s)",
        recorded,
        seconds,
        recorded / max(seconds, 1e-9),
        extra={"steps": recorded, "seconds": seconds, "cpu_seconds": cpu_seconds},
    )
    return Path(cast("str | Path", config.out)) if recording is not None else None


def _roll_out(venv, config: CollectConfig, lanes: list[Lane], obs, lives, players: Players, *,
              recording: Recording | None, progress: Progress, stop) -> None:  # fmt: skip
    """Step every env until each lane reached its quota (the loop of the module docstring).

    obs uint8 (N, K, H, W) and lives (N,): where the envs stand. `recording` (None: not
    recording) gets every row, `progress` every step and finished episode. A signal stops
    the loop, the store closed first, with CollectionInterrupted.
    """
    uniforms = np.zeros((config.num_envs, DRAWS_PER_STEP))
    while not all(lane.done for lane in lanes):
        if stop:
            _stop(recording, f"signal {stop.signal_number}")
            kept = recording.kept() if recording is not None else (progress.steps_done, 0)
            raise CollectionInterrupted(config.out, *kept, stop.signal_number)
        active = [lane.index for lane in lanes if not lane.done]
        q_values, hidden = players.labeller(obs)
        try:
            _check_labels(q_values, hidden, players.expert_name, active)
        except UserError as error:
            _stop(recording, "non-finite expert output")
            what_kept = recording.what_was_kept() if recording is not None else "nothing was written"
            raise UserError(f"{error} ({what_kept})") from None
        for env in active:  # each lane draws from its own generator (lanes.py)
            rng = lanes[env].rng
            assert rng is not None  # Lane.start and Lane.next_episode set it
            uniforms[env] = rng.random(DRAWS_PER_STEP)
        actions = played_actions(venv, players.actor.act(obs, q_values, uniforms))  # FIRE where pressed
        venv.send(actions.astype(np.int32))
        if recording is not None:  # while the envs step
            recording.add_states(active, obs[:, -1], lives, actions, q_values, hidden)
        obs, rewards, terminated, truncated, info = venv.recv()
        lives = info["lives"]
        resets = []
        for env in active:
            lane = lanes[env]
            ended = bool(terminated[env] or truncated[env])
            cut = lane.step(float(rewards[env]), ended)  # the lane's quota cut its episode short
            if recording is not None:
                recording.add_outcome(env, rewards[env], terminated[env], truncated[env] or cut)
            if ended or cut:
                if not cut:
                    progress.episode_ended(lane.episode_return)
                lane.next_episode(config)
                resets.append(env)
            if lane.reached:
                lane.done = True
                if recording is not None:
                    recording.finish_lane(env, cut)
        resets = [env for env in resets if not lanes[env].done]
        if resets:
            mask = np.zeros(config.num_envs, dtype=bool)
            mask[resets] = True
            seeds = np.array([episode_seed(config, env, lanes[env].episodes) for env in resets], dtype=np.int64)
            obs, info = venv.reset(seed=seeds, options={"reset_mask": mask})
            lives = info["lives"]
        progress.stepped(len(active), lanes, bool(resets))


def _stop(recording, reason: str) -> None:
    if recording is not None:
        recording.stop(complete=False, reason=reason)


class Progress:
    """The progress bar: steps played (recorded ones included), the last episodes' mean return."""

    def __init__(self, config, steps_done: int):
        from tqdm import tqdm

        self.steps_done = steps_done
        self.recent_returns: collections.deque = collections.deque(maxlen=20)
        self.bar = tqdm(
            total=config.shard_target if config.target_kind == "steps" else None,
            initial=steps_done if config.target_kind == "steps" else 0,
            unit="step",
            disable=not config.progress,
            dynamic_ncols=True,
        )

    def episode_ended(self, episode_return: float) -> None:
        self.recent_returns.append(episode_return)

    def stepped(self, count: int, lanes, any_reset: bool) -> None:
        self.steps_done += count
        self.bar.update(count)
        if any_reset and self.recent_returns:
            self.bar.set_postfix(
                episodes=sum(lane.episodes for lane in lanes), mean_return=f"{np.mean(self.recent_returns):.1f}"
            )

    def close(self) -> None:
        self.bar.close()


def _check_labels(q_values: np.ndarray, hidden: np.ndarray, expert_name: str, rows) -> None:
    """The expert's outputs must be finite; a store never holds NaN or infinite labels."""
    for name, values in (("Q-values", q_values), ("hidden activations", hidden)):
        if not np.isfinite(values[rows]).all():
            raise UserError(
                f"{expert_name} produced NaN or infinite {name}: the checkpoint is broken, collect with a sound expert"
            )
