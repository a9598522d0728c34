"""`amn checkpoint`: inspect checkpoints, make untrained ones, import other libraries' experts."""

from __future__ import annotations

import argparse
import json

from actor_mimic.common.atari import AtariConfig
from actor_mimic.common.checkpoint import random_init_expert, read_metadata, save_checkpoint
from actor_mimic.common.importers import import_cleanrl, import_sb3

IMPORTERS = {"import-sb3": import_sb3, "import-cleanrl": import_cleanrl}


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    info = sub.add_parser("info", help="print a checkpoint's metadata as JSON")
    info.add_argument("path")
    init = sub.add_parser("init", help="write a freshly initialised (untrained) expert")
    init.add_argument("--game", required=True)
    init.add_argument("--out", required=True)
    init.add_argument("--seed", type=int, default=0)
    init.add_argument("--architecture", default="nature_dqn")
    for name, help_text in (
        ("import-sb3", "convert a Stable-Baselines3 DQN .zip into an actor-mimic expert"),
        ("import-cleanrl", "convert a CleanRL dqn_atari state dict into an actor-mimic expert"),
    ):
        importer = sub.add_parser(name, help=help_text)
        importer.add_argument("path")
        importer.add_argument("--game", required=True, help="the game the expert was trained on")
        importer.add_argument("--out", required=True, help="the .safetensors file to write")
        importer.add_argument("--sticky", type=float, default=0.0,
                              help="repeat_action_probability it was trained with (default 0)")


def run(args: argparse.Namespace) -> int:
    if args.action == "info":
        print(json.dumps(json.loads(read_metadata(args.path).to_json()), indent=2))
        return 0
    if args.action == "init":
        checkpoint = random_init_expert(AtariConfig(args.game), args.seed, args.architecture)
        what = f"an untrained {args.architecture} expert"
    else:
        config = AtariConfig(args.game, repeat_action_probability=args.sticky)
        checkpoint = IMPORTERS[args.action](args.path, config)
        what = f"the {checkpoint.metadata.provenance['source']} expert"
    path = save_checkpoint(args.out, checkpoint.network, checkpoint.metadata)
    print(f"wrote {what} for {checkpoint.metadata.games[0]} to {path}")
    return 0
