"""The files the catalogue of bad inputs points at, built once per session.

Real ones (a tiny store collected from Breakout, real expert and AMN checkpoints) and broken
ones (a pickle renamed to .safetensors, hand-edited metadata, a hostile pickle, files where
folders are expected...). Every name the catalogue uses is made here; `{w}` in a catalogue
row is this folder. Cases run with the current folder `{w}/cwd`, which holds a file, so `.`
and `..` name folders with other files in them.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import torch
from safetensors.torch import save_file

from actor_mimic.collect import CollectConfig, collect
from actor_mimic.common.atari import AtariConfig, action_set
from actor_mimic.common.checkpoint import CheckpointMetadata, random_init_expert, save_checkpoint
from actor_mimic.common.networks import NatureDQN
from actor_mimic.store import open_backend

BREAKOUT = AtariConfig("breakout", noop_max=0)

# Hand edits of the expert's metadata: name -> function(document) -> the edited document
# (a dict, or any JSON value, or raw text for a header that is not JSON).
METADATA_EDITS = {
    "num_actions_text": lambda d: {**d, "num_actions": "4"},
    "num_actions_bool": lambda d: {**d, "num_actions": True},
    "num_actions_huge": lambda d: {**d, "num_actions": 10**9},
    "games_text": lambda d: {**d, "games": "breakout"},
    "games_not_canonical": lambda d: {**d, "games": ["Breakout"], "action_sets": {"Breakout": [0, 1, 3, 4]}},
    "action_ids_out_of_range": lambda d: {**d, "action_sets": {"breakout": [0, 1, 99, 4]}},
    "action_sets_list": lambda d: {**d, "action_sets": [[0, 1, 3, 4]]},
    "frame_skip_text": lambda d: {**d, "atari": {**d["atari"], "frame_skip": "4"}},
    "screen_size_huge": lambda d: {**d, "atari": {**d["atari"], "screen_size": 10**6}},
    "sticky_nan": lambda d: {**d, "atari": {**d["atari"], "repeat_action_probability": float("nan")}},
    "atari_unknown_key": lambda d: {**d, "atari": {**d["atari"], "colour": True}},
    "atari_names_game": lambda d: {**d, "atari": {**d["atari"], "game": "pong"}},
    "atari_list": lambda d: {**d, "atari": [4, 84]},
    "missing_kind": lambda d: {k: v for k, v in d.items() if k != "kind"},
    "missing_atari": lambda d: {k: v for k, v in d.items() if k != "atari"},
    "kind_unknown": lambda d: {**d, "kind": "teacher"},
    "architecture_unknown": lambda d: {**d, "architecture": "resnet"},
    "format_version_text": lambda d: {**d, "format_version": "1"},
    "format_version_newer": lambda d: {**d, "format_version": 99},
    "provenance_list": lambda d: {**d, "provenance": ["trained"]},
    "unknown_field": lambda d: {**d, "colour": "blue"},
    "outputs_unknown": lambda d: {**d, "outputs": "values"},
    "sampling_q_values": lambda d: {**d, "acting": "sample"},
    "json_array": lambda d: [d],
    "not_json": lambda d: "{not json",
}

# Settings files (--config FILE.yaml) with a mistake: name -> text.
SETTINGS_FILES = {
    "typo": "num_env: 2\n",
    "steps_text": "steps: many\n",
    "not_yaml": "steps: [\n",
    "many_envs": "num_envs: 10000\n",
    "both_budgets": "steps: [10, 20]\n",
    "init_typo": "gamee: pong\n",
    "seed_text": "game: pong\nseed: three\n",
    "empty": "",
    "sticky_text": "game: pong\nsticky_actions: often\n",
    "path_key": "path: model.zip\n",
    "json_text": "json: sure\n",
    "verify_typo": "allow_incomplet: true\n",
    "license_list": "license: [mit, cc-by-4.0]\n",
    "license_only": "license: cc-by-4.0\n",
    "chunk_text": "chunk_len: 1k\n",
    "push_typo": "progres: false\n",
    "bool_text": "overwrite: please\n",
    "minari_typo": "author_mail: someone@example.org\n",
}

# Collection plans (`amn dataset build`) with a mistake, in {w}/plans: name -> text. Their
# relative paths are taken from that folder.
GAME = "games:\n  - expert: ../expert.safetensors\n"
PLAN_FILES = {
    "no_out": GAME,
    "no_games": "out: ../out/dataset\n",
    "key_typo": "output: ../out/dataset\n" + GAME,
    "setting_typo": "out: ../out/dataset\n" + GAME + "    step: 10\n",
    "no_target": "out: ../out/dataset\n" + GAME,
    "no_expert": "out: ../out/dataset\ngames:\n  - steps: 10\n",
    "missing_expert": "out: ../out/dataset\ngames:\n  - {expert: ../nowhere.safetensors, steps: 10}\n",
    "same_name": "out: ../out/dataset\ndefaults: {steps: 10}\n" + GAME + GAME[7:],
    "zero_shards": "out: ../out/dataset\ndefaults: {steps: 10, shards: 0}\n" + GAME,
    "more_shards_than_steps": "out: ../out/dataset\ndefaults: {steps: 3, shards: 4}\n" + GAME,
    "bad_name": "out: ../out/dataset\ndefaults: {steps: 10}\n" + GAME + "    name: Breakout Game\n",
    "http_out": "out: https://example.org/dataset\ndefaults: {steps: 10}\n" + GAME,
    "hdf5_url": "out: memory://dataset\ndefaults: {steps: 10, backend: hdf5}\n" + GAME,
    "file_out": "out: ../notes.txt\ndefaults: {steps: 10}\n" + GAME,
    "work_inside_out": "out: ../out/dataset\nwork_dir: ../out/dataset/work\ndefaults: {steps: 10}\n" + GAME,
    "unknown_executor": "out: ../out/dataset\nexecutor: {kind: ray}\ndefaults: {steps: 10}\n" + GAME,
    "steps_text": "out: ../out/dataset\ndefaults: {steps: many}\n" + GAME,
    "list": "- out: ../out/dataset\n",
    "sound": "out: ../out/dataset\ndefaults: {steps: 10}\n" + GAME,
}

# Hand edits of the tiny store's attribute document that today's readers already refuse.
STORE_EDITS = {
    "schema_newer": lambda a: {**a, "schema_version": 99},
    "not_a_store": lambda a: {**a, "schema": "something-else"},
    "action_set_18": lambda a: {**a, "action_set": list(range(18))},
    "game_unknown": lambda a: {**a, "game": "brakeout"},
    "action_set_reordered": lambda a: {**a, "action_set": [1, 0, 3, 4]},
    "frame_skip_3": lambda a: {
        **a,
        "atari": {**a["atari"], "frame_skip": 3},
        "preprocessing": {**a["preprocessing"], "frame_skip": 3},
    },
}


class RunsCode:
    """Unpickling this creates the folder `marker`: a checkpoint that runs code when loaded."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def build_world(w: Path) -> Path:
    (w / "cwd").mkdir()
    (w / "cwd" / "keep.txt").write_text("a file the user keeps\n")
    (w / "notes.txt").write_text("not a store, not a checkpoint\n")
    (w / "fake.h5").write_text("a text file named like an HDF5 store\n")
    (w / "folder").mkdir()
    (w / "folder" / "a.txt").write_text("someone's file\n")
    (w / "folder.safetensors").mkdir()
    (w / "empty").mkdir()
    (w / "out").mkdir()
    (w / "minari" / "theirs-v0").mkdir(parents=True)  # a Minari datasets folder with someone's dataset
    (w / "minari" / "theirs-v0" / "notes.txt").write_text("someone's dataset\n")

    expert = random_init_expert(BREAKOUT, seed=0)
    save_checkpoint(w / "expert.safetensors", expert.network, expert.metadata)
    pong = random_init_expert(AtariConfig("pong"), seed=1)
    save_checkpoint(w / "pong.safetensors", pong.network, pong.metadata)
    save_amn(w / "amn.safetensors", ["breakout", "pong"])
    save_amn(w / "amn64.safetensors", ["breakout"], screen_size=64)

    torch.save(expert.network.state_dict(), w / "pickle.safetensors")  # a pickle renamed
    (w / "garbage.safetensors").write_bytes(b"\x00\x01 not a checkpoint " * 8)
    (w / "bare.safetensors").write_bytes((w / "expert.safetensors").read_bytes()[:100])  # truncated
    document = json.loads(expert.metadata.to_json())
    (w / "edited").mkdir()
    for name, edit in METADATA_EDITS.items():
        edited = edit(document)
        text = edited if isinstance(edited, str) else json.dumps(edited)
        save_file(dict(expert.network.state_dict()), str(w / "edited" / f"{name}.safetensors"), {"actor_mimic": text})

    torch.save({"state_dict": {}, "hyper_parameters": {"tasks": RunsCode(str(w / "code-ran"))}}, w / "hostile.ckpt")
    torch.save({"weights": torch.zeros(3)}, w / "plain.ckpt")
    lightning = {"pytorch-lightning_version": "2.6.0", "global_step": 3, "epoch": 0}
    torch.save({**lightning, "state_dict": {}, "hyper_parameters": {"tasks": {"games": ["pong"]}}}, w / "tasks.ckpt")
    torch.save({**lightning, "global_step": "3", "state_dict": {}, "hyper_parameters": {"tasks": {"games": ["pong"]}}},
               w / "step_text.ckpt")  # fmt: skip
    torch.save({"network.0.weight": RunsCode(str(w / "code-ran"))}, w / "hostile_cleanrl.pt")
    cleanrl_names = {"convs.0.": "network.0.", "convs.2.": "network.2.", "convs.4.": "network.4.",
                     "fc.0.": "network.7.", "head.": "network.9."}  # fmt: skip
    cleanrl = {}
    for name, tensor in pong.network.state_dict().items():  # a CleanRL state dict of a Pong DQN
        prefix = next(p for p in cleanrl_names if name.startswith(p))
        cleanrl[cleanrl_names[prefix] + name[len(prefix) :]] = tensor
    torch.save(cleanrl, w / "cleanrl_pong.pt")
    with zipfile.ZipFile(w / "no_policy.zip", "w") as archive:
        archive.writestr("data", json.dumps({"observation_space": {"_shape": [4, 84, 84]}}))
    with zipfile.ZipFile(w / "sac.zip", "w") as archive:  # what SB3 writes for a SAC agent, in short
        policy = {":type:": "<class 'abc.ABCMeta'>", "__module__": "stable_baselines3.sac.policies",
                  "__init__": "<function SACPolicy.__init__ at 0x7f0000000000>"}  # fmt: skip
        archive.writestr("data", json.dumps({"policy_class": policy, "observation_space": {"_shape": [3]}}))
        with archive.open("policy.pth", "w") as handle:
            torch.save({"actor.mu.weight": torch.zeros(1, 3)}, handle)
    # A Flax msgpack map of another network ({"params": {"Dense_0": {}}}), as flax.serialization writes
    (w / "flax_other.cleanrl_model").write_bytes(b"\x81\xa6params\x81\xa7Dense_0\x80")

    store = w / "store.zarr"
    collect(
        CollectConfig(expert=str(w / "expert.safetensors"), out=store, steps=40, num_envs=1, chunk_len=16, epsilon=1.0)
    )
    (w / "rounds").mkdir()
    shutil.copytree(store, w / "rounds" / "breakout-r1.zarr")  # a round's store, already collected
    (w / "stores").mkdir()
    for name, edit in STORE_EDITS.items():
        copy = w / "stores" / f"{name}.zarr"
        shutil.copytree(store, copy)
        backend = open_backend(copy, "a")
        backend.write_attrs(edit(backend.read_attrs()))
    # An edit by hand, past the library: the document no longer matches its seal.
    shutil.copytree(store, w / "stores" / "document_edited.zarr")
    root = w / "stores" / "document_edited.zarr" / "zarr.json"
    document = json.loads(root.read_text())
    document["attributes"]["actor_mimic"]["seed"] = 7
    root.write_text(json.dumps(document))

    write_config(w / "fit.yaml", w, f'[{{game: breakout, stores: ["{store}"]}}]')
    write_config(w / "other_game.yaml", w, f'[{{game: pong, stores: ["{store}"]}}]')
    write_config(w / "missing_store.yaml", w, f'[{{game: breakout, stores: ["{w}/nowhere.zarr"]}}]')
    write_config(w / "file_store.yaml", w, f'[{{game: breakout, stores: ["{w}/notes.txt"]}}]')
    write_config(w / "unknown_game.yaml", w, f'[{{game: breakoot, stores: ["{store}"]}}]')
    write_config(w / "actions_differ.yaml", w,
                 f'[{{game: breakout, stores: ["{store}", "{w}/stores/action_set_18.zarr"]}}]')  # fmt: skip
    write_config(w / "preprocessing_differs.yaml", w,
                 f'[{{game: breakout, stores: ["{store}", "{w}/stores/frame_skip_3.zarr"]}}]')  # fmt: skip
    (w / "list.yaml").write_text("- just\n- a list\n")
    (w / "settings").mkdir()
    for name, text in SETTINGS_FILES.items():
        (w / "settings" / f"{name}.yaml").write_text(text)
    (w / "plans").mkdir()
    for name, text in PLAN_FILES.items():
        (w / "plans" / f"{name}.yaml").write_text(text)

    damaged = w / "damaged_run" / "checkpoint"
    damaged.mkdir(parents=True)
    (damaged / "state.json").write_text(json.dumps({"atari": {"game": "breakout"}, "config": {}, "step": "ten"}))
    (w / "killed_run").mkdir()
    (w / "killed_run" / "episodes.csv").write_text("step,env,return,length,wall_seconds\n")
    (w / "results").mkdir()
    (w / "results" / "evaluation.csv").write_text("someone's own table\n")
    return w


def save_amn(path: Path, games: list[str], screen_size: int = 84) -> None:
    torch.manual_seed(0)
    settings = {k: v for k, v in AtariConfig(games[0], screen_size=screen_size).to_dict().items() if k != "game"}
    metadata = CheckpointMetadata(
        kind="amn", architecture="nature_dqn", num_actions=18, games=games,
        action_sets={g: list(action_set(AtariConfig(g))) for g in games}, atari=settings,
    )  # fmt: skip
    save_checkpoint(path, NatureDQN(18, screen_size=screen_size), metadata)


def write_config(path: Path, w: Path, games: str) -> None:
    path.write_text(
        f"data:\n  games: {games}\n  batch_size: 8\n  val_fraction: 0\n  num_workers: 0\n"
        f"trainer:\n  max_steps: 1\n  enable_progress_bar: false\n  default_root_dir: {w / 'out' / 'runs'}\n"
    )
