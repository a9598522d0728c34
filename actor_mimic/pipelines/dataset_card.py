"""What a built dataset holds: its record (`dataset.json`) and its card (`README.md`).

`dataset.json` (format "actor-mimic-dataset", version 1) lists every store the build finished
(its collection, shard, and `amn dataset info`'s record: game, steps, episodes, returns, bytes,
expert) and whether its checksums were verified. The build updates it as each shard finishes,
and reads it on a rerun to skip the shards it lists (when their stores are still there, complete).

The card is the dataset's README.md, with the Hugging Face front matter the store cards use
(store/card.py), and a body: the collections (per collection: game, stores, steps, episodes,
mean return, bytes, stores verified), every store, how to load them (Python and the `data`
section of an `amn distill fit` config) and the plan's settings. Each store keeps its own card.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from actor_mimic.common.limits import format_bytes
from actor_mimic.common.versions import installed_version
from actor_mimic.store import DEFAULT_LICENSE, TAGS, front_matter, size_category

FORMAT = "actor-mimic-dataset"
VERSION = 1
RECORD_NAME = "dataset.json"
CARD_NAME = "README.md"
# What the record keeps of a store's `amn dataset info` record.
SUMMARY_KEYS = ("game", "steps", "committed_steps", "episodes", "return_mean", "return_min", "return_max",
                "bytes_on_disk", "raw_bytes", "backend", "compression", "q_dtype", "hidden_dtype", "hidden_size",
                "expert_sha256", "expert_untrained", "behaviour", "round", "complete")  # fmt: skip


def empty_record(plan) -> dict:
    return {"format": FORMAT, "version": VERSION, "plan": plan.path.name, "stores": {}}


def read_record(path: Path) -> dict | None:
    """The record at `path`, or None when there is none (or it is not one)."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("format") != FORMAT or not isinstance(record.get("stores"), dict):
        return None
    return record


def add_store(record: dict, store: str, result) -> None:
    """Record a finished shard (a done ShardResult) under its store's name."""
    summary = {key: (result.summary or {}).get(key) for key in SUMMARY_KEYS}
    record["stores"][store] = {
        "collection": result.name,
        "shard": result.shard,
        "shards": result.shards,
        "verified": result.verified,
        "pushed": result.pushed,
        **summary,
    }


def collections(record: dict, plan) -> list[dict]:
    """Per collection of the plan: its game and the totals of its finished stores."""
    rows = []
    for game in plan.games:
        names = [game.store_name(shard) for shard in range(game.shards)]
        done = [record["stores"][name] for name in names if name in record["stores"]]
        episodes = sum(store["episodes"] for store in done)
        returns = sum((store["return_mean"] or 0.0) * store["episodes"] for store in done)
        rows.append({
            "collection": game.name,
            "game": done[0]["game"] if done else game.settings.get("game") or "?",
            "stores": len(done),
            "planned": game.shards,
            "steps": sum(store["steps"] for store in done),
            "episodes": episodes,
            "return_mean": returns / episodes if episodes else None,
            "bytes_on_disk": sum(store["bytes_on_disk"] for store in done),
            "verified": sum(bool(store["verified"]) for store in done),
            "store_names": [name for name in names if name in record["stores"]],
        })  # fmt: skip
    return rows


def summary_table(rows: list[dict]) -> str:
    """The per-collection summary the build prints at its end."""
    header = f"{'collection':<16} {'game':<16} {'stores':>7} {'steps':>12} {'episodes':>9} {'bytes':>10} verified"
    lines = [header]
    for row in rows:
        lines.append(
            f"{row['collection']:<16} {row['game']:<16} {row['stores']:>3}/{row['planned']:<3} {row['steps']:>12,} "
            f"{row['episodes']:>9,} {format_bytes(row['bytes_on_disk']):>10} {row['verified']}/{row['stores']}"
        )
    return "\n".join(lines)


def dataset_card(record: dict, plan, license_id: str | None = None) -> str:
    """The dataset's README.md: front matter, then the body of the module docstring."""
    rows = collections(record, plan)
    stores = {name: record["stores"][name] for row in rows for name in row["store_names"]}  # in the plan's order
    games = sorted({row["game"] for row in rows})
    steps = sum(row["steps"] for row in rows)
    document = {
        "pretty_name": f"Actor-Mimic teacher dataset: {', '.join(games)}",
        "license": license_id or DEFAULT_LICENSE,
        "tags": [*TAGS, *games],
        "task_categories": ["reinforcement-learning"],
        "size_categories": [size_category(steps)],
        "viewer": False,
    }
    planned = sum(row["planned"] for row in rows)
    finished = sum(row["stores"] for row in rows)
    state = "complete" if finished == planned else f"**{finished} of {planned} stores finished**: rerun the build"
    version = installed_version("actor-mimic") or "from a checkout"
    settings = {game.name: {"shards": game.shards, **game.settings} for game in plan.games}
    introduction = (
        f"Teacher stores of {len(games)} Atari games ({state}), built by `amn dataset build "
        f"{plan.path.name}` (actor-mimic {version}). Each "
        "store holds, for every step, the newest frame, the action, reward and end flags, and the "
        "expert's Q-values and hidden activations; each has its own card (README.md inside a Zarr "
        "store) with its expert, environment and library versions. `dataset.json` lists the stores "
        "in machine-readable form.\n"
    )
    parts = [
        "---\n" + yaml.safe_dump(document, sort_keys=False) + "---\n",
        f"# Actor-Mimic teacher dataset: {len(rows)} collections, {finished} stores\n",
        introduction,
        "## Collections\n",
        _collections_table(rows),
        "## Stores\n",
        _stores_table(stores),
        _loading(rows),
        "## How it was made\n",
        "The plan's `amn collect` settings of each collection (paths as on the machine that built it):\n",
        "```yaml\n" + yaml.safe_dump(settings, sort_keys=False) + "```\n",
    ]
    return "\n".join(parts)


def _collections_table(rows: list[dict]) -> str:
    lines = ["| collection | game | stores | steps | episodes | mean return | bytes | checksums verified |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for row in rows:
        mean = f"{row['return_mean']:.1f}" if row["return_mean"] is not None else "-"
        lines.append(
            f"| {row['collection']} | {row['game']} | {row['stores']}/{row['planned']} | {row['steps']:,} | "
            f"{row['episodes']:,} | {mean} | {format_bytes(row['bytes_on_disk'])} | {row['verified']}/{row['stores']} |"
        )
    return "\n".join(lines) + "\n"


def _stores_table(stores: dict) -> str:
    lines = ["| store | collection | shard | steps | episodes | mean return | bytes | expert sha256 | verified |",
             "|---|---|---:|---:|---:|---:|---:|---|---|"]  # fmt: skip
    for name, store in stores.items():
        mean = f"{store['return_mean']:.1f}" if store["return_mean"] is not None else "-"
        lines.append(
            f"| {name} | {store['collection']} | {store['shard']}/{store['shards']} | {store['steps']:,} | "
            f"{store['episodes']:,} | {mean} | {format_bytes(store['bytes_on_disk'])} | "
            f"{store['expert_sha256'] or '-'} | {'yes' if store['verified'] else 'no'} |"
        )
    return "\n".join(lines) + "\n"


def _loading(rows: list[dict]) -> str:
    python = ["from actor_mimic.datasets import TeacherDataset, TeacherMixture, make_loader", ""]
    names = []
    for row in rows:
        if row["store_names"]:
            variable = row["collection"].replace("-", "_").replace(".", "_")
            python.append(f"{variable} = TeacherDataset({row['store_names']!r})  # shards read as one")
            names.append(variable)
    python += [f"mixture = TeacherMixture([{', '.join(names)}])  # balanced across collections",
               "for batch in make_loader(mixture, batch_size=256, seed=0):", "    ..."]  # fmt: skip
    games: dict[str, list[str]] = {}
    for row in rows:  # collections of one game (say, a student-acts round) train as that game
        games.setdefault(row["game"], []).extend(row["store_names"])
    config = {"data": {"games": [{"game": game, "stores": stores} for game, stores in games.items() if stores]}}
    return (
        "## How to load\n\n"
        "From this folder, with actor-mimic installed:\n\n"
        "```python\n" + "\n".join(python) + "\n```\n\n"
        "The `data` section of an `amn distill fit` config that trains on all of it:\n\n"
        "```yaml\n" + yaml.safe_dump(config, sort_keys=False, default_flow_style=None) + "```\n"
    )


def kept_license(card_text: str | None) -> str | None:
    """The license of an existing generated card, kept when the card is rewritten."""
    if not card_text:
        return None
    license_id = front_matter(card_text).get("license")
    return license_id if isinstance(license_id, str) else None
