"""The `amn` command: one entry point, one subcommand per stage.

Each subcommand lives in the module that implements it. A module named here provides
`configure(parser)` to declare its arguments and `run(args) -> int` to execute; modules whose
command line belongs to another framework (LightningCLI) provide `main(argv) -> int` instead
and receive the raw arguments. Modules are imported only when their subcommand runs, so
`amn --help` stays fast.

A `UserError` anywhere below becomes one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from actor_mimic import __version__
from actor_mimic.errors import UserError

# name -> (module, one-line help). Order is the order of the data flow.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "collect": ("actor_mimic.collect.cli", "roll out an expert and write a teacher store"),
    "dataset": ("actor_mimic.datasets.cli", "inspect and verify teacher stores"),
    "distill": ("actor_mimic.distill.cli", "train an Actor-Mimic Network from teacher stores"),
    "evaluate": ("actor_mimic.distill.evaluate_cli", "play experts or an AMN in the real games"),
    "train-dqn": ("actor_mimic.transfer.cli", "train a DQN from scratch or from an AMN"),
    "transfer": ("actor_mimic.transfer.experiment_cli", "random-init vs AMN-init transfer experiment"),
    "checkpoint": ("actor_mimic.common.checkpoint_cli", "inspect and import expert checkpoints"),
}


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="amn",
        description="Actor-Mimic distillation from shareable teacher datasets.",
    )
    parser.add_argument("--version", action="version", version=f"actor-mimic {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in SUBCOMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _build_parser()
    if not argv or argv[0] not in SUBCOMMANDS:
        parser.parse_args(argv)  # prints help / an "invalid choice" error and exits
        parser.print_help()
        return 2
    name, rest = argv[0], argv[1:]
    try:
        module = importlib.import_module(SUBCOMMANDS[name][0])
        if hasattr(module, "main"):
            return int(module.main(rest) or 0)
        sub = argparse.ArgumentParser(prog=f"amn {name}", description=SUBCOMMANDS[name][1])
        module.configure(sub)
        args = sub.parse_args(rest)
        return int(module.run(args) or 0)
    except UserError as error:
        print(f"amn {name}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"amn {name}: interrupted", file=sys.stderr)
        return 130
