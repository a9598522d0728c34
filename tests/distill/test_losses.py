"""The Actor-Mimic losses against values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from actor_mimic.distill.losses import (
    actor_mimic_loss,
    expert_policy,
    feature_regression_loss,
    greedy_agreement,
    kl_expert_amn,
    masked_log_softmax,
    policy_regression_loss,
)


def mask_of(valid: list[int]) -> torch.Tensor:
    mask = torch.zeros(1, 18, dtype=torch.bool)
    mask[0, valid] = True
    return mask


def row(values: dict[int, float], fill: float = 0.0) -> torch.Tensor:
    out = torch.full((1, 18), fill, dtype=torch.float64)
    for action, value in values.items():
        out[0, action] = value
    return out


VALID = [0, 1, 3]  # three valid actions, e.g. NOOP, FIRE, RIGHT


def test_expert_policy_is_tempered_softmax_over_valid_actions_only():
    q_values = row({0: 1.0, 1: 2.0, 3: 0.0}, fill=50.0)  # huge invalid Q must not matter
    policy = expert_policy(q_values, mask_of(VALID), tau=2.0)
    z = math.exp(0.5) + math.exp(1.0) + math.exp(0.0)
    assert policy[0, 0].item() == pytest.approx(math.exp(0.5) / z, abs=1e-12)
    assert policy[0, 1].item() == pytest.approx(math.exp(1.0) / z, abs=1e-12)
    assert policy[0, 3].item() == pytest.approx(1.0 / z, abs=1e-12)
    invalid = [a for a in range(18) if a not in VALID]
    assert torch.all(policy[0, invalid] == 0.0)  # exactly zero mass


def test_amn_softmax_gives_invalid_actions_exactly_zero_mass():
    logits = row({0: 0.3, 1: -1.0, 3: 2.0}, fill=100.0)
    probabilities = masked_log_softmax(logits, mask_of(VALID)).exp()
    invalid = [a for a in range(18) if a not in VALID]
    assert torch.all(probabilities[0, invalid] == 0.0)
    assert probabilities.sum().item() == pytest.approx(1.0, abs=1e-12)


def test_policy_regression_loss_by_hand():
    # Expert Q (1, 2, 0), tau 1: pi_E = e^(1,2,0)/Z_E. AMN logits (0, 0, ln 2): pi_AMN = (1,1,2)/4.
    q_values = row({0: 1.0, 1: 2.0, 3: 0.0})
    logits = row({0: 0.0, 1: 0.0, 3: math.log(2.0)})
    z_e = math.e + math.e**2 + 1.0
    pi_e = [math.e / z_e, math.e**2 / z_e, 1.0 / z_e]
    pi_amn = [0.25, 0.25, 0.5]
    expected = -sum(p * math.log(q) for p, q in zip(pi_e, pi_amn))
    loss = policy_regression_loss(logits, q_values, mask_of(VALID), tau=1.0)
    assert loss.shape == (1,)
    assert loss.item() == pytest.approx(expected, abs=1e-12)
    expected_kl = sum(p * (math.log(p) - math.log(q)) for p, q in zip(pi_e, pi_amn))
    assert kl_expert_amn(logits, q_values, mask_of(VALID)).item() == pytest.approx(expected_kl, abs=1e-12)


def test_tau_divides_only_the_expert_q_values():
    q_values = row({0: 1.0, 1: 2.0, 3: 0.0})
    logits = row({0: 0.5, 1: -0.5, 3: 0.0})
    # With tau 0.5 the targets are softmax(2, 4, 0); the AMN side is unchanged.
    doubled = policy_regression_loss(logits, 2.0 * q_values, mask_of(VALID), tau=1.0)
    halved_tau = policy_regression_loss(logits, q_values, mask_of(VALID), tau=0.5)
    assert halved_tau.item() == pytest.approx(doubled.item(), abs=1e-12)
    scaled_logits = policy_regression_loss(2.0 * logits, q_values, mask_of(VALID), tau=0.5)
    assert scaled_logits.item() != pytest.approx(halved_tau.item(), abs=1e-6)


def test_losses_ignore_invalid_action_values_and_their_gradients_are_zero():
    q_values = row({0: 1.0, 1: 2.0, 3: 0.0})
    base = row({0: 0.1, 1: 0.2, 3: 0.3})
    changed = base.clone()
    changed[0, [2, 4, 17]] = torch.tensor([1e6, -1e6, float("inf")], dtype=torch.float64)
    mask = mask_of(VALID)
    for loss_fn in (policy_regression_loss, kl_expert_amn):
        assert loss_fn(changed, q_values, mask).item() == loss_fn(base, q_values, mask).item()
    wild_q = q_values.clone()
    wild_q[0, 5] = float("nan")  # even a NaN in an invalid slot must not leak in
    assert policy_regression_loss(base, wild_q, mask).item() == policy_regression_loss(base, q_values, mask).item()
    logits = base.clone().requires_grad_(True)
    policy_regression_loss(logits, q_values, mask).sum().backward()
    invalid = [a for a in range(18) if a not in VALID]
    assert torch.all(logits.grad[0, invalid] == 0.0)
    assert torch.isfinite(logits.grad).all()


def test_policy_loss_per_sample_with_different_action_sets():
    q_values = torch.cat([row({0: 1.0, 1: 2.0, 3: 0.0}), row({0: 0.0, 2: 0.0})])
    logits = torch.zeros(2, 18, dtype=torch.float64)
    mask = torch.cat([mask_of(VALID), mask_of([0, 2])])
    loss = policy_regression_loss(logits, q_values, mask)
    # Uniform AMN over the valid set: cross-entropy = log |A_i| whatever the expert says.
    assert loss.tolist() == pytest.approx([math.log(3.0), math.log(2.0)], abs=1e-12)
    # Second sample: uniform expert too, so the KL is exactly 0.
    assert kl_expert_amn(logits, q_values, mask)[1].item() == pytest.approx(0.0, abs=1e-12)


def test_feature_regression_is_half_squared_error_and_padding_is_free():
    predicted = torch.tensor([[1.0, 2.0, 0.0], [0.5, 0.0, 0.0]], dtype=torch.float64)
    expert = torch.tensor([[0.0, 4.0, 0.0], [1.5, 0.0, 0.0]], dtype=torch.float64)
    # 1/2 (1 + 4) and 1/2 (1): the zero padding of sample 2 adds nothing.
    assert feature_regression_loss(predicted, expert).tolist() == [2.5, 0.5]


def test_actor_mimic_loss_combines_with_beta():
    policy = torch.tensor([1.0, 2.0])
    feature = torch.tensor([10.0, 20.0])
    assert actor_mimic_loss(policy, feature, beta=0.01).tolist() == pytest.approx([1.1, 2.2])
    assert actor_mimic_loss(policy, feature, beta=0.0).tolist() == [1.0, 2.0]


def test_greedy_agreement_uses_valid_actions_only():
    q_values = torch.cat([row({0: 1.0, 1: 2.0, 3: 0.0}, fill=9.0), row({0: 1.0, 1: 2.0, 3: 0.0})])
    logits = torch.cat([row({1: 5.0}, fill=0.0), row({3: 5.0, 17: 99.0})])
    mask = torch.cat([mask_of(VALID), mask_of(VALID)])
    assert greedy_agreement(logits, q_values, mask).tolist() == [1.0, 0.0]
