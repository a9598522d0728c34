"""The `amn` command: one entry point, one subcommand per stage.

Each subcommand lives in the module that implements it. A module named here provides
`configure(parser)` to declare its arguments and `run(args) -> int` to execute; modules whose
command line is partly another framework's (LightningCLI's) provide `main(argv) -> int`
instead and receive the raw arguments. Modules are imported only when their subcommand runs,
so `amn --help` stays fast.

A pipeline that spans stages (`actor_mimic.pipelines`) may keep the spelling of a stage's
command, as `amn distill round` does: it is registered here, in PIPELINE_SUBCOMMANDS, so no
stage imports a pipeline.

Errors:
- a `UserError` anywhere below (and any argparse error) becomes one line on stderr, exit 2;
- any other exception is a bug: `main` lets it propagate (tests see it with its traceback);
  the `amn` command itself (`entry_point`) prints it as one line with a hint, exit 1;
- `amn --debug ...` or `AMN_DEBUG=1` re-raises both, for a developer's traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from actor_mimic import __version__
from actor_mimic.common.arguments import ArgumentParser
from actor_mimic.errors import UserError, one_line

# name -> (module, one-line help). Order is the order of the data flow.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "collect": ("actor_mimic.collect.cli", "roll out an expert and write a teacher store"),
    "dataset": ("actor_mimic.datasets.cli", "inspect, verify, convert, merge and share teacher stores"),
    "distill": ("actor_mimic.distill.cli", "train an Actor-Mimic Network from teacher stores"),
    "evaluate": ("actor_mimic.pipelines.evaluate", "play experts or an AMN in the real games"),
    "diagnose": ("actor_mimic.pipelines.diagnosis.cli", "why a student fails: on-policy agreement, deaths"),
    "train-dqn": ("actor_mimic.transfer.train_dqn_cli", "train a DQN from scratch or from an AMN"),
    "transfer": ("actor_mimic.transfer.transfer_cli", "random-init vs AMN-init transfer experiment"),
    "checkpoint": ("actor_mimic.common.checkpoint_cli", "inspect and import expert checkpoints"),
}

# (command, its first argument) -> (module, one-line help): pipelines spelled as a stage's subcommand.
PIPELINE_SUBCOMMANDS: dict[tuple[str, str], tuple[str, str]] = {
    ("distill", "round"): ("actor_mimic.pipelines.student_round", "collect a student-acts round and resume the fit"),
    ("dataset", "build"): ("actor_mimic.pipelines.dataset_build", "collect a whole dataset from a plan file"),
}

OUTPUT_RULES = """\
outputs (every command): every argument and output is checked before anything is written;
an existing output is replaced only with --overwrite and only if actor-mimic wrote it (a
checkpoint, a teacher store, its own result files); missing parent folders are created;
results are written to NAME.partial and renamed into place when complete, so a failed
command leaves nothing half-written (a teacher store is written in place to stay resumable;
the store --overwrite replaces is kept as NAME.previous until the new one is complete).
Errors are one line; `amn --debug COMMAND ...` (or AMN_DEBUG=1) shows the traceback."""

DEBUG_FLAG = "--debug"


def _build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="amn",
        description="Actor-Mimic distillation from shareable teacher datasets.",
        epilog=OUTPUT_RULES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"actor-mimic {__version__}")
    parser.add_argument(DEBUG_FLAG, action="store_true", help="show tracebacks instead of one-line errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in SUBCOMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def debug_requested(argv: list[str]) -> bool:
    return (bool(argv) and argv[0] == DEBUG_FLAG) or os.environ.get("AMN_DEBUG", "") not in ("", "0")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = debug_requested(argv)
    if argv and argv[0] == DEBUG_FLAG:
        argv = argv[1:]
    name = argv[0] if argv else ""
    try:
        if name not in SUBCOMMANDS:
            parser = _build_parser()
            parser.parse_args(argv)  # --help / --version exit here; an unknown name raises
            parser.print_help()
            return 2
        rest = argv[1:]
        pipeline = PIPELINE_SUBCOMMANDS.get((name, rest[0] if rest else ""))
        if pipeline is not None:  # e.g. `amn distill round`
            module, rest = importlib.import_module(pipeline[0]), rest[1:]
        else:
            module = importlib.import_module(SUBCOMMANDS[name][0])
        if hasattr(module, "main"):
            return int(module.main(rest) or 0)
        sub = ArgumentParser(prog=f"amn {name}", description=SUBCOMMANDS[name][1])
        module.configure(sub)
        args = sub.parse_args(rest)
        return int(module.run(args) or 0)
    except UserError as error:
        if debug:
            raise
        print(f"amn{' ' + name if name in SUBCOMMANDS else ''}: error: {one_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"amn {name}: interrupted", file=sys.stderr)
        return 130


def entry_point() -> int:
    """The `amn` command: `main`, with an unexpected exception (a bug) shown as one line."""
    try:
        return main()
    except Exception as error:  # noqa: BLE001 - the last line of defence, by design
        if debug_requested(sys.argv[1:]):
            raise
        summary = one_line(f"{type(error).__name__}: {error}")
        if len(summary) > 300:
            summary = summary[:297] + "..."
        print(
            f"amn: internal error ({summary}); this is a bug in actor-mimic: rerun with "
            f"`amn --debug ...` (or AMN_DEBUG=1) for the traceback and report it",
            file=sys.stderr,
        )
        return 1
