"""`collect()`: roll out an expert in its game and write a teacher store.

The loop, per step of the lanes (every env is one lane of the store, lanes.py):

    1. the expert labels every lane's observation in one batched forward pass (Q-values over
       the game's actions, hidden activations);
    2. the acting policy (the expert, or `behaviour`) picks epsilon-greedy actions, from each
       lane's own random draws (lanes.py);
    3. the actions are sent to the lanes' emulators (envs.py), and while they step, each
       lane's state half of the step (newest frame, lives, action, labels) goes into its
       row buffer;
    4. the outcome (reward, terminated, truncated) completes the step; a full buffer goes to
       the store (a background thread writes and commits it); a lane whose episode ended is
       reset with its next episode seed on a background thread (a ROM reload: envs.py) while
       the others play on, and rejoins when ready.

What each lane plays and stores depends on nothing of this: not on timing, on when its
resets finish, or on the other lanes. The batch the expert labels is always all the lanes
(those waiting for a reset or done included): CPU kernels choose their summation order by
batch size, so labels from another batch size could differ in their low bits. (A row's
result does not depend on the other rows' values.) The expert's forward pass is not split
to overlap the emulators: halves of the batch cost ~30% more CPU per sample here, and on 2
cores the emulators, resets and forward pass already keep both busy (bench_collect.py).

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
from actor_mimic.collect.envs import LaneEnvs
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
from actor_mimic.common.atari import action_set
from actor_mimic.common.policies import acting_of
from actor_mimic.errors import UserError
from actor_mimic.store import NonFiniteValues, check_finite, step_fields, stored_path

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
    envs = LaneEnvs(atari, config.num_envs)
    try:
        with stop_on_signals() as stop, replacing_store(config) if config.record else nullcontext():
            return _run(config, atari, envs, players, metadata, fields, stop)
    finally:
        envs.close()


def _run(config: CollectConfig, atari, envs: LaneEnvs, players: Players, metadata: dict, fields: dict, stop):
    """Open the store (or resume it), bring every env to where its lane stands, roll out.
    Returns the store's path (None when not recording)."""
    # Probe the expert before touching the disk: weights that give NaN or overflow on the
    # zero-padded first stack of every episode fail here, with nothing written.
    probe = np.zeros((1, *atari.observation_shape), dtype=np.uint8)
    try:
        for name, values in zip(("q_values", "hidden"), players.labeller(probe)):
            check_finite(values, name, "the zero stack", 0)
    except NonFiniteValues as error:
        raise UserError(_broken_expert(players, error)) from None
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
    start_lanes(envs, config, lanes, heads, config.out)
    started, started_cpu = time.perf_counter(), time.process_time()
    try:
        _roll_out(envs, config, lanes, players, recording=recording, progress=progress, stop=stop)
        if recording is not None:
            recording.drain()  # every row written
        looped, looped_cpu = time.perf_counter(), time.process_time()
        if recording is not None:
            recording.stop(complete=True, reason="target")
    except NonFiniteValues as error:  # the store's writer refused a chunk of labels
        _stop(recording, "non-finite expert output")
        what_kept = recording.what_was_kept() if recording is not None else "nothing was written"
        raise UserError(f"{_broken_expert(players, error)} ({what_kept})") from None
    finally:
        progress.close()
        if recording is not None:
            recording.shutdown()
    seconds, cpu_seconds = looped - started, looped_cpu - started_cpu
    recorded = progress.steps_done - steps_before
    # The rollout's own speed (env setup and the store's closing excluded: its last commit and
    # card, a fixed cost), for users and for benchmarks/bench_collect.py; cpu_seconds counts
    # every thread of the process (env threads, resets, store writer).
    log.info(
        "collected %d steps in %.1f s (%.0f steps/s)",
        recorded,
        seconds,
        recorded / max(seconds, 1e-9),
        extra={
            "steps": recorded,
            "seconds": seconds,
            "cpu_seconds": cpu_seconds,
            "close_seconds": time.perf_counter() - looped,
            "close_cpu_seconds": time.process_time() - looped_cpu,
        },
    )
    return Path(cast("str | Path", config.out)) if recording is not None else None


def _roll_out(envs: LaneEnvs, config: CollectConfig, lanes: list[Lane], players: Players, *,
              recording: Recording | None, progress: Progress, stop) -> None:  # fmt: skip
    """Step every lane until each reached its quota (the loop of the module docstring).

    `envs` stand where the lanes stand. `recording` (None: not recording) gets every row,
    `progress` every step and finished episode. A signal stops the loop, the store closed
    first, with CollectionInterrupted.
    """
    uniforms = np.zeros((config.num_envs, DRAWS_PER_STEP))
    stepping: list[int] = []  # the lanes whose step was sent
    while not all(lane.done for lane in lanes):
        if stop:
            _stop(recording, f"signal {stop.signal_number}")
            kept = recording.kept() if recording is not None else (progress.steps_done, 0)
            raise CollectionInterrupted(config.out, *kept, stop.signal_number)
        if stepping:
            _take_outcomes(envs, config, lanes, stepping, recording, progress)
        stepping = [env for env in range(config.num_envs) if not lanes[env].done and envs.ready(env)]
        if not stepping:  # every lane still playing waits for its reset
            envs.wait_for_a_reset()
            continue
        q_values, hidden = players.labeller(envs.obs)
        for env in stepping:  # each lane draws from its own generator (lanes.py)
            rng = lanes[env].rng
            assert rng is not None  # Lane.start and Lane.next_episode set it
            uniforms[env] = rng.random(DRAWS_PER_STEP)
        actions = envs.send(stepping, players.actor.act(envs.obs, q_values, uniforms)[stepping])  # FIRE where pressed
        if recording is not None:  # while the envs step
            frames = envs.obs[stepping, -1]
            recording.add_states(stepping, frames, envs.lives[stepping], actions, q_values[stepping], hidden[stepping])


def _take_outcomes(envs: LaneEnvs, config: CollectConfig, lanes: list[Lane], stepped: list[int],
                   recording: Recording | None, progress: Progress) -> None:  # fmt: skip
    """The outcomes of the steps sent to `stepped` lanes: rows completed, episodes closed
    (the lane's env reset for its next one), lanes that reached their quota finished."""
    rewards, terminated, truncated = envs.recv(stepped)
    any_reset = False
    for env, reward, term, trunc in zip(stepped, rewards, terminated, truncated):
        lane = lanes[env]
        ended = bool(term or trunc)
        cut = lane.step(float(reward), ended)  # the lane's quota cut its episode short
        if recording is not None:
            recording.add_outcome(env, reward, term, trunc or cut)
        if ended or cut:
            if not cut:
                progress.episode_ended(lane.episode_return)
            lane.next_episode(config)
        if lane.reached:
            lane.done = True
            if recording is not None:
                recording.finish_lane(env, cut)
        elif ended:
            envs.start_reset(env, episode_seed(config, env, lane.episodes))
            any_reset = True
    progress.stepped(len(stepped), lanes, any_reset)


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


def _broken_expert(players: Players, error: NonFiniteValues) -> str:
    what = {"q_values": "Q-values", "hidden": "hidden activations"}.get(error.name, error.name)
    return (
        f"{players.expert_name} produced NaN or infinite {what}: the checkpoint is broken, collect with a sound expert"
    )
