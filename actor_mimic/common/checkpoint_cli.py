"""`amn checkpoint`: inspect checkpoints, make untrained ones, import other libraries' experts.

`init` and `import-*` check `--out` before reading anything: a `.safetensors` path that is
free, or, with `--overwrite`, one that holds an actor-mimic checkpoint (nothing else is ever
replaced). Missing parent folders are created.

    amn checkpoint init --game pong --out pong-untrained.safetensors --seed 3
    amn checkpoint import-cleanrl dqn.pt --game pong --out pong.safetensors --sticky-actions 0.25
    amn checkpoint init --config init.yaml --seed 4    # settings from a file (game: pong), flags win

The options of `init` and `import-*` are the fields of `InitOptions` and `ImportOptions`;
--config FILE.yaml takes the same settings, keyed by the flags in snake_case.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass

from actor_mimic.common.atari import AtariConfig
from actor_mimic.common.checkpoint import (
    check_checkpoint_output,
    random_init_expert,
    read_metadata,
    save_checkpoint,
)
from actor_mimic.common.fire import describe_protocol
from actor_mimic.common.importers import import_cleanrl, import_sb3
from actor_mimic.common.limits import check_seed
from actor_mimic.common.networks import ARCHITECTURES
from actor_mimic.common.settings import add_settings, build, chosen, setting
from actor_mimic.errors import UserError

IMPORTERS = {"import-sb3": import_sb3, "import-cleanrl": import_cleanrl}
OVERWRITE_HELP = "replace --out if it already holds an actor-mimic checkpoint (nothing else is replaced)"


@dataclass
class InitOptions:
    """`amn checkpoint init`: each field is a flag and a --config key (common/settings.py)."""

    game: str = setting(help="the game the expert plays, e.g. pong", required=True)
    out: str = setting(help="the .safetensors file to write", required=True)
    seed: int = setting(0, "seed of the initial weights")
    architecture: str = setting("nature_dqn", "the network", choices=sorted(ARCHITECTURES))
    overwrite: bool = setting(False, OVERWRITE_HELP)


@dataclass
class ImportOptions:
    """`amn checkpoint import-sb3` and `import-cleanrl`; the file to import stays positional."""

    game: str = setting(help="the game the expert was trained on", required=True)
    out: str = setting(help="the .safetensors file to write", required=True)
    # Spelled as in `amn collect` and `amn train-dqn`; `--sticky` is the older spelling.
    sticky: float = setting(
        0.0, "repeat_action_probability it was trained with", flag="--sticky-actions", aliases=("--sticky",)
    )
    # The source library's protocol is recorded unless these say otherwise (importers/expert.py).
    fire_on_reset: bool | None = setting(
        None, "record whether FIRE is pressed at each episode's start (default: the library's protocol, on)"
    )
    fire_on_life_loss: bool | None = setting(
        None, "record whether FIRE is pressed after a lost life (default: the library's protocol, on)"
    )
    overwrite: bool = setting(False, OVERWRITE_HELP)


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    info = sub.add_parser("info", help="print a checkpoint's metadata as JSON")
    info.add_argument("path")
    init = sub.add_parser("init", help="write a freshly initialised (untrained) expert")
    add_settings(init, InitOptions)
    for name, help_text in (
        ("import-sb3", "convert a Stable-Baselines3 DQN, PPO or A2C or sb3-contrib QR-DQN .zip into an expert"),
        ("import-cleanrl", "convert a CleanRL dqn_atari or ppo_atari model into an actor-mimic expert"),
    ):
        importer = sub.add_parser(name, help=help_text)
        importer.add_argument("path", help="the file to import")
        add_settings(importer, ImportOptions)


def run(args: argparse.Namespace) -> int:
    if args.action == "info":
        print(json.dumps(json.loads(read_metadata(args.path).to_json()), indent=2))
        return 0
    if args.action == "init":
        return write_untrained(build(InitOptions, chosen(args)))
    return write_import(args.action, args.path, build(ImportOptions, chosen(args)))


def write_untrained(options: InitOptions) -> int:
    check_checkpoint_output(options.out, options.overwrite)
    checkpoint = random_init_expert(AtariConfig(options.game), check_seed(options.seed), options.architecture)
    return _save(checkpoint, options.out, options.overwrite, f"an untrained {options.architecture} expert")


def write_import(action: str, path: str, options: ImportOptions) -> int:
    check_checkpoint_output(options.out, options.overwrite)
    config = AtariConfig(options.game, repeat_action_probability=options.sticky)
    if path == options.out:
        raise UserError(f"{path} is both the file to import and --out: write the import elsewhere")
    checkpoint = IMPORTERS[action](path, config)
    metadata = checkpoint.metadata
    for name in ("fire_on_reset", "fire_on_life_loss"):
        if getattr(options, name) is not None:
            metadata.atari[name] = getattr(options, name)
    provenance = metadata.provenance
    algorithm = provenance["algorithm"].upper()
    what = f"the {provenance['library']} {algorithm} expert ({metadata.outputs}, acting {metadata.acting})"
    _save(checkpoint, options.out, options.overwrite, what)
    print(f"recorded its environment: {describe_protocol(metadata.atari_config())}")
    return 0


def _save(checkpoint, out, overwrite: bool, what: str) -> int:
    path = save_checkpoint(out, checkpoint.network, checkpoint.metadata, overwrite=overwrite)
    print(f"wrote {what} for {checkpoint.metadata.games[0]} to {path}")
    return 0
