"""The DQN objective as small pure functions (dqn_zoo style).

A network may have more outputs than the game has actions: a DQN initialised from an AMN keeps
the AMN's 18-way output layer. `output_indices` (A,) picks, for each of the game's actions,
its output column, so the learner acts and bootstraps over the game's valid actions only.
`None` means the outputs are exactly the game's actions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def game_q_values(network: nn.Module, frames: torch.Tensor, output_indices: torch.Tensor | None) -> torch.Tensor:
    """float32 (B, A): the network's Q-values over the game's actions, for uint8 frames (B, K, H, W)."""
    q_values = network(frames)
    return q_values if output_indices is None else q_values.index_select(1, output_indices)


def bootstrap_values(
    online: nn.Module,
    target: nn.Module,
    next_frames: torch.Tensor,
    output_indices: torch.Tensor | None,
    double_dqn: bool,
) -> torch.Tensor:
    """float32 (B,): max_a Q_target(s', a), or Q_target(s', argmax_a Q_online(s', a)) with Double DQN."""
    with torch.no_grad():
        target_q = game_q_values(target, next_frames, output_indices)
        if not double_dqn:
            return target_q.max(dim=1).values
        best = game_q_values(online, next_frames, output_indices).argmax(dim=1, keepdim=True)
        return target_q.gather(1, best).squeeze(1)


def td_targets(returns: torch.Tensor, bootstrap_discounts: torch.Tensor, next_values: torch.Tensor) -> torch.Tensor:
    """float32 (B,): r_t + ... + gamma^(n-1) r_{t+n-1} + gamma^n V(s_{t+n}); the discount is 0 after a terminal."""
    return returns + bootstrap_discounts * next_values


def td_loss(
    online: nn.Module,
    target: nn.Module,
    frames: torch.Tensor,
    actions: torch.Tensor,
    returns: torch.Tensor,
    next_frames: torch.Tensor,
    bootstrap_discounts: torch.Tensor,
    output_indices: torch.Tensor | None = None,
    double_dqn: bool = False,
    huber_delta: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(scalar loss, detached (B,) Q-values of the actions taken).

    The Huber loss with delta 1 is the paper's "TD error clipped to [-1, 1]": its gradient is
    the TD error, clipped. Averaged over the batch.
    """
    q_taken = game_q_values(online, frames, output_indices).gather(1, actions[:, None]).squeeze(1)
    next_values = bootstrap_values(online, target, next_frames, output_indices, double_dqn)
    targets = td_targets(returns, bootstrap_discounts, next_values)
    loss = F.huber_loss(q_taken, targets, delta=huber_delta)
    return loss, q_taken.detach()
