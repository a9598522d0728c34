"""`amn checkpoint`: inspect checkpoints, make untrained ones, import other libraries' experts.

`init` and `import-*` check `--out` before reading anything: a `.safetensors` path that is
free, or, with `--overwrite`, one that holds an actor-mimic checkpoint (nothing else is ever
replaced). Missing parent folders are created.
"""

from __future__ import annotations

import argparse
import json

from actor_mimic.common.atari import AtariConfig
from actor_mimic.common.checkpoint import (
    check_checkpoint_output,
    random_init_expert,
    read_metadata,
    save_checkpoint,
)
from actor_mimic.common.importers import import_cleanrl, import_sb3
from actor_mimic.common.limits import check_seed
from actor_mimic.common.networks import ARCHITECTURES
from actor_mimic.errors import UserError

IMPORTERS = {"import-sb3": import_sb3, "import-cleanrl": import_cleanrl}
OVERWRITE_HELP = "replace --out if it already holds an actor-mimic checkpoint (nothing else is replaced)"


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    info = sub.add_parser("info", help="print a checkpoint's metadata as JSON")
    info.add_argument("path")
    init = sub.add_parser("init", help="write a freshly initialised (untrained) expert")
    init.add_argument("--game", required=True)
    init.add_argument("--out", required=True, help="the .safetensors file to write")
    init.add_argument("--seed", type=int, default=0)
    init.add_argument("--architecture", default="nature_dqn", choices=sorted(ARCHITECTURES))
    init.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    for name, help_text in (
        ("import-sb3", "convert a Stable-Baselines3 DQN .zip into an actor-mimic expert"),
        ("import-cleanrl", "convert a CleanRL dqn_atari state dict into an actor-mimic expert"),
    ):
        importer = sub.add_parser(name, help=help_text)
        importer.add_argument("path")
        importer.add_argument("--game", required=True, help="the game the expert was trained on")
        importer.add_argument("--out", required=True, help="the .safetensors file to write")
        importer.add_argument(
            "--sticky", type=float, default=0.0, help="repeat_action_probability it was trained with (default 0)"
        )
        importer.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)


def run(args: argparse.Namespace) -> int:
    if args.action == "info":
        print(json.dumps(json.loads(read_metadata(args.path).to_json()), indent=2))
        return 0
    check_checkpoint_output(args.out, args.overwrite)
    if args.action == "init":
        config = AtariConfig(args.game)
        checkpoint = random_init_expert(config, check_seed(args.seed), args.architecture)
        what = f"an untrained {args.architecture} expert"
    else:
        config = AtariConfig(args.game, repeat_action_probability=args.sticky)
        if args.path == args.out:
            raise UserError(f"{args.path} is both the file to import and --out: write the import elsewhere")
        checkpoint = IMPORTERS[args.action](args.path, config)
        what = f"the {checkpoint.metadata.provenance['source']} expert"
    path = save_checkpoint(args.out, checkpoint.network, checkpoint.metadata, overwrite=args.overwrite)
    print(f"wrote {what} for {checkpoint.metadata.games[0]} to {path}")
    return 0
