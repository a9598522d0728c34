"""One in-memory episode per environment, until the episode ends and goes to the store.

The envs run in parallel, so their episodes interleave in time, while a store keeps each
episode's steps contiguous. Each env therefore fills its own buffer of preallocated arrays
(grown by doubling), and the whole episode is appended to the store when it ends. Memory is
the sum of the running episodes' lengths: about 9 KB per step with float32 fc activations.
"""

from __future__ import annotations

import numpy as np

INITIAL_CAPACITY = 512


class EpisodeBuffer:
    """The steps of one env's running episode, in the store's per-step fields.

    A step is written in two halves: `add_state` when the action is chosen (frame, lives,
    action, labels), `add_outcome` when the env has answered (reward, terminated, truncated).
    """

    def __init__(self, fields: dict[str, tuple[tuple, np.dtype]]):
        self.fields = fields
        self.length = 0
        self.arrays = {name: np.empty((INITIAL_CAPACITY, *tail), dtype) for name, (tail, dtype) in fields.items()}

    def add_state(self, frame, lives, action, q_values, hidden) -> None:
        if self.length == len(self.arrays["actions"]):
            self._grow()
        t = self.length
        arrays = self.arrays
        arrays["frames"][t] = frame
        arrays["lives"][t] = lives
        arrays["actions"][t] = action
        arrays["q_values"][t] = q_values
        arrays["hidden"][t] = hidden

    def add_outcome(self, reward, terminated, truncated) -> None:
        t = self.length
        self.arrays["rewards"][t] = reward
        self.arrays["terminated"][t] = terminated
        self.arrays["truncated"][t] = truncated
        self.length = t + 1

    def take(self, cut: bool = False) -> dict[str, np.ndarray]:
        """The episode's steps (copies), and an empty buffer. `cut` marks the last step
        truncated: the episode was stopped by the budget or an interruption, not by the game."""
        steps = {name: array[: self.length].copy() for name, array in self.arrays.items()}
        if cut and self.length and not steps["terminated"][-1]:
            steps["truncated"][-1] = True
        self.length = 0
        return steps

    def _grow(self) -> None:
        for name, array in self.arrays.items():
            bigger = np.empty((2 * len(array), *array.shape[1:]), array.dtype)
            bigger[: len(array)] = array
            self.arrays[name] = bigger
