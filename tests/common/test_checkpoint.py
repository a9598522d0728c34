"""The shared checkpoint format: round trips, and refusals of bad files."""

import json

import pytest
import torch
from safetensors.torch import save_file

from actor_mimic.common.atari import AtariConfig
from actor_mimic.common.checkpoint import (
    file_sha256,
    load_checkpoint,
    random_init_expert,
    read_metadata,
    save_checkpoint,
)
from actor_mimic.errors import UserError


@pytest.fixture
def expert():
    return random_init_expert(AtariConfig("pong"), seed=3)


def test_round_trip_keeps_weights_and_metadata(tmp_path, expert):
    path = save_checkpoint(tmp_path / "pong.safetensors", expert.network, expert.metadata)
    loaded = load_checkpoint(path)
    assert loaded.metadata == expert.metadata
    assert loaded.metadata.action_sets == {"pong": [0, 1, 3, 4, 11, 12]}
    assert loaded.sha256 == file_sha256(path)
    frames = torch.randint(0, 256, (5, 4, 84, 84), dtype=torch.uint8)
    with torch.no_grad():
        assert torch.equal(loaded.network(frames), expert.network(frames))


def test_float16_checkpoints_load_as_float32(tmp_path, expert):
    path = save_checkpoint(tmp_path / "half.safetensors", expert.network, expert.metadata, torch.float16)
    loaded = load_checkpoint(path)
    weight = loaded.network.head.weight
    assert weight.dtype == torch.float32
    assert torch.equal(weight, expert.network.head.weight.half().float())


def test_metadata_is_readable_without_the_weights(tmp_path, expert):
    path = save_checkpoint(tmp_path / "e.safetensors", expert.network, expert.metadata)
    assert read_metadata(path).provenance == {"source": "random-init", "trained": False, "seed": 3}


def test_missing_file(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.safetensors")


def test_a_pickle_is_refused_not_loaded(tmp_path, expert):
    path = tmp_path / "model.pt"
    torch.save(expert.network.state_dict(), path)
    with pytest.raises(UserError, match="not a readable safetensors checkpoint"):
        load_checkpoint(path)


def test_safetensors_without_our_metadata(tmp_path, expert):
    path = tmp_path / "bare.safetensors"
    save_file(dict(expert.network.state_dict()), str(path))
    with pytest.raises(UserError, match="without actor-mimic metadata"):
        load_checkpoint(path)


def save_with_metadata(path, expert, **changes):
    """The expert's weights under metadata edited by hand, as a tampered or foreign file."""
    metadata = {**json.loads(expert.metadata.to_json()), **changes}
    save_file(dict(expert.network.state_dict()), str(path), metadata={"actor_mimic": json.dumps(metadata)})
    return path


def test_action_count_must_match_the_action_set(tmp_path, expert):
    path = save_with_metadata(tmp_path / "bad.safetensors", expert, num_actions=4)
    with pytest.raises(UserError, match="has 4 outputs but its action set for pong has 6"):
        load_checkpoint(path)


def test_newer_format_is_refused(tmp_path, expert):
    path = save_with_metadata(tmp_path / "new.safetensors", expert, format_version=99)
    with pytest.raises(UserError, match="upgrade actor-mimic"):
        read_metadata(path)


def test_nan_weights_are_refused(tmp_path, expert):
    with torch.no_grad():
        expert.network.head.bias[0] = float("nan")
    path = save_checkpoint(tmp_path / "nan.safetensors", expert.network, expert.metadata)
    with pytest.raises(UserError, match="NaN"):
        load_checkpoint(path)
