"""The learning part of a DQN run: the online and target networks, the optimiser, the TD update.

    q_values(frames)            uint8 (N, K, H, W) -> float32 (N, A) the online game Q-values
    updates_due(step, replay)   how many updates the run owes after `step` agent steps
    update(batch)               one gradient step on a replay minibatch -> `UpdateStatistics`

It draws nothing at random: the minibatch comes in (sampled by the loop from the run's one
random generator), so the same batches give the same weights.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import cast

import numpy as np
import torch
from torch import nn

from actor_mimic.transfer.config import DQNConfig
from actor_mimic.transfer.initialisation import InitialisedNetwork, expert_network
from actor_mimic.transfer.losses import game_q_values, td_loss
from actor_mimic.transfer.replay import ReplayBatch, ReplayMemory


def make_optimizer(config: DQNConfig, parameters) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=config.learning_rate, eps=config.adam_eps)
    # The Nature-DQN RMSProp: centred, squared-gradient momentum 0.95, 0.01 inside the root.
    return torch.optim.RMSprop(
        parameters, lr=config.learning_rate, alpha=config.rmsprop_alpha,
        eps=config.rmsprop_eps, centered=True,
    )  # fmt: skip


@dataclass
class UpdateStatistics:
    """What one update saw, for the logs and for per-update hooks (`DQNLearner.update_hooks`).

    update    the update's number, 1 for the run's first
    loss      the TD loss of the minibatch (before the gradient step)
    q_taken   float32 (B,) online Q-values of the actions taken (before the gradient step)
    batch     the minibatch itself (frames, actions, returns, ...)
    """

    update: int
    loss: float
    q_taken: torch.Tensor
    batch: ReplayBatch

    @property
    def mean_q(self) -> float:
        return float(self.q_taken.mean())


class QLearning:
    """Trains `init.network` with the DQN objective (losses.py) over the game's actions.

    A network may have more outputs than the game has actions (an AMN's full action set):
    `output_indices` (A,) are the outputs of the game's actions, in action-set order.
    """

    def __init__(self, config: DQNConfig, init: InitialisedNetwork):
        self.config = config
        self.online = init.network.cpu().train()
        self.output_indices = list(init.output_indices)
        self.num_outputs = cast(nn.Linear, self.online.head).out_features
        identity = self.output_indices == list(range(self.num_outputs))
        self.index = None if identity else torch.as_tensor(self.output_indices, dtype=torch.long)
        self.target = copy.deepcopy(self.online).eval()
        self.target.requires_grad_(False)
        self.optimizer = make_optimizer(config, self.online.parameters())
        self.updates = 0
        self.last_loss, self.last_mean_q = math.nan, math.nan  # of the newest update, for the logs

    def q_values(self, frames: np.ndarray) -> torch.Tensor:
        """float32 (N, A): the online network's Q-values over the game's actions."""
        with torch.no_grad():
            return game_q_values(self.online, torch.from_numpy(frames), self.index)

    def updates_due(self, step: int, replay: ReplayMemory) -> int:
        """Updates owed after `step` agent steps: one per `train_every` from `learning_starts` on."""
        c = self.config
        if step < c.learning_starts or not replay.can_sample(c.n_step):
            return 0
        return (step - c.learning_starts) // c.train_every + 1

    def update(self, batch: ReplayBatch) -> UpdateStatistics:
        """One gradient step on `batch`; sync the target network every `target_update_updates`."""
        c = self.config
        loss, q_taken = td_loss(
            self.online, self.target,
            torch.from_numpy(batch.frames), torch.from_numpy(batch.actions),
            torch.from_numpy(batch.returns), torch.from_numpy(batch.next_frames),
            torch.from_numpy(batch.bootstrap_discounts),
            self.index, c.double_dqn, c.huber_delta,
        )  # fmt: skip
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if c.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(self.online.parameters(), c.max_grad_norm)
        self.optimizer.step()
        self.updates += 1
        if self.updates % c.target_update_updates == 0:
            self.target.load_state_dict(self.online.state_dict())
        statistics = UpdateStatistics(self.updates, float(loss.detach()), q_taken, batch)
        self.last_loss, self.last_mean_q = statistics.loss, statistics.mean_q
        return statistics

    def expert(self) -> nn.Module:
        """A copy of the online network with exactly the game's actions as outputs."""
        return expert_network(self.online, self.output_indices).eval()

    # --- checkpoints (the tensors are saved by run_state.py) -----------------------------
    def get_state(self) -> dict:
        return {
            "architecture": self.online.architecture, "num_outputs": self.num_outputs,
            "output_indices": self.output_indices, "updates": self.updates,
            "last_loss": self.last_loss, "last_mean_q": self.last_mean_q,
        }  # fmt: skip

    def set_state(self, state: dict) -> None:
        self.updates, self.last_loss, self.last_mean_q = state["updates"], state["last_loss"], state["last_mean_q"]
