"""`amn dataset`: inspect and verify teacher stores.

    amn dataset info PATH... [--json]        what each store and each game holds
    amn dataset verify PATH... [--allow-incomplete]
                                             exit 0 if every store is sound, else 2 with
                                             one line per problem
"""

from __future__ import annotations

import argparse
import json
import sys

from actor_mimic.datasets.inspection import summarize, summarize_games, verify_store


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    info = sub.add_parser("info", help="steps, episodes, returns, size, provenance of stores")
    info.add_argument("paths", nargs="+", metavar="PATH", help="teacher stores (.zarr directories or .h5 files)")
    info.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    verify = sub.add_parser("verify", help="check schema, counts, completeness and values of stores")
    verify.add_argument("paths", nargs="+", metavar="PATH", help="teacher stores (.zarr directories or .h5 files)")
    verify.add_argument(
        "--allow-incomplete", action="store_true", help="do not count an interrupted collection as a problem"
    )


def run(args: argparse.Namespace) -> int:
    if args.action == "info":
        return run_info(args.paths, as_json=args.json)
    return run_verify(args.paths, allow_incomplete=args.allow_incomplete)


def run_info(paths: list[str], as_json: bool = False) -> int:
    stores = [summarize(path) for path in dict.fromkeys(paths)]
    games = summarize_games(stores)
    if as_json:
        print(json.dumps({"stores": stores, "games": games}, indent=2))
        return 0
    for store in stores:
        print(_store_text(store))
    if len(stores) > 1:
        print("per game:")
        for game in games:
            print(
                f"  {game['game']}: {game['stores']} store(s), {game['steps']} steps, "
                f"{game['episodes']} episodes, return {_returns(game)}, "
                f"{_size(game['bytes_on_disk'])}{'' if game['complete'] else ', INCOMPLETE'}"
            )
    return 0


def _store_text(store: dict) -> str:
    if store["expert_sha256"] is None:
        expert = "unknown"
    else:
        expert = store["expert_sha256"] + {True: " (random init, untrained)", False: " (trained)", None: ""}[
            store["expert_untrained"]
        ]
    pending = store["committed_steps"] - store["steps"]
    lines = [
        f"{store['path']}",
        f"  game        {store['game']} (actions {list(store['action_set'])})",
        f"  steps       {store['steps']}" + (f" (+{pending} committed of an unfinished episode)" if pending else ""),
        f"  episodes    {store['episodes']}, return {_returns(store)}",
        f"  size        {_size(store['bytes_on_disk'])} on disk, {_size(store['raw_bytes'])} raw, "
        f"compression {store['compression_ratio']:.1f}x ({store['compression']})",
        f"  layout      {store['backend']}{'' if store['rows_at'] == store['path'] else ' (collecting in ' + store['rows_at'] + ')'}, "
        f"chunks of {store['chunk_len']} steps, Q-values "
        f"{store['q_dtype']}, hidden {store['hidden_size']} x {store['hidden_dtype']}",
        f"  complete    {'yes' if store['complete'] else 'NO: interrupted, finish it with amn collect ... --resume'}",
        f"  expert      {expert}",
        f"  behaviour   {store['behaviour'] or 'unknown'}, round {store['round']}",
    ]
    if store["sticky_actions"]:
        lines.append(
            f"  actions     as chosen; with sticky actions (p={store['sticky_actions']:g}) ALE may have "
            "executed the previous one on some frames, and does not report which"
        )
    return "\n".join(lines)


def _returns(record: dict) -> str:
    if record["return_mean"] is None:
        return "n/a"
    return f"mean {record['return_mean']:.2f} (min {record['return_min']:g}, max {record['return_max']:g})"


def _size(num_bytes: int) -> str:
    if num_bytes < 1024:
        return f"{num_bytes} B"
    size = num_bytes / 1024
    for unit in ("KiB", "MiB"):
        if size < 1024:
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def run_verify(paths: list[str], allow_incomplete: bool = False) -> int:
    failed = False
    for path in paths:
        problems = verify_store(path, allow_incomplete=allow_incomplete)
        if problems:
            failed = True
            for problem in problems:
                print(f"{path}: {problem}", file=sys.stderr)
        else:
            print(f"{path}: ok")
    return 2 if failed else 0
