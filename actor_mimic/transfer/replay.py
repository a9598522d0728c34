"""Replay memory that stores each frame once and rebuilds stacks when sampling.

The learner steps `num_envs` environments in lockstep, so the memory is one ring buffer of
rows, one row per vector step and one column per environment. Each cell holds one
*observation* of one environment:

    frames    uint8 (C, N, H, W)  the newest frame of the observation
    actions   int64 (C, N)        the game action taken from it (index into the action set)
    rewards   float32 (C, N)      the raw reward that action earned
    first     bool (C, N)         the observation starts an episode
    last      bool (C, N)         the observation ends an episode: no action is taken from it
    terminal  bool (C, N)         ... and the episode ended by termination (not truncation)

The environment autoresets in gymnasium's NEXT_STEP mode: after a last observation the next
step is a reset whose action is ignored. So the transition from a cell always goes to the next
row of the same column, and no transition starts from a `last` cell, which is how no
transition crosses an episode boundary.

The stack of cell j holds the frames of j-(K-1) .. j, oldest first, with zero frames before the
episode's first observation: exactly what the environment itself returns (see
`actor_mimic.common.atari`). Nothing here is pickled: `save` writes `.npy` arrays and JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from actor_mimic.common.limits import check_memory
from actor_mimic.common.stacking import stack_offsets
from actor_mimic.errors import UserError

_ARRAYS = ("frames", "actions", "rewards", "first", "last", "terminal")


@dataclass
class ReplayBatch:
    """A minibatch of n-step transitions (numpy; B = batch size, K = stack size).

    frames: uint8 (B, K, H, W); actions: int64 (B,); returns: float32 (B,) the discounted sum
    of the (clipped) rewards of up to n steps; next_frames: uint8 (B, K, H, W) the observation
    to bootstrap from; bootstrap_discounts: float32 (B,) discount**k, or 0 after a terminal.
    """

    frames: np.ndarray
    actions: np.ndarray
    returns: np.ndarray
    next_frames: np.ndarray
    bootstrap_discounts: np.ndarray
    rows: np.ndarray
    envs: np.ndarray


class ReplayMemory:
    """A ring buffer of `capacity` observations (capacity // num_envs rows of num_envs)."""

    def __init__(self, capacity: int, num_envs: int, screen_size: int = 84, stack_size: int = 4):
        check_memory(
            self.bytes_needed(capacity, num_envs, screen_size),
            f"the replay memory of --replay-capacity {capacity}",
            "lower --replay-capacity",
        )
        self.rows = capacity // num_envs
        self.num_envs = num_envs
        self.stack_size = stack_size
        self.frames = np.zeros((self.rows, num_envs, screen_size, screen_size), dtype=np.uint8)
        self.actions = np.zeros((self.rows, num_envs), dtype=np.int64)
        self.rewards = np.zeros((self.rows, num_envs), dtype=np.float32)
        self.first = np.zeros((self.rows, num_envs), dtype=bool)
        self.last = np.zeros((self.rows, num_envs), dtype=bool)
        self.terminal = np.zeros((self.rows, num_envs), dtype=bool)
        self.cursor = 0  # the row the next observation goes to
        self.size = 0  # rows written so far, at most self.rows

    @staticmethod
    def bytes_needed(capacity: int, num_envs: int, screen_size: int = 84) -> int:
        """Bytes the arrays of a memory of `capacity` observations take (checked before they
        are allocated: a mistyped capacity must not take the machine's memory)."""
        rows = capacity // num_envs
        return rows * num_envs * (screen_size * screen_size + 8 + 4 + 3)

    # --- writing -------------------------------------------------------------------------
    def add_observations(
        self, newest_frames: np.ndarray, first: np.ndarray, last: np.ndarray, terminal: np.ndarray
    ) -> None:
        """Append one row: the newest frame (N, H, W) of each environment's observation."""
        row = self.cursor
        self.frames[row] = newest_frames
        self.first[row] = first
        self.last[row] = last
        self.terminal[row] = terminal
        self.actions[row] = 0
        self.rewards[row] = 0.0
        self.cursor = (self.cursor + 1) % self.rows
        self.size = min(self.size + 1, self.rows)

    def record_step(self, actions: np.ndarray, rewards: np.ndarray) -> None:
        """The actions (N,) taken from the newest row and the rewards (N,) they earned."""
        row = (self.cursor - 1) % self.rows
        self.actions[row] = actions
        self.rewards[row] = rewards

    # --- reading -------------------------------------------------------------------------
    def _row(self, logical: np.ndarray) -> np.ndarray:
        """Ring row of logical index (0 = oldest row still held)."""
        return (self.cursor - self.size + logical) % self.rows

    def stacks(self, logical: np.ndarray, envs: np.ndarray) -> np.ndarray:
        """uint8 (B, K, H, W): the observations at logical rows `logical` of columns `envs`.

        Positions before the observation's episode start are zero frames; the caller makes
        sure logical >= K-1 wherever the episode began before the oldest row held.
        """
        logical = np.asarray(logical, dtype=np.int64)
        envs = np.asarray(envs, dtype=np.int64)
        # Row j's episode starts at the newest row flagged first among j-(K-2) .. j; if none
        # is, all K frames are the episode's (the start lies at j-(K-1) or before).
        starts = logical - (self.stack_size - 1)
        for back in range(self.stack_size - 2, -1, -1):  # oldest first: the newest start wins
            starts = np.where(self.first[self._row(logical - back), envs], logical - back, starts)
        offsets, inside = stack_offsets(logical, starts, self.stack_size)
        out = self.frames[self._row(offsets), envs[:, None]]  # (B, K, H, W)
        out[~inside] = 0
        return out

    def can_sample(self, n_step: int) -> bool:
        return self.size - 1 - n_step >= self.stack_size - 1

    def sample(
        self,
        batch_size: int,
        rng: np.random.Generator,
        n_step: int = 1,
        discount: float = 0.99,
        clip_rewards: bool = True,
    ) -> ReplayBatch:
        """Uniformly sampled n-step transitions, none crossing an episode boundary.

        A transition starts at any cell that is not `last`, has K-1 older rows held (so its
        stack is complete) and n newer rows written (so its rewards are known).
        """
        low, high = self.stack_size - 1, self.size - 1 - n_step  # inclusive range of starts
        if high < low:
            raise ValueError("not enough observations in the replay memory to sample")
        logical = np.empty(batch_size, dtype=np.int64)
        envs = np.empty(batch_size, dtype=np.int64)
        missing = np.arange(batch_size)
        while len(missing):  # rejection sampling keeps the draw uniform over valid starts
            logical[missing] = rng.integers(low, high + 1, size=len(missing))
            envs[missing] = rng.integers(0, self.num_envs, size=len(missing))
            missing = missing[self.last[self._row(logical[missing]), envs[missing]]]

        returns = np.zeros(batch_size, dtype=np.float64)
        steps = np.zeros(batch_size, dtype=np.int64)
        alive = np.ones(batch_size, dtype=bool)
        for k in range(n_step):
            reward = self.rewards[self._row(logical + k), envs].astype(np.float64)
            if clip_rewards:
                reward = np.clip(reward, -1.0, 1.0)
            returns += np.where(alive, discount**k * reward, 0.0)
            steps += alive
            alive &= ~self.last[self._row(logical + k + 1), envs]
        next_logical = logical + steps
        ended = self.terminal[self._row(next_logical), envs]
        bootstrap = np.where(ended, 0.0, discount ** steps.astype(np.float64))
        return ReplayBatch(
            frames=self.stacks(logical, envs),
            actions=self.actions[self._row(logical), envs],
            returns=returns.astype(np.float32),
            next_frames=self.stacks(next_logical, envs),
            bootstrap_discounts=bootstrap.astype(np.float32),
            rows=self._row(logical),
            envs=envs,
        )

    # --- persistence ---------------------------------------------------------------------
    def save(self, directory: str | Path) -> None:
        """Write the arrays as `.npy` files plus `replay.json` into `directory` (no pickle)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for name in _ARRAYS:
            np.save(directory / f"replay_{name}.npy", getattr(self, name), allow_pickle=False)
        state = {"cursor": self.cursor, "size": self.size, "rows": self.rows,
                 "num_envs": self.num_envs, "stack_size": self.stack_size}  # fmt: skip
        (directory / "replay.json").write_text(json.dumps(state))

    def load(self, directory: str | Path) -> None:
        """Restore what `save` wrote; the memory must have been built with the same shape."""
        directory = Path(directory)
        state = json.loads((directory / "replay.json").read_text())
        if (state["rows"], state["num_envs"]) != (self.rows, self.num_envs):
            raise UserError(
                f"{directory}: replay memory of {state['rows']}x{state['num_envs']} rows x envs "
                f"does not fit this run's {self.rows}x{self.num_envs}; resume with the same settings"
            )
        for name in _ARRAYS:
            # Memory-mapped, so restoring a large memory does not hold two copies in RAM.
            array = np.load(directory / f"replay_{name}.npy", mmap_mode="r", allow_pickle=False)
            target = getattr(self, name)
            if array.shape != target.shape or array.dtype != target.dtype:
                raise UserError(f"{directory}: replay array {name} has the wrong shape or type")
            target[...] = array
        self.cursor, self.size = int(state["cursor"]), int(state["size"])
