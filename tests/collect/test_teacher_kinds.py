"""Collecting from a logit teacher (greedy or sampling, recorded) and under a FIRE protocol."""

from __future__ import annotations

import dataclasses

import numpy as np

from actor_mimic.collect import CollectConfig, collect
from actor_mimic.common.checkpoint import Checkpoint, random_init_expert
from actor_mimic.store import render_card, teacher_outputs
from tests.collect.conftest import BREAKOUT, read_store

FIRE = 1  # Breakout's action set is [NOOP, FIRE, RIGHT, LEFT]: FIRE is index 1


def logit_teacher(seed=0, **atari) -> Checkpoint:
    """An untrained network recorded as a PPO-like teacher: its outputs are logits and it samples."""
    expert = random_init_expert(dataclasses.replace(BREAKOUT, **atari), seed=seed)
    with_network = dataclasses.replace(expert.metadata, outputs="logits", acting="sample")
    with_network.provenance |= {"library": "stable-baselines3", "algorithm": "ppo"}
    return Checkpoint(expert.network, with_network)


def test_a_sampling_logit_teacher_draws_from_its_policy_and_says_so(tmp_path):
    store = collect(CollectConfig(expert=logit_teacher(), out=tmp_path / "s.zarr", steps=600, num_envs=2,
                                  epsilon=0.0, seed=0, chunk_len=64))  # fmt: skip
    arrays, info = read_store(store)
    assert teacher_outputs(info.attrs) == "logits"
    assert (info.attrs["expert"]["library"], info.attrs["expert"]["algorithm"]) == ("stable-baselines3", "ppo")
    assert info.attrs["behaviour"]["acting"] == "sample"
    logits = arrays["q_values"].astype(np.float64)
    policy = np.exp(logits - logits.max(axis=1, keepdims=True))
    policy /= policy.sum(axis=1, keepdims=True)
    greedy = arrays["actions"] == logits.argmax(axis=1)
    # An untrained network's policy is near uniform: sampling leaves the argmax often, and as
    # often as the policy says (within 4 standard deviations over 600 steps).
    expected = policy.max(axis=1)
    assert abs(greedy.sum() - expected.sum()) < 4 * np.sqrt((expected * (1 - expected)).sum())
    assert greedy.mean() < 0.6

    text = render_card(store)
    assert "action logits (its policy is their softmax)" in text
    assert "| library and algorithm | stable-baselines3 ppo |" in text and "| acting | sample |" in text


def test_acting_greedy_plays_the_best_logit(tmp_path):
    store = collect(CollectConfig(expert=logit_teacher(), out=tmp_path / "g.zarr", steps=300, num_envs=2,
                                  epsilon=0.0, seed=0, chunk_len=64, acting="greedy"))  # fmt: skip
    arrays, info = read_store(store)
    assert info.attrs["behaviour"]["acting"] == "greedy"
    assert np.array_equal(arrays["actions"], arrays["q_values"].argmax(axis=1))


def test_a_recorded_fire_protocol_presses_fire_and_a_flag_turns_it_off(tmp_path):
    teacher = logit_teacher(fire_on_reset=True, fire_on_life_loss=True)
    store = collect(CollectConfig(expert=teacher, out=tmp_path / "f.zarr", steps=800, num_envs=1, epsilon=1.0,
                                  seed=0, chunk_len=64))  # fmt: skip
    arrays, info = read_store(store)
    assert info.attrs["atari"]["fire_on_reset"] and info.attrs["atari"]["fire_on_life_loss"]
    starts = arrays["episode_starts"]
    assert (arrays["actions"][starts] == FIRE).all()  # every episode starts with FIRE
    lives, actions = arrays["lives"].astype(int), arrays["actions"]
    lost = np.flatnonzero(lives[1:] < lives[:-1]) + 1  # steps whose observation shows a life fewer
    lost = lost[~np.isin(lost, starts)]
    assert len(lost) >= 2 and (actions[lost] == FIRE).all()  # the step after each lost life fires

    off = collect(CollectConfig(expert=teacher, out=tmp_path / "off.zarr", steps=200, num_envs=1, epsilon=0.0,
                                seed=0, chunk_len=64, fire_on_reset=False, fire_on_life_loss=False,
                                acting="greedy"))  # fmt: skip
    arrays, info = read_store(off)
    assert not info.attrs["atari"]["fire_on_reset"] and not info.attrs["atari"]["fire_on_life_loss"]
    assert np.array_equal(arrays["actions"], arrays["q_values"].argmax(axis=1))
