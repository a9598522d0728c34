"""`amn distill round`: one round of the paper's regime, where the student acts.

    amn distill round --config distill.yaml --ckpt_path runs/distill/version_0/checkpoints/last.ckpt \
        --amn runs/distill/version_0/amn.safetensors \
        --experts pong.safetensors breakout.safetensors \
        --round r1 --steps 50000 --out-dir stores/ --more-steps 20000

1. Collect: for each game, the AMN acts epsilon-greedily (epsilon 0.1, the paper's) while the
   game's expert labels every visited state; each game's round goes to its own new store,
   `<out-dir>/<game>-<round>.zarr`, whose metadata records the round label and the acting AMN.
2. Config: the config plus the new stores, written to `<out-dir>/distill-<round>.yaml`, so
   the union of stores that trained each round is on disk.
3. Fit: `amn distill fit` on that config, resumed from `--ckpt_path`, for `--more-steps`
   further optimiser steps. The fit ends by exporting the next AMN, which acts in the next
   round.

Rounds never touch earlier stores, so the effect of each round can be measured: evaluate each
round's exported AMN (`amn evaluate`), or refit with a round's stores left out.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from actor_mimic.common.atari import canonical_game
from actor_mimic.errors import UserError

STUDENT_EPSILON = 0.1  # the paper's acting epsilon for the AMN


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="the `amn distill fit` YAML config of the run")
    parser.add_argument("--ckpt_path", required=True, help="the run's Lightning checkpoint to resume")
    parser.add_argument("--amn", required=True, help="the AMN that acts (the run's amn.safetensors)")
    parser.add_argument("--experts", nargs="+", required=True, help="one expert checkpoint per game; they label")
    parser.add_argument("--round", required=True, help="label of this round, recorded in every new store")
    parser.add_argument("--steps", type=int, required=True, help="agent steps to collect per game")
    parser.add_argument("--out-dir", required=True, help="where the round's stores and config go")
    parser.add_argument("--more-steps", type=int, required=True, help="optimiser steps to train after resuming")
    parser.add_argument("--epsilon", type=float, default=STUDENT_EPSILON, help="the AMN's acting epsilon (0.1)")
    parser.add_argument("--seed", type=int, default=0, help="collection seed (use a new one each round)")
    parser.add_argument("--num-envs", type=int, default=8)


def run(args: argparse.Namespace) -> int:
    from actor_mimic.collect import CollectConfig, collect
    from actor_mimic.common.checkpoint import read_metadata
    from actor_mimic.distill import cli
    from actor_mimic.common.limits import check_num_envs, check_real, check_seed, check_steps
    from actor_mimic.common.outputs import Output, check_folder, check_output, write_text
    from actor_mimic.distill.export import check_lightning_checkpoint, load_lightning_checkpoint_step
    from actor_mimic.distill.tasks import GameStores, describe_tasks

    check_lightning_checkpoint(args.ckpt_path, "--ckpt_path")  # a local file, read without unpickling code
    check_steps(args.more_steps, "--more-steps")
    check_steps(args.steps, "--steps")
    check_real(args.epsilon, "--epsilon", 0.0, 1.0)
    check_seed(args.seed)
    check_num_envs(args.num_envs)
    if not args.round.isprintable() or not args.round or "/" in args.round:
        raise UserError(f"--round {args.round!r} must be a plain label (it names the round's files)")
    config = _read_config(args.config)
    games = config["data"]["games"]
    experts = {read_metadata(path).games[0]: path for path in args.experts}
    configured = [canonical_game(entry["game"]) for entry in games]
    missing = [game for game in configured if game not in experts]
    if missing:
        raise UserError(f"no expert given for {', '.join(missing)}: pass one per game of the config to --experts")
    tasks = describe_tasks([GameStores(e["game"], list(e.get("stores") or [])) for e in games])
    for game in tasks.names:
        _check_same_expert(game, experts[game], tasks)
    trained_step = load_lightning_checkpoint_step(args.ckpt_path)
    read_metadata(args.amn)

    # Every output of the round is checked before the first store is collected.
    out_dir = check_folder(args.out_dir, "--out-dir", "round folder")
    # A round never replaces anything: its files are named by the round, so another label
    # (or folder) is the way out.
    hint = "choose another --round or --out-dir"
    round_config = check_output(out_dir / f"distill-{args.round}.yaml", Output("round config", "--out-dir"),
                                replace_flag=None, exists_hint=hint)  # fmt: skip
    for game in tasks.names:
        check_output(out_dir / f"{game}-{args.round}.zarr", Output("teacher store", "--out-dir", folder=True),
                     replace_flag=None, exists_hint=hint)  # fmt: skip
    for entry, game in zip(games, tasks.names):
        store = out_dir / f"{game}-{args.round}.zarr"
        collect(CollectConfig(
            expert=experts[game], behaviour=args.amn, behaviour_epsilon=args.epsilon, round=args.round,
            hidden_layer=tasks.task(game).hidden_layer, out=store, steps=args.steps, seed=args.seed, num_envs=args.num_envs, progress=True,
        ))  # fmt: skip
        entry["stores"] = [*entry.get("stores", []), str(store)]
    write_text(round_config, yaml.safe_dump(config, sort_keys=False))
    print(f"wrote {round_config}: the run's stores plus round {args.round}")

    target = trained_step + args.more_steps
    return cli.main([
        "fit", "--config", str(round_config), "--ckpt_path", args.ckpt_path,
        "--trainer.max_steps", str(target), "--trainer.max_epochs", "-1",
    ])  # fmt: skip


def _check_same_expert(game: str, expert_path: str, tasks) -> None:
    """A round's labels must come from the expert that labelled the game's other stores."""
    from actor_mimic.common.checkpoint import file_sha256

    known = {store.expert_sha256 for store in tasks.stores_of(game) if store.expert_sha256}
    if known and file_sha256(expert_path) not in known:
        raise UserError(
            f"expert {expert_path} did not label {game}'s stores (their expert sha256: "
            f"{', '.join(sorted(k[:12] for k in known))}): pass the same expert"
        )


def _read_config(path: str) -> dict:
    try:
        config = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise UserError(f"config {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"config {path} cannot be read ({getattr(error, 'strerror', None) or error})") from None
    except yaml.YAMLError as error:
        raise UserError(f"config {path} is not valid YAML ({str(error).splitlines()[0]})") from None
    if not isinstance(config, dict) or not isinstance(config.get("data") or {}, dict):
        raise UserError(f"config {path} is not an `amn distill fit` config (a mapping with a data section)")
    games = ((config or {}).get("data") or {}).get("games")
    if not isinstance(games, list) or not games:
        raise UserError(f"config {path} names no data.games: a round adds stores to an existing run's games")
    for entry in games:
        if not isinstance(entry, dict) or "game" not in entry:
            raise UserError(f"config {path}: each entry of data.games must be {{game: NAME, stores: [PATHS]}}")
    return config
