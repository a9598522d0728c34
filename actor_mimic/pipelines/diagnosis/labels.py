"""Two policies on the same states: the student's and its teacher's action probabilities, and
how far apart they are.

    teacher policy  pi_T(a|s) = softmax(outputs_T(s, a) / tau)     over the game's actions
    student policy  pi_S(a|s) = softmax(outputs_S(s, a) / tau_S)
    agreement       1 where argmax_a pi_S = argmax_a pi_T (the greedy actions agree)
    KL              KL(pi_T || pi_S) = sum_a pi_T(a|s) (log pi_T(a|s) - log pi_S(a|s))
    teacher's cost  outputs_T(s, argmax pi_T) - outputs_T(s, argmax pi_S): what the student's
                    greedy action loses by the teacher's Q-values (0 where they agree)

A DQN expert's outputs are Q-values and softmax(Q/tau) is the Boltzmann policy an AMN is
distilled towards, so the KL here is the one `amn distill` logs on expert states
(distill/losses.py `kl_expert_amn`), measured on the student's own states instead. A teacher
whose outputs are action logits (a policy-gradient teacher) enters the same way, its policy
softmax(logits / tau) (tau = 1: its own policy); only the teacher's cost, a difference of
Q-values, means nothing for it. The student's tau_S is 1 for an AMN (its logits enter a plain
softmax, as in training) and tau for a student whose outputs are Q-values (a DQN).

Everything is computed in float64 numpy from the float32 outputs the networks gave, so the
saved outputs reproduce every number exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from actor_mimic.common.checkpoint import Checkpoint
from actor_mimic.common.policies import game_columns
from actor_mimic.errors import UserError

Q_VALUES, LOGITS = "q_values", "logits"


@dataclass
class Policy:
    """A network that plays or labels one game, its outputs gathered onto the game's actions.

    columns: (A,) the output column of each game action, in action-set order.
    outputs: Q_VALUES or LOGITS: what the outputs are, which decides `tau` and the teacher's cost.
    tau: the softmax temperature of its policy.
    """

    network: nn.Module
    columns: list[int]
    outputs: str
    tau: float

    def outputs_at(self, frames: torch.Tensor) -> np.ndarray:
        """float32 (B, A): its outputs for uint8 frames (B, K, H, W), over the game's actions."""
        with torch.no_grad():
            values = self.network(frames)
        return values[:, self.columns].float().cpu().numpy()


def policy_for_game(checkpoint: Checkpoint, game_actions: list[int], outputs: str, tau: float, role: str) -> Policy:
    """The checkpoint's network over `game_actions` (ALE ids); refused if it lacks one of them."""
    metadata = checkpoint.metadata
    if metadata.kind == "amn":  # output i is ALE action i
        output_actions = list(range(metadata.num_actions))
    else:  # output i is its game's action i
        output_actions = list(metadata.action_sets[metadata.games[0]])
    try:
        columns = game_columns(output_actions, game_actions)
    except ValueError as error:
        raise UserError(f"{checkpoint.path}: the {role} cannot label this game's actions ({error})") from None
    checkpoint.network.eval()
    return Policy(checkpoint.network, columns, outputs, tau)


def outputs_of(checkpoint: Checkpoint) -> str:
    """What a checkpoint's outputs are: an AMN's are logits; an expert's, Q-values (a DQN's),
    unless its metadata says it outputs action logits (a policy-gradient teacher)."""
    if checkpoint.metadata.kind == "amn":
        return LOGITS
    declared = (checkpoint.metadata.provenance or {}).get("outputs")
    return LOGITS if declared == LOGITS else Q_VALUES


def log_policy(outputs: np.ndarray, tau: float) -> np.ndarray:
    """float64 (T, A): log softmax(outputs / tau) over the last axis."""
    scaled = np.asarray(outputs, dtype=np.float64) / tau
    shifted = scaled - scaled.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


@dataclass
class Comparison:
    """Per state (T,): the teacher's policy and how the student's differs from it (see the
    module docstring)."""

    teacher_probs: np.ndarray  # float32 (T, A)
    student_greedy: np.ndarray  # int64 (T,) index into the game's actions
    teacher_greedy: np.ndarray  # int64 (T,)
    agree: np.ndarray  # bool (T,)
    kl: np.ndarray  # float64 (T,)
    teacher_cost: np.ndarray  # float64 (T,); NaN for a logits teacher


def compare(student_outputs: np.ndarray, student_tau: float, teacher_outputs: np.ndarray, teacher_tau: float,
            teacher_kind: str) -> Comparison:  # fmt: skip
    """The two policies on the same T states: outputs (T, A) each, over the game's actions."""
    log_student = log_policy(student_outputs, student_tau)
    log_teacher = log_policy(teacher_outputs, teacher_tau)
    teacher_probs = np.exp(log_teacher)
    student_greedy = np.argmax(student_outputs, axis=1).astype(np.int64)
    teacher_greedy = np.argmax(teacher_outputs, axis=1).astype(np.int64)
    rows = np.arange(len(student_greedy))
    values = np.asarray(teacher_outputs, dtype=np.float64)
    cost = values[rows, teacher_greedy] - values[rows, student_greedy]
    return Comparison(
        teacher_probs=teacher_probs.astype(np.float32),
        student_greedy=student_greedy,
        teacher_greedy=teacher_greedy,
        agree=student_greedy == teacher_greedy,
        kl=(teacher_probs * (log_teacher - log_student)).sum(axis=1),
        teacher_cost=cost if teacher_kind == Q_VALUES else np.full(len(cost), np.nan),
    )
