"""Playing a logit teacher by sampling: the inverse-CDF draw and the epsilon rule around it."""

import math

import numpy as np
import torch

from actor_mimic.common.policies import epsilon_sample, epsilon_sample_from_uniforms, sample_from_uniforms


def test_a_uniform_picks_the_action_whose_cumulative_probability_first_exceeds_it():
    logits = np.array([[0.0, math.log(3.0)]] * 4)  # policy (0.25, 0.75)
    assert sample_from_uniforms(logits, np.array([0.0, 0.2499, 0.25, 0.9999])).tolist() == [0, 0, 1, 1]


def test_an_output_at_minus_infinity_is_never_drawn():
    logits = np.array([[0.0, -np.inf, 0.0, -np.inf]] * 1000)
    drawn = sample_from_uniforms(logits, np.random.default_rng(0).random(1000))
    assert set(drawn.tolist()) == {0, 2} and 400 < (drawn == 0).sum() < 600


def test_the_epsilon_rule_explores_with_the_first_draw_and_samples_with_the_second():
    logits = np.array([[10.0, 0.0, 0.0]] * 3)  # almost surely action 0 when sampled
    uniforms = np.array([[0.01, 0.9], [0.5, 0.9], [0.5, 0.1]])  # explore; sample; sample
    assert epsilon_sample_from_uniforms(logits, 0.05, uniforms, 3).tolist() == [2, 0, 0]


def test_sampling_follows_the_policy_over_the_valid_outputs_only():
    logits = torch.tensor([[0.0, math.log(3.0), 5.0]]).repeat(4000, 1)  # output 2 is not the game's
    valid, env_index = np.array([True, True, False]), np.array([1, 0, -1])
    actions = epsilon_sample(logits, valid, env_index, 0.0, np.random.default_rng(0), 2)
    assert set(actions.tolist()) == {0, 1}
    assert abs((actions == 0).mean() - 0.75) < 0.03  # output 1 (prob 3/4) is env action 0
