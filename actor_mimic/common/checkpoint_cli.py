"""`amn checkpoint`: inspect checkpoints, make untrained ones, import other libraries' experts."""

from __future__ import annotations

import argparse
import json

from actor_mimic.common.atari import AtariConfig
from actor_mimic.common.checkpoint import random_init_expert, read_metadata, save_checkpoint


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    info = sub.add_parser("info", help="print a checkpoint's metadata as JSON")
    info.add_argument("path")
    init = sub.add_parser("init", help="write a freshly initialised (untrained) expert")
    init.add_argument("--game", required=True)
    init.add_argument("--out", required=True)
    init.add_argument("--seed", type=int, default=0)
    init.add_argument("--architecture", default="nature_dqn")


def run(args: argparse.Namespace) -> int:
    if args.action == "info":
        print(json.dumps(json.loads(read_metadata(args.path).to_json()), indent=2))
    elif args.action == "init":
        checkpoint = random_init_expert(AtariConfig(args.game), args.seed, args.architecture)
        path = save_checkpoint(args.out, checkpoint.network, checkpoint.metadata)
        print(f"wrote an untrained {args.architecture} expert for {checkpoint.metadata.games[0]} to {path}")
    return 0
