"""`LaneEnvs`: one emulator per lane, each stepped and reset on its own.

A lane's episode starts with a reset seeded for that episode (lanes.py), and in ale-py a
seeded reset reloads the ROM: about 90 ms of CPU, as much as ~300 agent steps of Breakout.
In one vector env of all the lanes, that reset stops every lane while one reloads (a random
Breakout episode lasts ~200 steps: half of a collection's time went there). So each lane has
its own one-env `AtariVectorEnv` (same C++ preprocessing, its own thread): a lane whose episode
ended is reset on a background thread while the other lanes play on, and rejoins when its
first observation is ready. What a lane plays is the same either way: an episode's seeded
reset is all its emulator depends on.

The rollout sends a step to some lanes (`send`) and collects their outcomes (`recv`) later,
so the expert can label other lanes meanwhile (collector.py); `obs` and `lives` always hold
where each lane stands.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from actor_mimic.common.atari import AtariConfig, make_vector_env
from actor_mimic.common.fire import VectorFirePresses

RESET_THREADS = 2  # resets running at once; each mostly waits for its env's C++ thread
FULL_PADDLE = np.ones(1, dtype=np.float32)  # paddle strength of a discrete action (ale-py's default)


class LaneEnvs:
    """The emulators of `num_lanes` lanes.

    obs    uint8 (N, K, H, W)  each lane's current observation (zeros before its first reset)
    lives  int (N,)            each lane's lives counter
    """

    def __init__(self, atari: AtariConfig, num_lanes: int):
        self.envs = [make_vector_env(atari, 1, num_threads=1) for _ in range(num_lanes)]
        self.obs = np.zeros((num_lanes, *atari.observation_shape), dtype=np.uint8)
        self.lives = np.zeros(num_lanes, dtype=np.int64)
        self._resetting: dict[int, Future] = {}  # lane -> its reset, on a background thread
        self._stepping: set[int] = set()  # lanes sent a step not yet received
        self._resets = ThreadPoolExecutor(max_workers=RESET_THREADS, thread_name_prefix="amn-env-reset")

    # ------------------------------------------------------------------ resets
    def start_reset(self, lane: int, seed: int) -> None:
        """Reset `lane`'s env with `seed` on a background thread; `ready(lane)` tells when done."""
        self._resetting[lane] = self._resets.submit(self.envs[lane].reset, seed=np.array([seed], dtype=np.int64))

    def ready(self, lane: int) -> bool:
        """False while `lane`'s reset runs; once done, its first observation is in `obs`."""
        future = self._resetting.get(lane)
        if future is None:
            return True
        if not future.done():
            return False
        self._finish_reset(lane)
        return True

    def wait_for_a_reset(self) -> None:
        """Block until one of the running resets is done (any, if several)."""
        if self._resetting:
            from concurrent.futures import FIRST_COMPLETED, wait

            wait(list(self._resetting.values()), return_when=FIRST_COMPLETED)

    def reset(self, lanes, seeds) -> None:
        """Reset `lanes` with `seeds` (one each), all at once, and wait for them."""
        for lane, seed in zip(lanes, seeds):
            self.start_reset(int(lane), int(seed))
        for lane in lanes:
            self._finish_reset(int(lane))

    def _finish_reset(self, lane: int) -> None:
        obs, info = self._resetting.pop(lane).result()  # raises the reset's error, if any
        self.obs[lane] = obs[0]
        self.lives[lane] = info["lives"][0]

    # ------------------------------------------------------------------ steps
    def send(self, lanes, actions: np.ndarray) -> np.ndarray:
        """Start one step of each of `lanes` (their envs step on their own threads meanwhile);
        actions: indices into the action set, one per lane. Returns the actions played: the
        same, with FIRE where the environment's protocol presses it (common/fire.py)."""
        played = np.array(actions, copy=True)
        for i, (lane, action) in enumerate(zip(lanes, actions)):
            env = self.envs[lane]
            if isinstance(env, VectorFirePresses):
                played[i] = env.press(np.array([action]))[0]
            # The C++ interface under AtariVectorEnv.send, whose checks and paddle array cost
            # more than the call itself, once per lane and step.
            env.ale.send(np.array([played[i]], dtype=np.int32), FULL_PADDLE)
            self._stepping.add(lane)
        return played

    def recv(self, lanes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Wait for the steps sent to `lanes`: (rewards, terminated, truncated), one per lane;
        their new observations and lives go to `obs` and `lives`."""
        rewards = np.empty(len(lanes), dtype=np.float64)
        terminated = np.empty(len(lanes), dtype=bool)
        truncated = np.empty(len(lanes), dtype=bool)
        for i, lane in enumerate(lanes):
            obs, reward, term, trunc, info = self.envs[lane].recv()
            self._stepping.discard(lane)
            self.obs[lane] = obs[0]
            self.lives[lane] = info["lives"][0]
            rewards[i], terminated[i], truncated[i] = reward[0], term[0], trunc[0]
        return rewards, terminated, truncated

    def step(self, lanes, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self.send(lanes, actions)
        return self.recv(lanes)

    def close(self) -> None:
        """Release every env, once the steps sent and the resets running are over."""
        for lane in self._stepping:
            self.envs[lane].recv()
        self._resets.shutdown(wait=True)
        for env in self.envs:
            env.close()
