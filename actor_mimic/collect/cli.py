"""`amn collect`: roll out an expert and write a teacher store.

    amn collect --expert pong.safetensors --out pong.zarr --steps 1000000
    amn collect --expert pong.safetensors --out pong.zarr --steps 1000000 --resume   # after a stop
    amn collect --expert pong.safetensors --behaviour amn.safetensors --round r1 ...  # student acts
    amn collect --expert pong.safetensors --out pong-0.zarr --steps 1000000 --shard 0/4
    amn collect --config pong.yaml --seed 3      # settings from a file (num_envs: 8), flags win

Every flag is a field of `CollectConfig` (collect/config.py), where its default, help text and
checks live; --config FILE.yaml takes the same settings, keyed by the flags in snake_case.

Ctrl-C (or SIGTERM) closes the store with every lane's whole chunks and prints the command that
resumes it; the exit status is then 128 + the signal number. The resumed store equals an
uninterrupted one (store.py, collect/lanes.py), after a kill too.

`--out` is checked before the expert is loaded (see `actor_mimic.collect.output`): an existing
path must be a teacher store, resumed with `--resume` or replaced with `--overwrite`; the old
store is only deleted once the new one is complete. Missing parent folders are created.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys

from actor_mimic.collect.config import CollectConfig
from actor_mimic.collect.interrupt import CollectionInterrupted
from actor_mimic.common.settings import add_settings, build, chosen, command_line


def configure(parser: argparse.ArgumentParser) -> None:
    """--list-games, and a flag per setting of `CollectConfig` (plus --config FILE.yaml)."""
    parser.add_argument("--list-games", action="store_true", help="print the games ale-py ships and exit")
    add_settings(parser, CollectConfig)


def config_from_args(args: argparse.Namespace) -> CollectConfig:
    """The settings given (--config file, then flags) over the command's defaults; checked by
    `CollectConfig.validate` when the collection starts."""
    return build(CollectConfig, chosen(args))


def resume_command(config: CollectConfig) -> str:
    """The `amn collect` command that continues this run (same settings, --resume)."""
    flags = command_line(config, skip=("resume", "overwrite"))
    return " ".join(shlex.quote(word) for word in ["amn", "collect", *flags, "--resume"])


def run(args: argparse.Namespace) -> int:
    if args.list_games:
        from actor_mimic.common.atari import all_games

        print("\n".join(all_games()))
        return 0
    config = config_from_args(args)
    from actor_mimic.collect.collector import collect, log

    # The closing summary line (steps, seconds, steps/s) goes to stderr for this run only.
    summary = logging.StreamHandler(sys.stderr)
    log.addHandler(summary)
    log.setLevel(logging.INFO)
    try:
        path = collect(config)
    except CollectionInterrupted as stopped:
        previous = getattr(stopped, "previous_store", None)
        kept = f" The store it replaces is kept at {previous} until this one is complete." if previous else ""
        print(
            f"amn collect: stopped by signal {stopped.signal_number} after {stopped.num_steps} steps "
            f"({stopped.num_episodes} episodes) of {config.total_target} {config.target_kind} "
            f"in {stopped.path}; the store is readable.{kept} Resume with:\n  {resume_command(config)}",
            file=sys.stderr,
        )
        return 128 + stopped.signal_number
    finally:
        log.removeHandler(summary)
    print(f"wrote {path}")
    return 0
