"""One chunk of rows per lane, filled as its environment steps, then handed to the store.

Steps go to the store as they come, not when an episode ends: each lane fills a buffer of
one chunk (`chunk_len` rows, preallocated) and hands it over when full, so a kill loses at
most one chunk per lane, running episodes included. Memory is num_envs chunks: about 8 MB per
lane with the default 1024-row chunks, 84x84 frames and 512 float16 activations.
"""

from __future__ import annotations

import numpy as np


class RowBuffer:
    """The rows of one lane not yet handed to the store, in the store's per-step fields.

    A step is written in two halves: `add_state` when the action is chosen (frame, lives,
    action, labels), `add_outcome` when the env has answered (reward, terminated, truncated).
    """

    def __init__(self, fields: dict[str, tuple[tuple, np.dtype]], capacity: int):
        self.length = 0
        self.arrays = {name: np.empty((capacity, *tail), dtype) for name, (tail, dtype) in fields.items()}

    @property
    def full(self) -> bool:
        return self.length == len(self.arrays["actions"])

    def add_state(self, frame, lives, action, q_values, hidden) -> None:
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

    def take(self) -> dict[str, np.ndarray]:
        """The buffered rows (the arrays themselves, handed over), and a fresh buffer."""
        rows = {name: array[: self.length] for name, array in self.arrays.items()}
        self.arrays = {name: np.empty_like(array) for name, array in self.arrays.items()}
        self.length = 0
        return rows
