"""Finite labels: a store never holds NaN or infinite Q-values or activations.

One check for every side of a store: the writer refuses such rows before writing them (a
collection fails there, naming the expert), `verify` lists where a store holds them, and the
loader refuses them on read (a store edited or damaged after its checksums were recorded).
"""

from __future__ import annotations

import numpy as np

from actor_mimic.errors import UserError


class NonFiniteValues(UserError):
    """Q-values or activations that hold NaN or infinities. `name`: the field; `step`: the first bad one."""

    def __init__(self, message: str, name: str, step: int):
        super().__init__(message)
        self.name = name
        self.step = step


def non_finite_rows(values: np.ndarray) -> np.ndarray:
    """int64 (k,): the rows of `values` (N, ...) that hold NaN or infinities, in order."""
    if len(values) == 0 or not _may_hold_non_finite(values):
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(~np.isfinite(values).reshape(len(values), -1).all(axis=1))


def _may_hold_non_finite(values: np.ndarray) -> bool:
    """False when every value is surely finite: the quick test before the exact scan."""
    if values.dtype == np.float16:
        # NaN and infinities are the float16 values whose 5 exponent bits are all set. A test
        # of the bits takes an eighth of the time of a sum, which numpy does in software for
        # float16 (about 1 us per row of 512).
        exponents = np.bitwise_and(values.view(np.uint16), 0x7C00)
        return bool(exponents.max(initial=0) == 0x7C00)
    # A sum is non-finite whenever a term is (NaN and inf propagate) and allocates nothing;
    # only a non-finite sum (or one that overflowed) needs the exact, element-wise scan.
    with np.errstate(over="ignore", invalid="ignore"):
        total = values.sum(dtype=np.float64 if values.dtype == np.float64 else np.float32)
    return not np.isfinite(total)


def check_finite(values: np.ndarray, name: str, where, steps: int | np.ndarray) -> None:
    """Raise NonFiniteValues naming `where` (a store, a lane) and the bad steps if `values`
    (N, ...) hold NaN or infinities. steps: the step of row 0 (int), or of every row (N,)."""
    bad = non_finite_rows(values)
    if len(bad) == 0:
        return
    bad_steps = bad + steps if isinstance(steps, (int, np.integer)) else np.asarray(steps)[bad]
    first = int(bad_steps[0])
    raise NonFiniteValues(
        f"{where}: {name} holds NaN or infinite values at {len(bad)} step(s), first at step {first}; "
        "the expert or the store is broken, recollect it",
        name,
        first,
    )
