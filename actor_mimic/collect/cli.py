"""`amn collect`: roll out an expert and write a teacher store.

    amn collect --expert pong.safetensors --out pong.zarr --steps 1000000
    amn collect --expert pong.safetensors --out pong.zarr --steps 1000000 --resume   # after a stop
    amn collect --expert pong.safetensors --behaviour amn.safetensors --round r1 ...  # student acts
    amn collect --expert pong.safetensors --out pong-0.zarr --steps 1000000 --shard 0/4

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

from actor_mimic.collect.config import DEFAULT_EPSILON, CollectConfig, parse_shard
from actor_mimic.collect.interrupt import CollectionInterrupted
from actor_mimic.errors import UserError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--list-games", action="store_true", help="print the games ale-py ships and exit")
    parser.add_argument("--expert", help="expert checkpoint (.safetensors) that labels every step (required)")
    parser.add_argument("--out", help="the store to write: a .zarr directory or an .h5 file (required)")
    parser.add_argument("--backend", choices=("zarr", "hdf5"), help="storage engine (default: from --out's suffix)")
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--steps", type=int, help="collect exactly N steps over all shards (running episodes are cut at the budget)"
    )
    target.add_argument(
        "--episodes", type=int, help="collect exactly N episodes over all shards that the game ended (or timed out)"
    )
    parser.add_argument("--game", help="the game; optional, checked against the expert's")
    parser.add_argument(
        "--epsilon",
        type=float,
        default=DEFAULT_EPSILON,
        help=f"epsilon-greedy exploration of the acting policy (default {DEFAULT_EPSILON}: the paper's test protocol)",
    )
    parser.add_argument(
        "--behaviour",
        help="another checkpoint acts (an expert of this game or an AMN) while --expert labels every state",
    )
    parser.add_argument("--behaviour-epsilon", type=float, help="epsilon of --behaviour (default: --epsilon)")
    parser.add_argument("--round", help="a label of this collection round, recorded in the store")
    parser.add_argument("--hidden-layer", default="fc", help="expert layer whose activations are stored (default fc)")
    parser.add_argument("--seed", type=int, default=0, help="seed of envs and exploration (default 0)")
    parser.add_argument("--num-envs", type=int, default=8, help="parallel environments (default 8)")
    parser.add_argument("--shard", default="0/1", help="collect shard I of N (I/N, default 0/1)")
    parser.add_argument("--chunk-len", type=int, default=1024, help="steps per stored chunk (default 1024)")
    parser.add_argument(
        "--compression", default="zstd", help="zstd|lz4|gzip|none, optionally :level (default zstd)"
    )
    parser.add_argument(
        "--q-dtype", choices=("float32", "float16"), default="float32",
        help="dtype of stored Q-values (default float32: they are the distillation targets)",
    )
    parser.add_argument(
        "--hidden-dtype", choices=("float32", "float16"), default="float16",
        help="dtype of stored activations (default float16: half the size of float32)",
    )
    parser.add_argument("--noop-max", type=int, help="no-op starts after each reset (default: the expert's)")
    parser.add_argument(
        "--sticky", type=float,
        help="repeat_action_probability (default: the expert's); the store keeps the chosen actions: "
        "ALE does not report which ones it executed",
    )  # fmt: skip
    parser.add_argument("--frame-skip", type=int, help="must equal the expert's (checked); default: the expert's")
    parser.add_argument(
        "--resume", action="store_true", help="continue an interrupted store to its target (a missing store is started)"
    )
    parser.add_argument(
        "--overwrite", action="store_true",
        help="replace an existing teacher store (nothing else): it is kept as NAME.previous.SUFFIX "
        "until the new store is complete, then deleted",
    )  # fmt: skip
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def config_from_args(args: argparse.Namespace) -> CollectConfig:
    if args.expert is None:
        raise UserError("--expert is required: the expert checkpoint that labels the states")
    if args.out is None:
        raise UserError("--out is required: where to write the teacher store")
    return CollectConfig(
        expert=args.expert,
        out=args.out,
        steps=args.steps,
        episodes=args.episodes,
        epsilon=args.epsilon,
        behaviour=args.behaviour,
        behaviour_epsilon=args.behaviour_epsilon,
        round=args.round,
        game=args.game,
        hidden_layer=args.hidden_layer,
        seed=args.seed,
        num_envs=args.num_envs,
        shard=parse_shard(args.shard),
        backend=args.backend,
        chunk_len=args.chunk_len,
        compression=args.compression,
        q_dtype=args.q_dtype,
        hidden_dtype=args.hidden_dtype,
        noop_max=args.noop_max,
        sticky=args.sticky,
        frame_skip=args.frame_skip,
        resume=args.resume,
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )


def resume_command(config: CollectConfig) -> str:
    """The `amn collect` command that continues this run (same settings, --resume)."""
    parts = ["amn", "collect", "--expert", str(config.expert), "--out", str(config.out)]
    parts += [f"--{config.target_kind}", str(config.total_target)]
    defaults = CollectConfig(expert=None)
    for flag, name in (
        ("--game", "game"), ("--epsilon", "epsilon"), ("--behaviour", "behaviour"),
        ("--behaviour-epsilon", "behaviour_epsilon"), ("--round", "round"),
        ("--hidden-layer", "hidden_layer"), ("--seed", "seed"), ("--num-envs", "num_envs"),
        ("--backend", "backend"), ("--chunk-len", "chunk_len"), ("--compression", "compression"),
        ("--q-dtype", "q_dtype"), ("--hidden-dtype", "hidden_dtype"), ("--noop-max", "noop_max"), ("--sticky", "sticky"),
        ("--frame-skip", "frame_skip"),
    ):  # fmt: skip
        value = getattr(config, name)
        if value != getattr(defaults, name):
            parts += [flag, str(value)]
    if config.shard != (0, 1):
        parts += ["--shard", f"{config.shard[0]}/{config.shard[1]}"]
    parts.append("--resume")
    return " ".join(shlex.quote(part) for part in parts)


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
