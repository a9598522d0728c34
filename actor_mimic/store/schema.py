"""The teacher-store schema (layout in writer.py's docstring) and the one reader of its metadata.

`checked_attrs` takes the attribute document as read from a store's JSON and checks every key
a reader uses: its type, its range, and its agreement with the others (the action set with the
number of Q-values, the episode count with the step count). `array_problems` then holds the
arrays to the schema: each exists, is a real array of this store (an HDF5 hard link, stored in
this file), has the schema's dtype, row shape and chunking, and at least the committed rows.
A hand-edited or hostile store is therefore refused with one line naming the key or the array,
before anything is read or allocated from it: never a traceback, never an allocation sized by a
number in the file. Array names are the schema's own, never taken from the document.
"""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import numpy as np

from actor_mimic.common.atari import NUM_ALE_ACTIONS
from actor_mimic.errors import UserError

SCHEMA = "actor-mimic-teacher-store"
SCHEMA_VERSION = (
    3  # written by a collection. 3: activations stored once per window (store/dedup.py); 2: lanes; 1: one stream
)
SOURCES_SCHEMA_VERSION = 4  # 4: schema 3 whose lanes come from several collections (`amn dataset merge`)
NEWEST_SCHEMA_VERSION = SOURCES_SCHEMA_VERSION  # the newest this actor-mimic reads
VALUE_DTYPES = ("float32", "float16")

EPISODE_FIELDS = {
    "episode_starts": np.int64,
    "episode_lengths": np.int64,
    "episode_returns": np.float64,
}
EPISODE_CHUNK = 4096

MAX_HIDDEN_SIZE = 1 << 16  # activations per step (an expert's flattened conv features: 3136)
MAX_CHUNK_LEN = 1 << 16  # rows per chunk: a frames chunk is then at most ~460 MB decoded
MAX_SCREEN_SIZE = 1024
MAX_STACK_SIZE = 64
MAX_LANES = 4096  # one lane per environment of the collection
MAX_HIDDEN_WINDOW = 1 << 20  # steps per activation window (store/dedup.py)


def lane_prefix(lane: int) -> str:
    """Where lane `lane`'s arrays live: `lanes/3/frames` (schema 2)."""
    return f"lanes/{lane}/"


def step_fields(num_actions: int, hidden_size: int, screen_size: int, q_dtype: str, hidden_dtype: str) -> dict:
    """name -> (per-step shape, dtype) of every per-step array."""
    return {
        "frames": ((screen_size, screen_size), np.uint8),
        "actions": ((), np.int16),
        "rewards": ((), np.float32),
        "terminated": ((), np.bool_),
        "truncated": ((), np.bool_),
        "lives": ((), np.int16),
        "q_values": ((num_actions,), np.dtype(q_dtype)),
        "hidden": ((hidden_size,), np.dtype(hidden_dtype)),
    }


def stored_fields(attrs: dict) -> dict:
    """name -> (per-step shape, dtype) of every per-step array a lane of a checked document
    stores: the step fields, plus `hidden_ref` from schema 3 on (store/dedup.py)."""
    fields = step_fields(
        attrs["num_actions"], attrs["hidden_size"], screen_size_of(attrs), attrs["q_dtype"], attrs["hidden_dtype"]
    )
    if attrs["schema_version"] >= 3:
        fields["hidden_ref"] = ((), np.dtype(np.int32))
    return fields


def hidden_window(attrs: dict) -> int | None:
    """Steps per activation window of a checked document (None before schema 3: stored plainly)."""
    return int(attrs["hidden_window"]) if attrs["schema_version"] >= 3 else None


def screen_size_of(attrs: dict) -> int:
    return int((attrs.get("preprocessing") or {}).get("screen_size", 84))


def lane_rows(attrs: dict) -> list[tuple[str, int]]:
    """(array prefix, committed rows) of each lane of a checked document; a schema 1 store is
    one lane whose arrays sit at the root."""
    if attrs["schema_version"] < 2:
        return [("", attrs["num_steps"])]
    return [(lane_prefix(lane), record["steps"]) for lane, record in enumerate(attrs["lanes"])]


def expected_arrays(attrs: dict) -> dict:
    """name -> (row shape, dtype, chunk rows, committed rows) of every array a checked
    document says the store holds."""
    fields = stored_fields(attrs)
    arrays = {}
    for prefix, rows in lane_rows(attrs):
        for name, (tail, dtype) in fields.items():
            arrays[prefix + name] = (tail, dtype, attrs["chunk_len"], rows)
    if attrs["schema_version"] < 2:  # schema 1 stored its episode table; schema 2 derives it
        for name, dtype in EPISODE_FIELDS.items():
            arrays[name] = ((), dtype, EPISODE_CHUNK, attrs["num_episodes"])
    return arrays


class _Document:
    """Typed access to one attribute document; every failure names the key."""

    def __init__(self, attrs: dict, path: Path):
        self.attrs = attrs
        self.path = path

    def fail(self, key: str, wanted: str) -> NoReturn:
        shown = repr(self.attrs.get(key, "<missing>"))
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise UserError(
            f"{self.path}: store attribute {key!r} must be {wanted}, got {shown}; the store's "
            "metadata was edited or damaged: recollect or re-download it"
        )

    def integer(self, key: str, low: int, high: int | None = None, default=None) -> int:
        value = self.attrs.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
            self.fail(key, f"a whole number in {low}..{'' if high is None else high}")
        return value

    def text(self, key: str, choices: tuple | None = None) -> str:
        value = self.attrs.get(key)
        if not isinstance(value, str) or not value or (choices is not None and value not in choices):
            self.fail(key, "one of " + ", ".join(choices) if choices else "a non-empty string")
        return value

    def flag(self, key: str, default=None) -> bool:
        value = self.attrs.get(key, default)
        if not isinstance(value, bool):
            self.fail(key, "true or false")
        return value

    def mapping(self, key: str, optional: bool = True) -> dict:
        value = self.attrs.get(key, {} if optional else None)
        if not isinstance(value, dict):
            self.fail(key, "a JSON object")
        return value

    def integer_list(self, key: str, low: int, high: int, length: int | None = None) -> list:
        value = self.attrs.get(key, [])
        if not isinstance(value, list) or any(
            isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high for v in value
        ):
            self.fail(key, f"a list of whole numbers in {low}..{high}")
        if length is not None and len(value) != length:
            self.fail(key, f"a list of {length} whole numbers")
        return value


def checked_attrs(attrs, path: str | Path) -> dict:
    """The attribute document `attrs` of the store at `path`, checked; raises UserError."""
    path = Path(path)
    if not isinstance(attrs, dict) or attrs.get("schema") != SCHEMA:
        raise UserError(f"{path} is not an actor-mimic teacher store (no '{SCHEMA}' attributes)")
    if attrs.get("creating"):
        raise UserError(
            f"{path} was interrupted while being created and holds nothing: start the collection again with --overwrite"
        )
    doc = _Document(attrs, path)
    version = attrs.get("schema_version")
    if isinstance(version, int) and not isinstance(version, bool) and version > NEWEST_SCHEMA_VERSION:
        raise UserError(
            f"{path} uses store schema version {version}, newer than this actor-mimic reads "
            f"({NEWEST_SCHEMA_VERSION}); upgrade actor-mimic to read it"
        )
    doc.integer("schema_version", 1, NEWEST_SCHEMA_VERSION)
    doc.text("game")
    num_actions = doc.integer("num_actions", 1, NUM_ALE_ACTIONS)
    actions = doc.integer_list("action_set", 0, NUM_ALE_ACTIONS - 1, length=num_actions)
    if len(set(actions)) != len(actions):
        doc.fail("action_set", "a list of distinct ALE action ids")
    doc.integer("hidden_size", 1, MAX_HIDDEN_SIZE)
    doc.text("q_dtype", VALUE_DTYPES)
    doc.text("hidden_dtype", VALUE_DTYPES)
    chunk_len = doc.integer("chunk_len", 1, MAX_CHUNK_LEN)
    steps = doc.integer("num_steps", 0)
    doc.integer("num_episodes", 0, steps)  # every episode holds at least one step
    doc.flag("complete", default=False)
    fields = attrs.get("fields")
    if not isinstance(fields, list) or sorted(map(str, fields)) != sorted(step_fields(1, 1, 1, "float32", "float32")):
        doc.fail("fields", f"the schema's per-step arrays {list(step_fields(1, 1, 1, 'float32', 'float32'))}")
    preprocessing = doc.mapping("preprocessing")
    sizes = _Document(preprocessing, path)
    for key, high in (("screen_size", MAX_SCREEN_SIZE), ("stack_size", MAX_STACK_SIZE), ("frame_skip", 1000)):
        if key in preprocessing:
            sizes.integer(key, 1, high)
    for key in ("atari", "expert", "behaviour"):
        doc.mapping(key)
    if not isinstance(attrs.get("segments", []), list):
        doc.fail("segments", "a list")
    if attrs["schema_version"] < 2:
        if "cut_episodes" in attrs:
            doc.integer_list("cut_episodes", 0, max(steps - 1, 0))
        return attrs
    _check_lanes(doc, attrs)
    if attrs["schema_version"] >= 3:
        window = doc.integer("hidden_window", 1, MAX_HIDDEN_WINDOW)
        if window % chunk_len:
            doc.fail("hidden_window", f"a whole number of chunks of {chunk_len} steps")
    if attrs["schema_version"] >= SOURCES_SCHEMA_VERSION:
        _check_sources(doc, attrs)
    return attrs


def _check_lanes(doc: _Document, attrs: dict) -> None:
    """The commit of a schema 2 store: per lane, committed rows, closed episodes, complete."""
    lanes = attrs.get("lanes")
    if not isinstance(lanes, list) or not 1 <= len(lanes) <= MAX_LANES:
        doc.fail("lanes", f"a list of 1..{MAX_LANES} lane records")
    for record in lanes:
        if not isinstance(record, dict):
            doc.fail("lanes", "a list of lane records (JSON objects)")
        entry = _Document(record, doc.path)
        entry.integer("steps", 0)
        entry.integer("episodes", 0, record["steps"])
        entry.flag("complete")
    if sum(r["steps"] for r in lanes) != attrs["num_steps"]:
        doc.fail("num_steps", "the sum of its lanes' committed steps")
    if sum(r["episodes"] for r in lanes) != attrs["num_episodes"]:
        doc.fail("num_episodes", "the sum of its lanes' episodes")
    cut = attrs.get("cut_episodes", [])
    if not isinstance(cut, list) or not all(
        isinstance(item, list) and len(item) == 2 and all(type(v) is int for v in item)
        and 0 <= item[0] < len(lanes) and 0 <= item[1] < lanes[item[0]]["episodes"]
        for item in cut
    ):  # fmt: skip
        doc.fail("cut_episodes", "a list of [lane, episode] pairs of committed episodes")


def _check_sources(doc: _Document, attrs: dict) -> None:
    """Schema 4: the collections the lanes came from, and each lane's own."""
    sources = attrs.get("sources")
    if (
        not isinstance(sources, list)
        or not 1 <= len(sources) <= MAX_LANES
        or not all(isinstance(s, dict) for s in sources)
    ):
        doc.fail("sources", f"a list of 1..{MAX_LANES} collection records (JSON objects)")
    for source in sources:
        record = _Document(source, doc.path)
        record.text("name")
        record.mapping("expert", optional=False)
        record.mapping("behaviour")
    for lane in attrs["lanes"]:
        entry = _Document(lane, doc.path)
        entry.integer("source", 0, len(sources) - 1)
        entry.integer("source_lane", 0, MAX_LANES - 1)
    if {lane["source"] for lane in attrs["lanes"]} != set(range(len(sources))):
        doc.fail("sources", "the collections of the store's lanes, each the source of one lane at least")


# Keys of a document that describe the store as a whole, not the collection of its lanes.
STORE_KEYS = frozenset({
    "game", "atari", "preprocessing", "action_set", "rom",  # the game, shared by every lane
    "schema", "schema_version", "backend", "fields", "num_actions", "hidden_size", "q_dtype",
    "hidden_dtype", "chunk_len", "hidden_window", "compression", "converted_from", "merged",  # layout
    "lanes", "num_steps", "num_episodes", "complete", "cut_episodes", "creating", "sources",  # commit
    "document_sha256",  # the document's seal (identity.py)
})  # fmt: skip


def collection_record(attrs: dict) -> dict:
    """The provenance of the one collection a schema 1-3 document describes: every key that
    is neither the game, nor the layout of the arrays, nor the commit (expert, behaviour, seed,
    shard, target, versions, segments, times, and what a caller added), with the collection's
    own `complete` and `cut_episodes` (in its own lane numbers)."""
    record = {key: value for key, value in attrs.items() if key not in STORE_KEYS}
    record["complete"] = bool(attrs.get("complete"))
    record["cut_episodes"] = list(attrs.get("cut_episodes", []))
    return record


def lane_sources(attrs: dict) -> list[tuple[dict, int]]:
    """Per lane of a checked document: (the provenance record of the collection it came from,
    its lane number in that collection). The one place that knows where provenance lives:
    a merged store (schema 4) keeps one record per collection in `sources`, and each lane
    names its own; before, the whole document is one collection's."""
    if attrs["schema_version"] >= SOURCES_SCHEMA_VERSION:
        return [(attrs["sources"][lane["source"]], lane["source_lane"]) for lane in attrs["lanes"]]
    record = collection_record(attrs)
    return [(record, lane) for lane in range(len(lane_rows(attrs)))]


def array_problems(backend, attrs: dict) -> list[str]:
    """One line per array that is missing, foreign (a link out of the store), or not what the
    schema says (dtype, row shape, chunking, fewer rows than committed)."""
    problems = []
    for name, (tail, dtype, chunk_len, rows) in expected_arrays(attrs).items():
        problem = backend.array_problem(name)
        if problem is not None:
            problems.append(f"array {name} {problem}")
            continue
        array = backend.array(name)
        if np.dtype(array.dtype) != np.dtype(dtype) or tuple(array.shape[1:]) != tuple(tail):
            problems.append(
                f"array {name} is {np.dtype(array.dtype)} {tuple(array.shape[1:])} per row, the schema "
                f"says {np.dtype(dtype)} {tuple(tail)}"
            )
        elif array.chunks is None or tuple(array.chunks) != (chunk_len, *tail):
            problems.append(f"array {name} is chunked by {array.chunks}, the schema says {chunk_len} rows per chunk")
        elif array.shape[0] < rows:
            problems.append(f"array {name} has {array.shape[0]} rows, fewer than the {rows} committed")
    return problems
