"""`amn checkpoint init` and `import-*` read --config FILE.yaml like their flags."""

from __future__ import annotations

import torch

from actor_mimic.cli import main
from actor_mimic.common.atari import AtariConfig
from actor_mimic.common.checkpoint import load_checkpoint, random_init_expert


def same_weights(path, expected) -> bool:
    found = load_checkpoint(path).network.state_dict()
    return all(torch.equal(found[name], tensor) for name, tensor in expected.network.state_dict().items())


def test_init_writes_the_game_and_seed_of_the_file_and_flags_override_them(tmp_path, capsys):
    config = tmp_path / "init.yaml"
    config.write_text(f"game: pong\nseed: 3\nout: {tmp_path / 'pong.safetensors'}\n")
    assert main(["checkpoint", "init", "--config", str(config)]) == 0
    checkpoint = load_checkpoint(tmp_path / "pong.safetensors")
    assert checkpoint.metadata.games == ["pong"]
    assert same_weights(tmp_path / "pong.safetensors", random_init_expert(AtariConfig("pong"), 3))

    assert main(["checkpoint", "init", "--seed", "4", "--config", str(config), "--overwrite"]) == 0
    assert same_weights(tmp_path / "pong.safetensors", random_init_expert(AtariConfig("pong"), 4))
    assert not same_weights(tmp_path / "pong.safetensors", random_init_expert(AtariConfig("pong"), 3))


def cleanrl_file(path) -> str:
    """A CleanRL dqn_atari state dict of an untrained Pong network."""
    names = {"convs.0.": "network.0.", "convs.2.": "network.2.", "convs.4.": "network.4.",
             "fc.0.": "network.7.", "head.": "network.9."}  # fmt: skip
    state = {}
    for name, tensor in random_init_expert(AtariConfig("pong"), 1).network.state_dict().items():
        prefix = next(p for p in names if name.startswith(p))
        state[names[prefix] + name[len(prefix) :]] = tensor
    torch.save(state, path)
    return str(path)


def test_import_takes_sticky_actions_from_the_file_and_the_old_flag_still_overrides(tmp_path, capsys):
    source = cleanrl_file(tmp_path / "dqn.pt")
    out = tmp_path / "pong.safetensors"
    config = tmp_path / "import.yaml"
    config.write_text(f"game: pong\nout: {out}\nsticky_actions: 0.25\n")
    assert main(["checkpoint", "import-cleanrl", source, "--config", str(config)]) == 0
    assert load_checkpoint(out).metadata.atari["repeat_action_probability"] == 0.25

    assert (
        main(["checkpoint", "import-cleanrl", source, "--config", str(config), "--sticky", "0.1", "--overwrite"]) == 0
    )
    assert load_checkpoint(out).metadata.atari["repeat_action_probability"] == 0.1
