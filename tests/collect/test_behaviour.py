"""Another policy acts while the expert labels: the paper's "student acts" regime."""

from __future__ import annotations

import numpy as np
import torch

from actor_mimic.collect import CollectConfig, collect
from actor_mimic.common.checkpoint import Checkpoint, CheckpointMetadata, random_init_expert
from actor_mimic.common.networks import build_network
from tests.collect.conftest import BREAKOUT, read_store
from tests.collect.test_fidelity import expert_labels, stored_stacks


def random_amn(expert) -> Checkpoint:
    """An untrained AMN over all 18 ALE actions that (among others) plays Breakout."""
    torch.manual_seed(11)
    metadata = CheckpointMetadata(
        kind="amn", architecture="nature_dqn", num_actions=18, games=["breakout", "pong"],
        action_sets={"breakout": [0, 1, 3, 4], "pong": [0, 1, 3, 4, 11, 12]}, atari=expert.metadata.atari,
    )  # fmt: skip
    return Checkpoint(build_network("nature_dqn", 18).eval(), metadata)


def test_an_amn_acts_over_the_games_actions_and_the_expert_labels(tmp_path, expert):
    amn = random_amn(expert)
    path = collect(
        CollectConfig(
            expert=expert,
            behaviour=amn,
            behaviour_epsilon=0.0,
            round="dagger-1",
            out=tmp_path / "s.zarr",
            steps=150,
            num_envs=1,
        )
    )
    arrays, info = read_store(path)
    stacks = stored_stacks(arrays)
    with torch.inference_mode():
        amn_scores = amn.network(torch.from_numpy(stacks)).numpy()
    # Greedy over the AMN's Breakout outputs (ALE actions 0, 1, 3, 4), as indices of that set.
    np.testing.assert_array_equal(arrays["actions"], amn_scores[:, [0, 1, 3, 4]].argmax(axis=1))
    assert not np.array_equal(arrays["actions"], amn_scores.argmax(axis=1)), "masking matters here"
    q_values, _ = expert_labels(expert, stacks, batch_size=1)
    np.testing.assert_array_equal(arrays["q_values"], q_values)  # the expert still labels
    behaviour = info.attrs["behaviour"]
    assert behaviour["policy"]["kind"] == "amn" and behaviour["policy"]["in_memory"] is True
    assert behaviour["epsilon"] == 0.0 and behaviour["round"] == "dagger-1"


def test_another_expert_of_the_game_acts(tmp_path, expert):
    other = random_init_expert(BREAKOUT, seed=9)
    config = CollectConfig(expert=expert, behaviour=other, epsilon=0.0, out=tmp_path / "s.h5", steps=120, num_envs=1)
    path = collect(config)
    arrays, info = read_store(path)
    stacks = stored_stacks(arrays)
    other_q, _ = expert_labels(other, stacks, batch_size=1)
    np.testing.assert_array_equal(arrays["actions"], other_q.argmax(axis=1))
    assert info.attrs["behaviour"]["policy"]["kind"] == "expert"
    assert info.attrs["behaviour"]["epsilon"] == 0.0  # no --behaviour-epsilon: --epsilon applies
