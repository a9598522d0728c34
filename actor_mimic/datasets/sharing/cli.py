"""The `amn dataset` actions that make stores for others: `merge` and `export-minari`.

    amn dataset merge OUT STORE STORE... [--allow-incomplete] [--overwrite]
    amn dataset export-minari STORE DATASET_ID [--data-path DIR] [--allow-incomplete]
        [--author NAME] [--author-email ADDRESS] [--overwrite]

Kept apart from datasets/cli.py so these actions' arguments and dispatch sit together; their
options (flags and --config keys) are `MergeOptions` and `MinariOptions` in datasets/options.py.
"""

from __future__ import annotations

import argparse


def configure_merge(sub) -> None:
    """merge's positional stores; its options are `MergeOptions` (added by datasets/cli.py)."""
    merge = sub.add_parser(
        "merge", help="several collections of one game (shards, seeds, rounds) as one store, exactly"
    )
    merge.add_argument("out", metavar="OUT", help="the new store: .h5/.hdf5 for HDF5, else a Zarr directory")
    merge.add_argument("stores", nargs="+", metavar="STORE", help="teacher stores of one game and expert (two or more)")


def configure_export_minari(sub) -> None:
    """export-minari's store and dataset id; its options are `MinariOptions` (datasets/cli.py)."""
    export = sub.add_parser("export-minari", help="write a store's episodes as a Minari dataset")
    export.add_argument("store", metavar="STORE", help="a complete teacher store")
    export.add_argument(
        "dataset_id", metavar="DATASET_ID", help="the Minari dataset id, e.g. atari/breakout/teacher-v0"
    )


def run(args: argparse.Namespace, options) -> int:
    """merge or export-minari, with the action's `MergeOptions` or `MinariOptions`."""
    if args.action == "merge":
        from actor_mimic.datasets.sharing.merge import merge

        path = merge(args.out, args.stores, allow_incomplete=options.allow_incomplete, overwrite=options.overwrite)
        print(f"wrote {path}")
        return 0
    from actor_mimic.datasets.sharing.minari_export import export_minari

    path = export_minari(
        args.store, args.dataset_id, data_path=options.data_path, overwrite=options.overwrite,
        allow_incomplete=options.allow_incomplete, author=options.author, author_email=options.author_email,
    )  # fmt: skip
    print(f"wrote Minari dataset {args.dataset_id} at {path}")
    return 0
