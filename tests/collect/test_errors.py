"""Every user mistake: exit status 2, one line naming the problem, nothing written or destroyed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from actor_mimic.cli import main
from actor_mimic.collect import CollectConfig, collect
from actor_mimic.common.atari import AtariConfig
from actor_mimic.common.checkpoint import CheckpointMetadata, random_init_expert, save_checkpoint
from actor_mimic.common.networks import build_network
from actor_mimic.errors import UserError
from tests.collect.conftest import BREAKOUT, read_store


def amn_collect(capsys, *args) -> str:
    """Run `amn collect` in-process; assert exit 2 and a one-line message; return it."""
    assert main(["collect", "--no-progress", *map(str, args)]) == 2
    message = capsys.readouterr().err.strip()
    assert message.startswith("amn collect: error: ") and "\n" not in message, message
    return message


def tree_snapshot(path):
    return {p.relative_to(path): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture
def pong_labelled_breakout_file(tmp_path):
    """A checkpoint claiming Pong with Breakout's 4 actions: Pong has 6."""
    config = AtariConfig("pong")
    metadata = CheckpointMetadata(
        kind="expert", architecture="nature_dqn", num_actions=4, games=["pong"],
        action_sets={"pong": [0, 1, 3, 4]}, atari={k: v for k, v in config.to_dict().items() if k != "game"},
    )  # fmt: skip
    path = tmp_path / "wrong-actions.safetensors"
    save_checkpoint(path, build_network("nature_dqn", 4), metadata)
    return path


def test_bad_arguments(capsys, tmp_path, expert_file):
    out = tmp_path / "s.zarr"
    common = ["--expert", expert_file, "--out", out]
    unknown = amn_collect(capsys, *common, "--steps", 10, "--game", "breakot")
    assert "unknown Atari game 'breakot': did you mean breakout" in unknown
    assert "plays breakout, not pong" in amn_collect(capsys, *common, "--steps", 10, "--game", "pong")
    assert "exactly one target" in amn_collect(capsys, *common)
    assert "--expert is required" in amn_collect(capsys, "--out", out, "--steps", 10)
    assert "--out is required" in amn_collect(capsys, "--expert", expert_file, "--steps", 10)
    assert "--shard must look like I/N" in amn_collect(capsys, *common, "--steps", 10, "--shard", "2")
    assert "shard 3/2" in amn_collect(capsys, *common, "--steps", 10, "--shard", "3/2")
    assert "unknown --hidden-layer 'fc2'" in amn_collect(capsys, *common, "--steps", 10, "--hidden-layer", "fc2")
    assert "unknown compression 'brotli'" in amn_collect(capsys, *common, "--steps", 10, "--compression", "brotli")
    assert "epsilon must lie in [0, 1]" in amn_collect(capsys, *common, "--steps", 10, "--epsilon", 1.5)
    assert "positive whole number" in amn_collect(capsys, *common, "--steps", 0)
    assert "--resume and --overwrite" in amn_collect(capsys, *common, "--steps", 10, "--resume", "--overwrite")
    assert not out.exists()


def test_bad_checkpoints(capsys, tmp_path, expert_file, pong_labelled_breakout_file):
    out = tmp_path / "s.zarr"
    missing = amn_collect(capsys, "--expert", tmp_path / "nope.safetensors", "--out", out, "--steps", 10)
    assert "nope.safetensors does not exist" in missing
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00\x01not a checkpoint" * 10)
    unreadable = amn_collect(capsys, "--expert", garbage, "--out", out, "--steps", 10)
    assert "not a readable safetensors checkpoint" in unreadable
    wrong = amn_collect(capsys, "--expert", pong_labelled_breakout_file, "--out", out, "--steps", 10)
    assert "has 4 outputs" in wrong and "pong has 6 actions" in wrong
    changed = amn_collect(capsys, "--expert", expert_file, "--out", out, "--steps", 10, "--frame-skip", 3)
    assert "preprocessing" in changed and "'frame_skip': 3" in changed
    assert not out.exists()


def test_non_finite_expert_output_names_the_expert_and_writes_nothing(capsys, tmp_path):
    """Finite weights large enough that the activations overflow float32 to infinity."""
    expert = random_init_expert(BREAKOUT, seed=1)
    with torch.no_grad():
        expert.network.fc[0].weight.fill_(3e38)
    path = tmp_path / "exploding.safetensors"
    save_checkpoint(path, expert.network, expert.metadata)
    message = amn_collect(capsys, "--expert", path, "--out", tmp_path / "s.zarr", "--steps", 10)
    assert "exploding.safetensors produced NaN or infinite" in message
    assert not (tmp_path / "s.zarr").exists()


def test_expert_overflowing_only_on_real_frames_leaves_no_empty_store(capsys, tmp_path):
    """Finite on the zero stack the probe uses, infinite on any real frame: found at the first
    step, after the store was created; the empty store is removed again."""
    expert = random_init_expert(BREAKOUT, seed=1)
    with torch.no_grad():
        expert.network.convs[0].weight.fill_(3e38)
        expert.network.convs[0].bias.fill_(-1.0)
    path = tmp_path / "overflowing.safetensors"
    save_checkpoint(path, expert.network, expert.metadata)
    message = amn_collect(capsys, "--expert", path, "--out", tmp_path / "s.h5", "--steps", 10)
    assert "overflowing.safetensors produced NaN or infinite" in message and "nothing was written" in message
    assert not (tmp_path / "s.h5").exists()


def test_an_existing_store_is_neither_touched_nor_mixed(capsys, tmp_path, expert_file, expert):
    out = tmp_path / "s.zarr"
    collect(CollectConfig(expert=expert_file, out=out, steps=30, num_envs=2))
    snapshot = tree_snapshot(out)
    assert "already exists: pass --resume" in amn_collect(capsys, "--expert", expert_file, "--out", out, "--steps", 30)
    other = tmp_path / "other.safetensors"
    other_expert = random_init_expert(BREAKOUT, seed=5)
    save_checkpoint(other, other_expert.network, other_expert.metadata)
    refused = amn_collect(capsys, "--expert", other, "--out", out, "--steps", 30, "--num-envs", 2, "--resume")
    assert "labelled by expert sha256" in refused and "same --expert" in refused
    same = ["--expert", expert_file, "--out", out, "--steps", 30, "--num-envs", 2, "--resume"]
    refused = amn_collect(capsys, *same, "--seed", 1)
    assert "seed" in refused and "same --seed" in refused
    assert "same --hidden-dtype" in amn_collect(capsys, *same, "--hidden-dtype", "float32")
    assert tree_snapshot(out) == snapshot
    # The same settings: resuming a complete store is a no-op.
    assert main(["collect", "--no-progress", *map(str, same)]) == 0
    _arrays, info = read_store(out)
    assert info.num_steps == 30 and len(info.attrs["segments"]) == 1
    # --overwrite replaces it.
    collect(CollectConfig(expert=expert, out=out, steps=20, num_envs=2, overwrite=True))
    assert read_store(out)[1].num_steps == 20


def test_a_store_not_written_by_collect_is_not_resumed(capsys, tmp_path, expert_file):
    from actor_mimic.store import StoreWriter

    out = tmp_path / "converted.zarr"
    StoreWriter.create(
        out, metadata={"game": "breakout", "action_set": [0, 1, 3, 4]}, num_actions=4, hidden_size=512
    ).close(complete=False)
    snapshot = tree_snapshot(out)
    message = amn_collect(capsys, "--expert", expert_file, "--out", out, "--steps", 30, "--resume")
    assert "was not written by `amn collect`" in message
    assert tree_snapshot(out) == snapshot


def test_expert_must_be_an_expert_and_behaviour_must_fit(tmp_path, expert):
    amn_metadata = CheckpointMetadata(
        kind="amn", architecture="nature_dqn", num_actions=18, games=["pong"],
        action_sets={"pong": [0, 1, 3, 4, 11, 12]}, atari=expert.metadata.atari,
    )  # fmt: skip
    path = tmp_path / "amn.safetensors"
    save_checkpoint(path, build_network("nature_dqn", 18), amn_metadata)
    from actor_mimic.errors import UserError

    with pytest.raises(UserError, match="kind 'amn'; --expert needs a one-game expert"):
        collect(CollectConfig(expert=path, out=tmp_path / "s.zarr", steps=10))
    with pytest.raises(UserError, match=r"plays \['pong'\], not breakout"):
        collect(CollectConfig(expert=expert, behaviour=path, out=tmp_path / "s.zarr", steps=10))
    small = random_init_expert(AtariConfig("breakout", noop_max=0, screen_size=64))
    with pytest.raises(UserError, match="expects preprocessing"):
        collect(CollectConfig(expert=expert, behaviour=small, out=tmp_path / "s.zarr", steps=10))
    assert not (tmp_path / "s.zarr").exists()


def test_list_games(capsys):
    assert main(["collect", "--list-games"]) == 0
    games = capsys.readouterr().out.split()
    assert {"breakout", "pong", "space_invaders"} <= set(games) and games == sorted(games)


def test_the_activation_window_is_chosen_and_kept_on_resume(tmp_path, expert_file):
    """--hidden-window sets the store's window; the activations read back are the same rows as
    with the default window; a resume asking for another window is refused."""
    out, default = tmp_path / "s.zarr", tmp_path / "default.zarr"
    collect(CollectConfig(expert=expert_file, out=out, steps=256, num_envs=2, chunk_len=32, hidden_window=64))
    collect(CollectConfig(expert=expert_file, out=default, steps=256, num_envs=2, chunk_len=32))
    (chosen, chosen_info), (reference, reference_info) = read_store(out), read_store(default)
    assert chosen_info.attrs["hidden_window"] == 64 and reference_info.attrs["hidden_window"] != 64
    assert np.array_equal(chosen["hidden"], reference["hidden"])
    assert np.array_equal(chosen["frames"], reference["frames"])
    with pytest.raises(UserError, match=r"activation window of 64 steps, this run asks for 128"):
        collect(CollectConfig(expert=expert_file, out=out, steps=256, num_envs=2, chunk_len=32, hidden_window=128,
                              resume=True))  # fmt: skip
