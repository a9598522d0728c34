"""The `amn dataset` actions that make stores for others: `merge` and `export-minari`.

    amn dataset merge OUT STORE STORE... [--allow-incomplete] [--overwrite]
    amn dataset export-minari STORE DATASET_ID [--data-path DIR] [--allow-incomplete]
        [--author NAME] [--author-email ADDRESS] [--overwrite]

Kept apart from datasets/cli.py so each action's options and dispatch sit with its module.
"""

from __future__ import annotations

import argparse


def configure_merge(sub) -> None:
    merge = sub.add_parser(
        "merge", help="several collections of one game (shards, seeds, rounds) as one store, exactly"
    )
    merge.add_argument("out", metavar="OUT", help="the new store: .h5/.hdf5 for HDF5, else a Zarr directory")
    merge.add_argument("stores", nargs="+", metavar="STORE", help="teacher stores of one game and expert (two or more)")
    merge.add_argument(
        "--allow-incomplete", action="store_true", help="merge interrupted collections too (their committed steps)"
    )
    merge.add_argument("--overwrite", action="store_true", help="replace an existing teacher store at OUT")


def configure_export_minari(sub) -> None:
    export = sub.add_parser("export-minari", help="write a store's episodes as a Minari dataset")
    export.add_argument("store", metavar="STORE", help="a complete teacher store")
    export.add_argument(
        "dataset_id", metavar="DATASET_ID", help="the Minari dataset id, e.g. atari/breakout/teacher-v0"
    )
    export.add_argument(
        "--data-path",
        metavar="DIR",
        help="Minari's datasets folder (default: $MINARI_DATASETS_PATH or ~/.minari/datasets)",
    )
    export.add_argument(
        "--allow-incomplete", action="store_true", help="export an interrupted store's finished episodes"
    )
    export.add_argument("--author", help="the dataset's author, for its metadata")
    export.add_argument("--author-email", help="the author's contact, for its metadata")
    export.add_argument(
        "--overwrite", action="store_true", help="replace a dataset of this id that actor-mimic exported"
    )


def run(args: argparse.Namespace) -> int:
    if args.action == "merge":
        from actor_mimic.datasets.merge import merge

        print(f"wrote {merge(args.out, args.stores, allow_incomplete=args.allow_incomplete, overwrite=args.overwrite)}")
        return 0
    from actor_mimic.datasets.minari_export import export_minari

    path = export_minari(
        args.store, args.dataset_id, data_path=args.data_path, overwrite=args.overwrite,
        allow_incomplete=args.allow_incomplete,
        author=args.author, author_email=args.author_email,
    )  # fmt: skip
    print(f"wrote Minari dataset {args.dataset_id} at {path}")
    return 0
