"""The provenance a collection writes into its store, and the check that a resume matches it.

Every store says which game and Atari settings it was played with, which expert labelled it
(sha256 of the file and its metadata), which policy acted and how, which seeds and shard, the
target, and the library versions: enough to reproduce it or to refuse mixing it wrongly.

Beyond the brief's fields, two lists describe how the store came to be:
    segments      one entry per run that committed to it (the first, then each --resume):
                  start_steps and end_steps (committed rows per lane), the library versions,
                  stopped_by ("target", "signal 2", "non-finite expert output"; a killed run
                  has no end)
    cut_episodes  [lane, episode] of the episodes the steps budget cut short (at most one per
                  lane, its last); their last step is marked truncated like a time limit's, so
                  only this list tells them apart from episodes the game itself ended or timed out
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from actor_mimic.collect.config import CollectConfig
from actor_mimic.collect.players import same_identity
from actor_mimic.common.atari import AtariConfig, action_set
from actor_mimic.common.versions import library_versions
from actor_mimic.errors import UserError

PACKAGES = ("actor_mimic", "ale_py", "gymnasium", "numpy", "torch")


def collection_versions(backend: str) -> dict:
    """The versions of the libraries a collection's rows depend on, its store engine's too."""
    return library_versions((*PACKAGES, "zarr" if backend == "zarr" else "h5py"))


def rom_identity(game: str) -> dict:
    """The ROM ale-py plays for `game`: its id and the sha256 of the ROM file (a store
    collected from another ROM revision is another dataset)."""
    from ale_py import roms

    path = roms.get_rom_path(game)
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest() if path else None
    return {"id": game, "sha256": digest}


def store_metadata(
    config: CollectConfig,
    atari: AtariConfig,
    expert_identity: dict,
    expert_metadata: dict,
    behaviour: dict,
    backend: str,
) -> dict:
    """The attribute document of a new store (StoreWriter adds the schema and commit fields)."""
    index, count = config.shard
    return {
        "game": atari.game,
        "atari": atari.to_dict(),
        "preprocessing": atari.preprocessing(),
        "action_set": list(action_set(atari)),
        "rom": rom_identity(atari.game),
        "expert": {
            **expert_identity,
            "metadata": expert_metadata,
            "hidden_layer": config.hidden_layer,
            # what its stored outputs (`q_values`) are, and who trained it (checkpoint.py)
            "outputs": expert_metadata.get("outputs", "q_values"),
            "library": expert_metadata.get("provenance", {}).get("library"),
            "algorithm": expert_metadata.get("provenance", {}).get("algorithm"),
        },
        "behaviour": behaviour,
        "seed": int(config.seed),
        "num_envs": int(config.num_envs),
        "shard": [index, count],
        "target": {config.target_kind: config.shard_target, "total": config.total_target},
        "versions": collection_versions(backend),
        "segments": [],
        "cut_episodes": [],
        **config.extra_metadata,
    }


def behaviour_metadata(
    config: CollectConfig, behaviour_identity: dict | None, behaviour_kind: str | None, acting: str = "greedy"
) -> dict:
    """Who acted: "expert", or the acting checkpoint's identity and kind; epsilon; round; and
    how: "greedy", or "sample" from a logit teacher's policy."""
    if behaviour_identity is None:
        policy: dict | str = "expert"
    else:
        policy = {**behaviour_identity, "kind": behaviour_kind}
    return {"policy": policy, "epsilon": config.acting_epsilon, "round": config.round, "acting": acting}


# What must be equal between a store and the run that resumes it, with the flag to fix it.
_RESUMED_SETTINGS = (
    ("game", "--game / --expert"),
    ("atari", "--noop-max / --sticky-actions / --fire-on-reset / --fire-on-life-loss"),
    ("seed", "--seed"),
    ("num_envs", "--num-envs"),
    ("shard", "--shard"),
    ("target", "--steps / --episodes"),
    ("q_dtype", "--q-dtype"),
    ("hidden_dtype", "--hidden-dtype"),
    ("chunk_len", "--chunk-len"),
    ("compression", "--compression"),
)


def check_resume(stored: dict, wanted: dict, path) -> None:
    """Raise UserError naming the first setting in which the resuming run differs."""
    if not isinstance(stored.get("expert"), dict) or not isinstance(stored.get("behaviour"), dict):
        raise UserError(f"{path} was not written by `amn collect` (no expert/behaviour record): it cannot be resumed")
    if not same_identity(stored["expert"], wanted["expert"]):
        raise UserError(
            f"{path} was labelled by expert sha256 {_short(stored['expert'])}, not "
            f"{_short(wanted['expert'])}: resume with the same --expert, or collect into a new store"
        )
    if stored["expert"].get("hidden_layer") != wanted["expert"]["hidden_layer"]:
        raise UserError(
            f"{path} stores hidden layer {stored['expert'].get('hidden_layer')!r}, not "
            f"{wanted['expert']['hidden_layer']!r}: resume with --hidden-layer {stored['expert'].get('hidden_layer')}"
        )
    if not _same_behaviour(stored["behaviour"], wanted["behaviour"]):
        raise UserError(
            f"{path} was collected with behaviour {stored['behaviour']}, not {wanted['behaviour']}: "
            "resume with the same --behaviour, --epsilon/--behaviour-epsilon, --acting and --round"
        )
    stored_rom, wanted_rom = (stored.get("rom") or {}).get("sha256"), (wanted.get("rom") or {}).get("sha256")
    if stored_rom and wanted_rom and stored_rom != wanted_rom:
        raise UserError(
            f"{path} was played on ROM sha256 {stored_rom[:12]}…, this ale-py has {wanted_rom[:12]}…: "
            "resume with the ale-py (ROM) the store was collected with, or collect into a new store"
        )
    for key, flag in _RESUMED_SETTINGS:
        if stored.get(key) != wanted.get(key):
            raise UserError(
                f"{path} was collected with {key} {stored.get(key)!r}, this run asks for "
                f"{wanted.get(key)!r}: resume with the same {flag}"
            )


def _same_behaviour(a: dict, b: dict) -> bool:
    if a.get("epsilon") != b.get("epsilon") or a.get("round") != b.get("round"):
        return False
    if a.get("acting", "greedy") != b.get("acting", "greedy"):
        return False
    pa, pb = a.get("policy"), b.get("policy")
    if isinstance(pa, dict) and isinstance(pb, dict):
        return pa.get("kind") == pb.get("kind") and same_identity(pa, pb)
    return pa == pb


def _short(identity: dict) -> str:
    digest = identity.get("sha256") or identity.get("weights_sha256") or "?"
    return digest[:12] + ("… (in-memory)" if identity.get("in_memory") else "…")
