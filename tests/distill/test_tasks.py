"""`Tasks`: the typed description of an AMN's games, and the plain dict checkpoints keep."""

from __future__ import annotations

import torch

from actor_mimic.distill.export import amn_metadata, load_lightning_checkpoint
from actor_mimic.distill.module import ActorMimic
from actor_mimic.distill.tasks import GameTask, StoreRecord, Tasks

# The `tasks` hyperparameter as checkpoints written before `Tasks` existed hold it.
OLD_FORM = {
    "games": ["pong", "breakout"],
    "action_sets": {"pong": [0, 1, 3, 4, 11, 12], "breakout": [0, 1, 3, 4]},
    "hidden_sizes": {"pong": 512, "breakout": 3136},
    "hidden_layer": {"pong": "fc", "breakout": "conv"},
    "stores": [
        {"path": "pong.zarr", "game": "pong", "expert_sha256": "ab" * 32, "behaviour": None, "round": None,
         "num_steps": 400, "num_episodes": 3, "created": "2024-01-01T00:00:00Z"},
        {"path": "breakout-r1.zarr", "game": "breakout", "expert_sha256": "cd" * 32, "behaviour": {"kind": "amn"},
         "round": "r1", "num_steps": 600, "num_episodes": 5, "created": None},
    ],
    "preprocessing": {"frame_skip": 4, "screen_size": 84, "stack_size": 4, "grayscale": True},
    "atari": {"frame_skip": 4, "screen_size": 84, "stack_size": 4, "noop_max": 30},
}  # fmt: skip


def test_the_old_dict_form_reads_into_tasks_and_back_unchanged():
    tasks = Tasks.from_dict(OLD_FORM)
    assert tasks.names == ["pong", "breakout"]
    assert tasks.task("breakout") == GameTask("breakout", [0, 1, 3, 4], 3136, "conv")
    assert tasks.stores_of("breakout") == [StoreRecord(**OLD_FORM["stores"][1])]
    assert tasks.to_dict() == OLD_FORM


def test_an_old_checkpoint_loads_and_exports_its_tasks(tmp_path):
    model = ActorMimic(tasks=OLD_FORM)
    assert model.hparams.tasks == OLD_FORM  # what the checkpoint keeps: plain data
    path = tmp_path / "old.ckpt"
    torch.save({"pytorch-lightning_version": "2.4.0", "global_step": 7, "epoch": 1, "state_dict": model.state_dict(),
                "hyper_parameters": {"tasks": OLD_FORM, "beta": 0.01}}, path)  # fmt: skip
    loaded = load_lightning_checkpoint(path)
    assert loaded.tasks == Tasks.from_dict(OLD_FORM)
    meta = amn_metadata(loaded)
    assert meta.games == ["pong", "breakout"] and meta.action_sets == OLD_FORM["action_sets"]
    assert meta.provenance["stores"] == OLD_FORM["stores"]
    assert meta.provenance["expert_hidden_sizes"] == OLD_FORM["hidden_sizes"]
