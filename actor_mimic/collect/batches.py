"""Which lanes the networks label together: all at once, or in two halves that overlap the envs.

The expert labels every lane's observation, and (unless another policy acts) its Q-values
choose the actions, so a lane cannot step before its labels exist. Two groups of lanes break
that wait: while the expert labels one half, the other half's envs step (collector.py), and
the forward pass and the emulators run at the same time on different cores.

But a store must not depend on how fast it was collected. CPU kernels choose their
summation order by batch size (and thread count), so the same observation can get other
low bits in a batch of 4 than in a batch of 8; labels from halves could then differ from
labels of all lanes at once, which is what a store has always held. (A row's result depends
on the batch size only, not on the other rows' values: the kernels reduce within a row.) So
`lane_groups` runs each network on the same frames in one batch and in halves, and splits
the lanes only when every output agrees to the bit; otherwise all lanes stay one batch. Here
(x86-64, torch 2.13, one thread) halves of 8 lanes agree with 8; halves of 2 do not agree
with 2.
"""

from __future__ import annotations

import numpy as np

from actor_mimic.collect.players import Players


def lane_groups(players: Players, num_lanes: int, observation_shape: tuple) -> list[range]:
    """The groups of lanes (contiguous ranges) labelled as one batch each."""
    everyone = [range(num_lanes)]
    if num_lanes < 2:
        return everyone
    half = num_lanes // 2
    halves = [range(half), range(half, num_lanes)]
    frames = np.random.default_rng(0).integers(0, 256, (num_lanes, *observation_shape), dtype=np.uint8)
    whole = _outputs(players, frames)
    for group in halves:
        part = _outputs(players, frames[group.start : group.stop])
        if not all(np.array_equal(a, b[group.start : group.stop]) for a, b in zip(part, whole)):
            return everyone
    return halves


def _outputs(players: Players, frames: np.ndarray) -> list[np.ndarray]:
    """Everything computed from a batch: the expert's Q-values and activations, the actor's scores."""
    q_values, hidden = players.labeller(frames)
    return [q_values, hidden, players.actor.scores(frames, q_values)]
