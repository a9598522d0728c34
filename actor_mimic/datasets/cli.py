"""`amn dataset`: inspect, verify, convert, merge and share (card, push, pull, Minari) teacher stores.

    amn dataset info PATH... [--json]        what each store and each game holds
    amn dataset verify PATH... [--allow-incomplete]
                                             exit 0 if every store is sound, else 2 with
                                             one line per problem
    amn dataset card STORE [--write [--license ID] [--overwrite]]
                                             print the store's dataset card (README.md with
                                             Hugging Face front matter); --write (re)writes it
    amn dataset convert SOURCE TARGET [--compression C] [--chunk-len N] [--overwrite]
                                             the store in the other engine (Zarr <-> HDF5,
                                             from TARGET's suffix), every value exact
    amn dataset push STORE URL [--overwrite] [--no-progress]
                                             upload a verified store (hf://, s3://, gs://,
                                             file://, memory://), then check the copy
    amn dataset pull URL DIR [--digest sha256:...] [--overwrite] [--no-progress]
                                             fetch a store into DIR/NAME, every chunk checked;
                                             re-run to continue an interrupted one
    amn dataset merge OUT STORE STORE... [--allow-incomplete] [--overwrite]
                                             the lanes of several collections of one game
                                             (shards, seeds, rounds) as one store, exactly
    amn dataset export-minari STORE DATASET_ID [--data-path DIR] [--overwrite] [...]
                                             the store's episodes as a Minari dataset

`amn dataset build PLAN.yaml` (actor_mimic/pipelines/dataset_build.py) collects a whole dataset
from a plan file. info and verify (and training) read Zarr stores from URLs too, fetching only what they need.
Every action's options may also come from `--config FILE.yaml`, keyed by the flags in
snake_case (`chunk_len: 4096`); flags typed override the file (datasets/options.py).
"""

from __future__ import annotations

import argparse
import json
import sys

from actor_mimic.common.settings import add_settings, build, chosen
from actor_mimic.datasets.inspection import summarize, summarize_games, verify_store
from actor_mimic.datasets.options import ACTION_OPTIONS


def configure(parser: argparse.ArgumentParser) -> None:
    """Each action: its positional stores and URLs, then a flag per field of its options
    (datasets/options.py) and --config FILE.yaml for them."""
    parser.epilog = "amn dataset build PLAN.yaml: collect a whole dataset from a plan file (its own --help)"
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    info = sub.add_parser("info", help="steps, episodes, returns, size, provenance of stores")
    info.add_argument("paths", nargs="+", metavar="PATH", help="teacher stores (.zarr directories or .h5 files)")
    verify = sub.add_parser("verify", help="check schema, counts, completeness and values of stores")
    verify.add_argument("paths", nargs="+", metavar="PATH", help="teacher stores (.zarr directories or .h5 files)")
    card = sub.add_parser("card", help="print or write the dataset card (README.md) of a store")
    card.add_argument("store", metavar="STORE", help="a teacher store (.zarr directory or .h5 file)")
    convert = sub.add_parser("convert", help="rewrite a complete store in the other engine (Zarr <-> HDF5), exactly")
    convert.add_argument("source", metavar="SOURCE", help="a complete teacher store")
    convert.add_argument("target", metavar="TARGET", help="the new store: .h5/.hdf5 for HDF5, else a Zarr directory")
    push = sub.add_parser("push", help="upload a verified store to a URL (hf://, s3://, gs://, file://), then check it")
    push.add_argument("store", metavar="STORE", help="a complete local teacher store")
    push.add_argument(
        "url", metavar="URL", help="where the store goes, its name included (hf://datasets/USER/REPO/pong.zarr)"
    )
    pull = sub.add_parser("pull", help="fetch a store from a URL into DIR/NAME, every chunk checked; resumable")
    pull.add_argument("url", metavar="URL", help="a teacher store's URL (hf://, s3://, gs://, http(s)://, file://)")
    pull.add_argument("folder", metavar="DIR", help="the folder to put it in (as DIR/NAME, NAME the URL's last part)")
    from actor_mimic.datasets.sharing.cli import configure_export_minari, configure_merge

    configure_merge(sub)
    configure_export_minari(sub)
    for name, action in sub.choices.items():
        add_settings(action, ACTION_OPTIONS[name])


def run(args: argparse.Namespace) -> int:
    options = build(ACTION_OPTIONS[args.action], chosen(args))  # the --config file's, then the flags'
    if args.action == "info":
        return run_info(args.paths, as_json=options.as_json)
    if args.action == "verify":
        return run_verify(args.paths, allow_incomplete=options.allow_incomplete)
    if args.action == "card":
        return run_card(args.store, write=options.write, license_id=options.license_id, overwrite=options.overwrite)
    if args.action == "convert":
        from actor_mimic.datasets.sharing.convert import convert

        target = convert(args.source, args.target, options.compression, options.chunk_len, overwrite=options.overwrite)
        print(f"wrote {target}")
        return 0
    if args.action == "push":
        from actor_mimic.datasets.sharing.push import push

        uploaded, kept = push(args.store, args.url, overwrite=options.overwrite, progress=options.progress)
        print(f"pushed {args.store} to {args.url}: {uploaded} file(s) uploaded, {kept} already there; copy checked")
        return 0
    if args.action == "pull":
        from actor_mimic.datasets.sharing.pull import pull

        target, fetched, kept = pull(
            args.url, args.folder, overwrite=options.overwrite, progress=options.progress, digest=options.digest
        )
        matched = f"; its digest is {options.digest}" if options.digest else ""
        print(f"pulled {args.url} to {target}: {fetched} file(s) fetched, {kept} kept from before; verified{matched}")
        return 0
    from actor_mimic.datasets.sharing.cli import run as run_sharing

    return run_sharing(args, options)  # merge, export-minari


def run_card(store: str, write: bool = False, license_id: str | None = None, overwrite: bool = False) -> int:
    """Print the card generated from the store's metadata; with `write`, store it too."""
    from actor_mimic.store import card_path, read_card, render_card, write_card

    if write:
        print(f"wrote {write_card(store, license_id, overwrite=overwrite)}")
        return 0
    text = render_card(store)
    print(text, end="")
    on_disk = read_card(store)
    if on_disk is None:
        print(f"note: {store} has no card file yet; `amn dataset card {store} --write` writes "
              f"{card_path(store)}", file=sys.stderr)  # fmt: skip
    elif on_disk != text:
        print(f"note: {card_path(store)} is out of date; `amn dataset card {store} --write` "
              "rewrites it", file=sys.stderr)  # fmt: skip
    return 0


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
        expert = (
            store["expert_sha256"]
            + {True: " (random init, untrained)", False: " (trained)", None: ""}[store["expert_untrained"]]
        )
    pending = store["committed_steps"] - store["steps"]
    lines = [
        f"{store['path']}",
        f"  game        {store['game']} (actions {list(store['action_set'])})",
        f"  steps       {store['steps']}" + (f" (+{pending} committed of an unfinished episode)" if pending else ""),
        f"  episodes    {store['episodes']}, return {_returns(store)}",
        (
            f"  size        {_size(store['bytes_on_disk'])} on disk, {_size(store['raw_bytes'])} raw, "
            f"compression {store['compression_ratio']:.1f}x ({store['compression']})"
        ),
        (
            f"  layout      {store['backend']}"
            f"{'' if store['rows_at'] == store['path'] else ' (collecting in ' + store['rows_at'] + ')'}, "
            f"chunks of {store['chunk_len']} steps, Q-values "
            f"{store['q_dtype']}, hidden {store['hidden_size']} x {store['hidden_dtype']}"
        ),
        f"  complete    {'yes' if store['complete'] else 'NO: interrupted, finish it with amn collect ... --resume'}",
        f"  digest      {store['digest'] or 'none (schema 1: no chunk checksums)'}"
        + ("" if store["sealed"] else " (its document has no seal: an older store)"),
        f"  expert      {expert}" + (f", {store['teacher_source']}" if store["teacher_source"] else ""),
        f"  labels      {'action logits' if store['teacher_outputs'] == 'logits' else 'Q-values'} (q_values)",
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
