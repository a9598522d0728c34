"""The TD objective against hand-computed numbers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from actor_mimic.transfer.losses import bootstrap_values, game_q_values, td_loss, td_targets


class FixedQ(nn.Module):
    """Returns the same Q-values table for every batch: (B, O) = rows of `table` by frame id."""

    def __init__(self, table):
        super().__init__()
        self.table = nn.Parameter(torch.tensor(table, dtype=torch.float32))

    def forward(self, frames):
        return self.table[frames[:, 0, 0, 0].long()]


def frames_of(*ids):
    frames = torch.zeros(len(ids), 4, 2, 2, dtype=torch.uint8)
    frames[:, 0, 0, 0] = torch.tensor(ids, dtype=torch.uint8)
    return frames


ONLINE = FixedQ([[1.0, 5.0, 2.0, 9.0], [4.0, 0.0, 3.0, -1.0]])
TARGET = FixedQ([[10.0, 20.0, 30.0, 40.0], [7.0, 8.0, 6.0, 5.0]])


def test_output_indices_select_the_games_columns():
    q = game_q_values(ONLINE, frames_of(0, 1), torch.tensor([2, 0]))
    assert q.tolist() == [[2.0, 1.0], [3.0, 4.0]]


def test_max_and_double_dqn_bootstrap():
    nxt = frames_of(0, 1)
    assert bootstrap_values(ONLINE, TARGET, nxt, None, double_dqn=False).tolist() == [40.0, 8.0]
    # Double DQN: the online argmax (3 and 0) picks the target's values.
    assert bootstrap_values(ONLINE, TARGET, nxt, None, double_dqn=True).tolist() == [40.0, 7.0]
    # Masked to actions [0, 1, 2]: online argmax 1 and 0.
    index = torch.tensor([0, 1, 2])
    assert bootstrap_values(ONLINE, TARGET, nxt, index, double_dqn=True).tolist() == [20.0, 7.0]


def test_td_targets_and_huber_loss():
    returns = torch.tensor([1.0, 0.5])
    discounts = torch.tensor([0.9**3, 0.0])  # the second transition ended in a terminal
    assert td_targets(returns, discounts, torch.tensor([10.0, 99.0])).tolist() == pytest.approx([1 + 7.29, 0.5])
    online = FixedQ(ONLINE.table.tolist())
    loss, q_taken = td_loss(
        online, TARGET, frames_of(0, 1), torch.tensor([1, 2]), returns, frames_of(1, 0), discounts,
        output_indices=None, double_dqn=False, huber_delta=1.0,
    )  # fmt: skip
    # Q taken: 5 and 3. Targets: 1 + 0.729 * max(7, 8, 6, 5) = 6.832 and 0.5.
    # Errors 1.832 (linear part: 1.832 - 0.5) and 2.5 (2.5 - 0.5); mean of the two.
    assert q_taken.tolist() == [5.0, 3.0]
    assert float(loss.detach()) == pytest.approx(((1.832 - 0.5) + (2.5 - 0.5)) / 2, abs=1e-5)
    loss.backward()
    # The paper's clipped TD error: dL/dQ = clip(Q - target, -1, 1) / B on each taken Q-value.
    grad = online.table.grad
    assert grad[0, 1].item() == pytest.approx(-0.5) and grad[1, 2].item() == pytest.approx(0.5)
    assert int((grad != 0).sum()) == 2
