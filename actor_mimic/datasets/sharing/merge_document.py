"""What `amn dataset merge` checks of its inputs, and the attribute document it writes.

Stores merge when their lanes can sit side by side in one store and be read as one dataset:
the same game played the same way (every Atari setting, the ROM, the action set), labelled by
the same expert at the same layer, stored with the same value dtypes and activation window.
`check_mergeable` refuses anything else, naming the field that differs. The expert must be
the same one: a merged store says "these Q-values and activations are expert E's", and the
activations of two networks are not even comparable unit by unit (regressing onto a mixture
would teach nothing). Rounds of one expert (its own play, then student-acts rounds) and
shards or seeds of one collection are what merges.

The merged document (schema 4, store/schema.py) keeps every input collection's provenance
whole in `sources` (behaviour policy, epsilon, round, seed, shard, target, versions, runs,
cut episodes in its own lane numbers) and names, per lane, its source and its lane there.
At the top level stays what is true of every lane: the game, the expert, and any provenance
field on which all sources agree; a field on which they differ is left out (readers ask
`lane_sources` for it), so no reader takes one collection's behaviour for the whole store's.
"""

from __future__ import annotations

import datetime

from actor_mimic.common.versions import installed_version
from actor_mimic.errors import UserError
from actor_mimic.store import SCHEMA_VERSION, SOURCES_SCHEMA_VERSION, collection_record, lane_sources

# Fields of the game and of the labels that every input must share: (name in messages, value).
SHARED_FIELDS = (
    ("game", lambda a: a["game"]),
    ("action_set", lambda a: list(a["action_set"])),
    ("rom.sha256", lambda a: (a.get("rom") or {}).get("sha256")),
    ("expert (sha256 of its weights)", lambda a: expert_digest(a.get("expert") or {})),
    ("expert.hidden_layer", lambda a: (a.get("expert") or {}).get("hidden_layer")),
    ("hidden_size", lambda a: a["hidden_size"]),
    ("hidden_dtype", lambda a: a["hidden_dtype"]),
    ("q_dtype", lambda a: a["q_dtype"]),
    ("fields", lambda a: sorted(a["fields"])),
    ("hidden_window", lambda a: a.get("hidden_window")),
)
# The sticky-action probability has a name people know it by.
ATARI_NAMES = {"repeat_action_probability": "atari.repeat_action_probability (sticky actions)"}


def expert_digest(expert: dict) -> str | None:
    """The sha256 that identifies an expert: of its file, or of its weights when it was never saved."""
    return expert.get("sha256") or expert.get("weights_sha256")


def check_mergeable(stores: list) -> None:
    """Raise UserError naming the first field in which a store differs from the first one.
    `stores`: (path, attrs) of every input, each document already checked."""
    first_path, first = stores[0]
    for path, attrs in stores:
        if attrs["schema_version"] < 3:
            raise UserError(
                f"{path} uses store schema {attrs['schema_version']} (activations stored row by row): "
                "merge reads schema 3 stores and later; recollect it with this actor-mimic"
            )
    for path, attrs in stores[1:]:
        for name, value_of in _compared_fields(first, attrs):
            mine, theirs = value_of(first), value_of(attrs)
            if mine != theirs:
                raise UserError(
                    f"cannot merge {path} with {first_path}: they differ in {name} ({theirs!r} vs "
                    f"{mine!r}); merge only stores of one game collected with the same settings and expert"
                )
    _check_distinct_collections(stores)


def _compared_fields(first: dict, other: dict):
    yield from SHARED_FIELDS
    for group in ("atari", "preprocessing"):  # every setting, by its own name
        keys = dict.fromkeys([*(first.get(group) or {}), *(other.get(group) or {})])
        for key in keys:
            yield ATARI_NAMES.get(key, f"{group}.{key}"), lambda a, g=group, k=key: (a.get(g) or {}).get(k)


def _check_distinct_collections(stores: list) -> None:
    """A lane's steps are a function of (seed, shard, lane) and the behaviour policy: two
    lanes alike in those hold the same steps, and merging them would count them twice."""
    seen: dict[str, object] = {}
    for path, attrs in stores:
        for record, lane in lane_sources(attrs):
            key = repr((record.get("seed"), record.get("shard"), record.get("behaviour"), lane))
            if key in seen and seen[key] != path:
                raise UserError(
                    f"{path} and {seen[key]} hold the same collection (seed {record.get('seed')}, shard "
                    f"{record.get('shard')}, the same behaviour policy): merging them would repeat its steps"
                )
            seen[key] = path


def merged_document(stores: list, lanes: list[dict], names: list[str]) -> dict:
    """The attribute document of the merged store.

    stores: (path, attrs) of every input; lanes: the lane records of the output, in order,
    each with its `source` and `source_lane`; names: the file name of each input."""
    sources, cut = [], []
    first = stores[0][1]
    for (_, attrs), name in zip(stores, names):
        for record in _sources_of(attrs, name):
            sources.append(record)
    offset = 0
    for _, attrs in stores:
        cut += [[offset + lane, episode] for lane, episode in attrs.get("cut_episodes", [])]
        offset += len(attrs["lanes"])
    shared = {
        key: value for key, value in first.items() if key in ("game", "atari", "preprocessing", "action_set", "rom")
    }
    layout = (
        "fields",
        "num_actions",
        "hidden_size",
        "q_dtype",
        "hidden_dtype",
        "chunk_len",
        "hidden_window",
        "compression",
    )
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    return {
        **shared,
        **_agreed_provenance(sources),
        "expert": first["expert"],  # the same expert (check_mergeable), whatever else its record says
        **{key: first[key] for key in layout},
        "schema": first["schema"],
        "schema_version": SOURCES_SCHEMA_VERSION,
        "backend": "zarr",
        "segments": [],  # the runs of each collection are in its source record
        "cut_episodes": cut,
        "sources": sources,
        "lanes": lanes,
        "num_steps": sum(lane["steps"] for lane in lanes),
        "num_episodes": sum(lane["episodes"] for lane in lanes),
        "complete": True,  # whole: a merged store is not resumed, whatever its sources were
        "created": now,
        "updated": now,
        "merged": {"inputs": names, "at": now, "actor_mimic": installed_version("actor-mimic")},
    }


def _sources_of(attrs: dict, name: str) -> list[dict]:
    """The collection records of one input: itself (schema 3), or its own sources (schema 4)."""
    if attrs["schema_version"] >= SOURCES_SCHEMA_VERSION:
        return [dict(record) for record in attrs["sources"]]
    return [{"name": name, "schema_version": SCHEMA_VERSION, **collection_record(attrs)}]


def _agreed_provenance(sources: list[dict]) -> dict:
    """The provenance fields on which every source agrees (the expert always does)."""
    skip = {"name", "schema_version", "segments", "cut_episodes", "complete", "created", "updated"}
    agreed = {}
    for key in sources[0]:
        if key not in skip and all(key in s and s[key] == sources[0][key] for s in sources):
            agreed[key] = sources[0][key]
    return agreed


def source_lanes(stores: list) -> list[dict]:
    """The lane records of the output, input after input: each input lane's commit (steps,
    episodes, complete) with the index of its collection in `sources` and its lane there."""
    lanes, base = [], 0
    for _, attrs in stores:
        if attrs["schema_version"] >= SOURCES_SCHEMA_VERSION:
            for record in attrs["lanes"]:
                lanes.append({**record, "source": base + record["source"]})
            base += len(attrs["sources"])
        else:
            for index, record in enumerate(attrs["lanes"]):
                lanes.append({**record, "source": base, "source_lane": index})
            base += 1
    return lanes
