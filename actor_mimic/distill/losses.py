"""The Actor-Mimic objective and its metrics, as small pure functions.

Notation (Parisotto, Ba & Salakhutdinov 2016, section 3). For a state s of game i, whose valid
actions are A_i (a subset of the 18 ALE actions, given as a boolean `action_mask`):

    expert policy     pi_E(a|s)   = exp(Q_E(s,a)/tau) / sum_{a' in A_i} exp(Q_E(s,a')/tau)
    AMN policy        pi_AMN(a|s) = exp(z(s,a))       / sum_{a' in A_i} exp(z(s,a'))
    policy regression L_policy    = - sum_{a in A_i} pi_E(a|s) log pi_AMN(a|s)
    feature regr.     L_feature   = 1/2 || f_i(h_AMN(s)) - h_E(s) ||^2
    Actor-Mimic       L           = L_policy + beta * L_feature

tau divides only the expert's Q-values; the AMN's logits z enter a plain softmax. A policy-
gradient teacher (PPO, A2C) gives its action logits instead of Q_E: the same formulas then
give softmax(logits_E / tau), its own policy at tau = 1. tau is a number, or a (B, 1) tensor
when the samples' teachers differ (module.py). Both
softmaxes run over A_i only: invalid actions get logit -inf, hence exactly zero probability,
and a loss never depends on the values at invalid actions. The 1/2 in L_feature is the
convention of the original code (its gradient is beta * (f_i(h) - h_E)), so beta = 0.01 is
the paper's setting.

Every function returns one value per sample, shape (B,); the caller averages (see module.py).
Shapes: logits and q_values (B, 18), action_mask bool (B, 18), hidden (B, H).
"""

from __future__ import annotations

import torch


def masked_log_softmax(logits: torch.Tensor, action_mask: torch.Tensor) -> torch.Tensor:
    """(B, 18): log of the softmax over the valid actions; -inf at invalid actions."""
    return logits.masked_fill(~action_mask, float("-inf")).log_softmax(dim=-1)


def expert_policy(q_values: torch.Tensor, action_mask: torch.Tensor, tau: float | torch.Tensor) -> torch.Tensor:
    """(B, 18): pi_E = softmax(Q_E / tau) over the valid actions; exactly 0 at invalid ones."""
    return masked_log_softmax(q_values / tau, action_mask).exp()


def _sum_valid(values: torch.Tensor, action_mask: torch.Tensor) -> torch.Tensor:
    """(B,): sum over the valid actions only. Invalid entries may be NaN (0 * -inf) or -inf;
    `where` drops them rather than multiplying by a zero mask, which would keep the NaN."""
    return torch.where(action_mask, values, torch.zeros_like(values)).sum(dim=-1)


def policy_regression_loss(
    amn_logits: torch.Tensor, expert_q_values: torch.Tensor, action_mask: torch.Tensor, tau: float | torch.Tensor = 1.0
) -> torch.Tensor:
    """(B,): L_policy = - sum_{a in A_i} pi_E(a|s) log pi_AMN(a|s), the cross-entropy."""
    targets = expert_policy(expert_q_values, action_mask, tau)
    log_amn = masked_log_softmax(amn_logits, action_mask)
    return -_sum_valid(targets * log_amn, action_mask)


def kl_expert_amn(
    amn_logits: torch.Tensor, expert_q_values: torch.Tensor, action_mask: torch.Tensor, tau: float | torch.Tensor = 1.0
) -> torch.Tensor:
    """(B,): KL(pi_E || pi_AMN) = sum_{a in A_i} pi_E (log pi_E - log pi_AMN) >= 0.

    The cross-entropy minus the expert's entropy: 0 exactly when the AMN matches the expert,
    so it reads as "distance left to go" where the policy loss does not.
    """
    log_expert = masked_log_softmax(expert_q_values / tau, action_mask)
    log_amn = masked_log_softmax(amn_logits, action_mask)
    return _sum_valid(log_expert.exp() * (log_expert - log_amn), action_mask)


def feature_regression_loss(predicted_hidden: torch.Tensor, expert_hidden: torch.Tensor) -> torch.Tensor:
    """(B,): L_feature = 1/2 || f_i(h_AMN) - h_E ||^2.

    predicted_hidden: (B, H) f_i(h_AMN(s)) for each sample's game; expert_hidden: (B, H) h_E(s).
    Experts of different hidden sizes are zero-padded to a common H in both arguments, so the
    padding contributes exactly 0.
    """
    return 0.5 * (predicted_hidden - expert_hidden).pow(2).sum(dim=-1)


def actor_mimic_loss(policy_loss: torch.Tensor, feature_loss: torch.Tensor, beta: float) -> torch.Tensor:
    """L = L_policy + beta * L_feature (beta = 0 gives the paper's AMN-policy variant)."""
    return policy_loss + beta * feature_loss


def greedy_agreement(
    amn_logits: torch.Tensor, expert_q_values: torch.Tensor, action_mask: torch.Tensor
) -> torch.Tensor:
    """(B,) float: 1 where the AMN's best valid action is the expert's best valid action."""
    amn_best = amn_logits.masked_fill(~action_mask, float("-inf")).argmax(dim=-1)
    expert_best = expert_q_values.masked_fill(~action_mask, float("-inf")).argmax(dim=-1)
    return (amn_best == expert_best).float()
