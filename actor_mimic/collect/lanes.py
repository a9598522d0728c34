"""Lanes: each environment of a collection plays, and the store keeps, a stream of its own.

Everything random in a lane is a function of (seed, shard, lane, episode): the seed its env is
reset with for each episode (the emulator, no-op starts, sticky actions) and the acting
policy's epsilon-greedy draws, exactly two uniforms per step from a generator seeded per
episode. The expert's labels depend only on the observation. So a lane's steps depend on
nothing else: not on the other lanes, not on when the store was flushed, not on interruptions.
Its quota is fixed up front (`split_target` of the shard's target over the lanes), so where a
lane ends does not depend on the others either.

Resuming, each lane continues from its committed rows: a lane whose running episode has a
committed head is reset with that episode's seed and replays the head's recorded actions
(`start_lanes`), checking every replayed frame, reward and flag against the stored ones, and
its generator skips the draws the head used. It then stands exactly where the killed run
stood at that row, and plays on identically: a resumed collection equals an uninterrupted one,
array by array. (ale-py's C++ vector env cannot save or restore emulator state; replaying from
a reset seed is how this gets there, at the cost of at most one running episode of env steps
per lane, without expert forward passes.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from actor_mimic.collect.config import CollectConfig, split_target
from actor_mimic.errors import UserError

DRAWS_PER_STEP = 2  # epsilon-greedy: explore or not, and which random action


def _sequence(config: CollectConfig, lane: int, episode: int, purpose: int) -> np.random.SeedSequence:
    index, count = config.shard
    return np.random.SeedSequence([int(config.seed), index, count, lane, episode, purpose])


def episode_seed(config: CollectConfig, lane: int, episode: int) -> int:
    """The seed lane `lane`'s env is reset with for its episode `episode`."""
    return int(_sequence(config, lane, episode, 0).generate_state(1, dtype=np.uint32)[0] % (2**31 - 1))


def episode_rng(config: CollectConfig, lane: int, episode: int) -> np.random.Generator:
    """The acting policy's generator for one episode of one lane."""
    return np.random.default_rng(_sequence(config, lane, episode, 1))


@dataclass
class Lane:
    """Where one lane stands: rows recorded so far, episodes closed, the running episode."""

    index: int
    quota: int  # steps, or episodes, this lane records in all
    by_episodes: bool  # the quota counts episodes (else steps)
    rows: int = 0  # rows recorded (committed, or on their way to the store)
    episodes: int = 0  # episodes closed; also the index of the running one
    head: int = 0  # steps of the running episode recorded so far
    episode_return: float = 0.0  # raw return of the running episode so far
    rng: np.random.Generator | None = None
    done: bool = False

    @classmethod
    def start(cls, config: CollectConfig, lane: int) -> Lane:
        quota = split_target(config.shard_target, lane, config.num_envs)
        state = cls(lane, quota, config.target_kind == "episodes", done=quota == 0)
        state.rng = episode_rng(config, lane, 0)
        return state

    @property
    def reached(self) -> bool:
        return (self.episodes if self.by_episodes else self.rows) >= self.quota

    def step(self, reward: float, ended: bool) -> bool:
        """Count one recorded step of the running episode (`ended`: it terminated or was
        truncated there). Returns True when this step fills a steps quota while the episode
        runs on: the lane cuts it, and it is stored as truncated."""
        self.rows += 1
        self.head += 1
        self.episode_return += reward
        return not self.by_episodes and self.rows == self.quota and not ended

    def next_episode(self, config: CollectConfig) -> None:
        """The running episode ended or was cut: the next starts, with its own generator."""
        self.episodes += 1
        self.head, self.episode_return = 0, 0.0
        self.rng = episode_rng(config, self.index, self.episodes)


@dataclass
class Head:
    """The committed part of a lane's running episode, to replay on resume."""

    actions: np.ndarray  # int16 (h,): indices into the action set
    frames: np.ndarray  # uint8 (h, H, W): newest frame of each observation, to check against
    rewards: np.ndarray  # float32 (h,)
    ended: np.ndarray  # bool (h,): terminated | truncated (all False: the episode runs on)


def resume_lanes(config: CollectConfig, writer) -> tuple[list[Lane], list[Head | None]]:
    """Every lane's state from the store `writer` holds, and its running episode's committed
    head (None: none to replay). A lane that reached its quota but was killed before being
    marked complete is marked now."""
    lanes, heads = [], []
    for index in range(config.num_envs):
        lane, head = lane_of_store(config, writer, index)
        if lane.done and not writer.lanes[index]["complete"]:
            # Its last episode was cut if its last row is truncated, not terminated. (One that
            # hit the time limit exactly at the lane's quota would be listed as cut too.)
            last = lane.rows - 1
            flags = [bool(writer.read_rows(index, name, last, lane.rows)[0]) for name in ("truncated", "terminated")]
            writer.finish_lane(index, cut=not lane.by_episodes and flags == [True, False])
        lanes.append(lane)
        heads.append(head if len(head.actions) else None)
    return lanes, heads


def lane_of_store(config: CollectConfig, writer, lane: int) -> tuple[Lane, Head]:
    """A resumed lane's state from its committed rows, and its running episode's head."""
    state = Lane.start(config, lane)
    record = writer.lanes[lane]
    state.rows, state.episodes = int(record["steps"]), int(record["episodes"])
    state.done = bool(record["complete"]) or state.reached
    ended = writer.read_rows(lane, "terminated", 0, state.rows) | writer.read_rows(lane, "truncated", 0, state.rows)
    closed = int(np.flatnonzero(ended)[-1]) + 1 if ended.any() else 0
    state.head = state.rows - closed
    actions, frames, rewards = (
        writer.read_rows(lane, name, closed, state.rows) for name in ("actions", "frames", "rewards")
    )
    head = Head(actions, frames, rewards, ended=ended[closed:])
    state.episode_return = float(np.sum(head.rewards, dtype=np.float64))
    state.rng = episode_rng(config, lane, state.episodes)
    state.rng.random(DRAWS_PER_STEP * state.head)  # the draws the head used
    return state, head


def start_lanes(envs, config: CollectConfig, lanes: list[Lane], heads: list[Head | None], path) -> None:
    """Reset every unfinished lane's env (`envs`, a LaneEnvs) to where its lane stands.

    Each is reset with its running episode's seed; lanes with a committed head then replay
    it, all together, each checking every replayed frame, reward and end flag against the
    stored ones. Afterwards `envs.obs` and `envs.lives` are the lanes' current ones.
    """
    playing = [lane.index for lane in lanes if not lane.done]
    envs.reset(playing, [episode_seed(config, index, lanes[index].episodes) for index in playing])
    replays = {index: head for index, head in enumerate(heads) if head is not None and index in playing}
    for step in range(max((len(head.actions) for head in replays.values()), default=0)):
        replaying = [index for index, head in replays.items() if step < len(head.actions)]
        for index in replaying:
            if not np.array_equal(envs.obs[index, -1], replays[index].frames[step]):
                _diverged(path, index, step, "frame")
        actions = np.array([replays[index].actions[step] for index in replaying])
        rewards, terminated, truncated = envs.step(replaying, actions)
        for index, reward, term, trunc in zip(replaying, rewards, terminated, truncated):
            head = replays[index]
            if reward != head.rewards[step] or bool(term or trunc) != bool(head.ended[step]):
                _diverged(path, index, step, "reward or end flag")


def _diverged(path, lane: int | np.integer, row: int | np.integer, what: str) -> None:
    raise UserError(
        f"{path}: replaying lane {lane}'s running episode gave another {what} at its step {row} than "
        "the one stored: resume with the library versions the store was collected with (its "
        "'segments' list them), or start again with --overwrite"
    )
