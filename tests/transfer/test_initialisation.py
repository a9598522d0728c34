"""Transfer initialisation copies the AMN exactly, masks to the game's actions, refuses mismatches."""

from __future__ import annotations

import pytest
import torch

from actor_mimic.common.atari import AtariConfig, action_set
from actor_mimic.common.checkpoint import CheckpointMetadata, random_init_expert, save_checkpoint
from actor_mimic.common.networks import build_network
from actor_mimic.errors import UserError
from actor_mimic.transfer.initialisation import (
    amn_variant,
    expert_network,
    fresh_network,
    network_from_amn,
)
from actor_mimic.transfer.losses import game_q_values

TARGET = AtariConfig("breakout")


def make_amn(path, provenance=None, screen_size=84, stack_size=4, kind="amn", seed=3):
    """A freshly initialised AMN checkpoint trained (nominally) on Pong and Boxing."""
    source = AtariConfig("pong", screen_size=screen_size, stack_size=stack_size)
    torch.manual_seed(seed)
    network = build_network("nature_dqn", 18, stack_size, screen_size)
    games = ["pong", "boxing"]
    metadata = CheckpointMetadata(
        kind=kind, architecture="nature_dqn", num_actions=18, games=games,
        action_sets={g: list(action_set(AtariConfig(g))) if kind == "amn" else list(range(18)) for g in games},
        atari={k: v for k, v in source.to_dict().items() if k != "game"},
        provenance=provenance or {"beta": 0.0},  # what `amn distill` records for an AMN-policy run
    )  # fmt: skip
    save_checkpoint(path, network, metadata)
    return network


def test_whole_amn_is_copied_and_acts_over_the_games_actions(tmp_path):
    amn = make_amn(tmp_path / "amn.safetensors")
    init = network_from_amn(tmp_path / "amn.safetensors", TARGET)
    expected = amn.state_dict()
    got = init.network.state_dict()
    assert got.keys() == expected.keys()
    for name in expected:
        assert torch.equal(got[name], expected[name]), name
    assert init.output_indices == [0, 1, 3, 4]  # Breakout: NOOP, FIRE, RIGHT, LEFT
    frames = torch.randint(0, 256, (5, 4, 84, 84), dtype=torch.uint8)
    index = torch.tensor(init.output_indices)
    with torch.no_grad():
        q_game = game_q_values(init.network, frames, index)
        assert torch.equal(q_game, amn(frames)[:, [0, 1, 3, 4]])
        # The exported expert has those Q-values as its 4 outputs (its head rows are the same
        # numbers; a 4-wide matmul may round the last bit differently from an 18-wide one).
        expert = expert_network(init.network, init.output_indices)
        assert torch.equal(expert.head.weight, amn.head.weight[[0, 1, 3, 4]])
        torch.testing.assert_close(expert(frames), q_game, rtol=0, atol=1e-6)
    assert init.provenance["amn_variant"] == "policy" and init.provenance["fresh_head"] is False


def test_fresh_head_keeps_the_hidden_layers_and_starts_a_new_output_layer(tmp_path):
    amn = make_amn(tmp_path / "amn.safetensors", provenance={"beta": 0.01})
    init = network_from_amn(tmp_path / "amn.safetensors", TARGET, fresh_head=True, seed=7)
    expected, got = amn.state_dict(), init.network.state_dict()
    for name in expected:
        if not name.startswith("head."):
            assert torch.equal(got[name], expected[name]), name
    assert got["head.weight"].shape == (4, 512) and init.output_indices == [0, 1, 2, 3]
    torch.manual_seed(7)
    fresh_head = torch.nn.Linear(512, 4)
    assert torch.equal(got["head.weight"], fresh_head.weight)
    assert init.provenance["amn_variant"] == "feature"


@pytest.mark.parametrize("change, named", [({"screen_size": 64}, "screen_size"), ({"stack_size": 2}, "stack_size")])
def test_an_amn_with_other_preprocessing_is_refused(tmp_path, change, named):
    make_amn(tmp_path / "amn.safetensors", **change)
    with pytest.raises(UserError, match=f"preprocessing differs.*{named}"):
        network_from_amn(tmp_path / "amn.safetensors", TARGET)


def test_an_expert_checkpoint_is_not_an_amn(tmp_path):
    expert = random_init_expert(AtariConfig("pong"))
    save_checkpoint(tmp_path / "e.safetensors", expert.network, expert.metadata)
    with pytest.raises(UserError, match="needs an AMN checkpoint"):
        network_from_amn(tmp_path / "e.safetensors", TARGET)


def test_fresh_network_is_seeded():
    a, b = fresh_network(TARGET, seed=4), fresh_network(TARGET, seed=4)
    assert torch.equal(a.network.head.weight, b.network.head.weight)
    assert a.output_indices == [0, 1, 2, 3] and a.network.head.out_features == 4


def test_amn_variant_reads_provenance():
    def meta(provenance):
        return CheckpointMetadata("amn", "nature_dqn", 18, ["pong"], {"pong": [0]}, {}, provenance)

    assert amn_variant(meta({"beta": 0.01})) == "feature"
    assert amn_variant(meta({"beta": 0.0})) == "policy"
    assert amn_variant(meta({})) == "unknown"
