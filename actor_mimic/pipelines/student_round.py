"""`amn distill round`: one round of the paper's regime, where the student acts.

    amn distill round --config distill.yaml --ckpt_path runs/distill/version_0/checkpoints/last.ckpt \
        --amn runs/distill/version_0/amn.safetensors \
        --experts pong.safetensors breakout.safetensors \
        --round r1 --steps 50000 --out_dir stores/ --more_steps 20000

1. Config: the run's `amn distill fit` config, resolved as `amn distill fit` resolves it:
   every `--config` file (repeat the flag for several) and every other `--KEY VALUE` given
   here as a fit override (e.g. `--trainer.accelerator cpu`).
2. Collect: for each game, the AMN acts epsilon-greedily (epsilon 0.1, the paper's) while the
   game's expert labels every visited state; each game's round goes to its own new store,
   `<out_dir>/<game>-<round>.zarr`, whose metadata records the round label and the acting AMN.
3. Fit: that config plus the new stores, resumed from `--ckpt_path` for `--more_steps` further
   optimiser steps, is written to `<out_dir>/distill-<round>.yaml` (so the union of stores
   that trained each round is on disk; `amn distill fit --config` on it repeats the fit) and
   fitted. The fit ends by exporting the next AMN, which acts in the next round.

The collector runs torch on one thread; the fit gets the process's setting back (or its
config's `torch_threads`). Rounds never touch earlier stores, so the effect of each round can
be measured: evaluate each round's exported AMN (`amn evaluate`), or refit with a round's
stores left out.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Sequence

import torch
import yaml

from actor_mimic.collect import CollectConfig, collect
from actor_mimic.common.arguments import ArgumentParser
from actor_mimic.common.atari import canonical_game
from actor_mimic.common.checkpoint import file_sha256, read_metadata
from actor_mimic.common.limits import check_num_envs, check_real, check_seed, check_steps
from actor_mimic.common.outputs import Output, check_folder, check_output, write_text
from actor_mimic.distill.export import check_lightning_checkpoint, load_lightning_checkpoint_step
from actor_mimic.distill.fit import fit, parse_fit_config
from actor_mimic.distill.tasks import GameStores, Tasks, describe_tasks
from actor_mimic.errors import UserError

STUDENT_EPSILON = 0.1  # the paper's acting epsilon for the AMN
# The round is an `amn distill` command, whose flags are LightningCLI's snake_case (--ckpt_path,
# --trainer.max_steps); its own flags follow them. The kebab-case spellings of earlier versions
# are still read, as hidden aliases.
OLD_SPELLINGS = {"--out-dir": "--out_dir", "--more-steps": "--more_steps", "--num-envs": "--num_envs"}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        required=True,
        action="append",
        help="the `amn distill fit` YAML config of the run (repeat for several files, as for fit)",
    )
    parser.add_argument("--ckpt_path", required=True, help="the run's Lightning checkpoint to resume")
    parser.add_argument("--amn", required=True, help="the AMN that acts (the run's amn.safetensors)")
    parser.add_argument("--experts", nargs="+", required=True, help="one expert checkpoint per game; they label")
    parser.add_argument("--round", required=True, help="label of this round, recorded in every new store")
    parser.add_argument("--steps", type=int, required=True, help="agent steps to collect per game")
    parser.add_argument("--out_dir", required=True, help="where the round's stores and config go")
    parser.add_argument("--more_steps", type=int, required=True, help="optimiser steps to train after resuming")
    parser.add_argument("--epsilon", type=float, default=STUDENT_EPSILON, help="the AMN's acting epsilon (0.1)")
    parser.add_argument("--seed", type=int, default=0, help="collection seed (use a new one each round)")
    parser.add_argument("--num_envs", type=int, default=8, help="parallel environments per game")


def main(argv: list[str]) -> int:
    """`amn distill round ARGV`: the round's flags; anything else overrides the fit's config."""
    args, fit_overrides = parse(argv)
    return run(args, fit_overrides)


def parse(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """(the round's arguments, the fit overrides), old spellings read as today's."""
    parser = ArgumentParser(
        prog="amn distill round", description=__doc__.splitlines()[0],
        epilog="Any other --KEY VALUE is an `amn distill fit` override of the run's config, "
        "e.g. --trainer.accelerator cpu.",
    )  # fmt: skip
    configure(parser)
    return parser.parse_known_args([_current_spelling(word) for word in argv])


def _current_spelling(word: str) -> str:
    """`--out-dir` -> `--out_dir`, `--more-steps=5` -> `--more_steps=5`; other words as they are."""
    flag, equals, value = word.partition("=")
    return OLD_SPELLINGS.get(flag, flag) + equals + value


def run(args: argparse.Namespace, fit_overrides: Sequence[str] = ()) -> int:
    """Collect one round with the AMN acting, then resume the fit on the stores plus the round's."""
    check_lightning_checkpoint(args.ckpt_path, "--ckpt_path")  # a local file, read without unpickling code
    check_steps(args.more_steps, "--more_steps")
    check_steps(args.steps, "--steps")
    check_real(args.epsilon, "--epsilon", 0.0, 1.0)
    check_seed(args.seed)
    check_num_envs(args.num_envs, "--num_envs")
    if not args.round.isprintable() or not args.round or "/" in args.round:
        raise UserError(f"--round {args.round!r} must be a plain label (it names the round's files)")
    config = parse_fit_config([*(arg for path in args.config for arg in ("--config", path)), *fit_overrides])
    games = _configured_games(config, args.config)
    experts = {read_metadata(path).games[0]: path for path in args.experts}
    missing = [canonical_game(entry["game"]) for entry in games if canonical_game(entry["game"]) not in experts]
    if missing:
        raise UserError(f"no expert given for {', '.join(missing)}: pass one per game of the config to --experts")
    tasks = describe_tasks([GameStores(entry["game"], list(entry["stores"])) for entry in games])
    for game in tasks.names:
        _check_same_expert(game, experts[game], tasks)
    trained_step = load_lightning_checkpoint_step(args.ckpt_path)
    read_metadata(args.amn)

    # Every output of the round is checked before the first store is collected. A round never
    # replaces anything: its files are named by the round, so another label (or folder) is the way out.
    out_dir = check_folder(args.out_dir, "--out_dir", "round folder")
    hint = "choose another --round or --out_dir"
    round_config = check_output(out_dir / f"distill-{args.round}.yaml", Output("round config", "--out_dir"),
                                replace_flag=None, exists_hint=hint)  # fmt: skip
    stores = {game: out_dir / f"{game}-{args.round}.zarr" for game in tasks.names}
    for store in stores.values():
        check_output(store, Output("teacher store", "--out_dir", folder=True), replace_flag=None, exists_hint=hint)

    with torch_threads_restored():
        for game in tasks.names:
            collect(CollectConfig(
                expert=experts[game], behaviour=args.amn, behaviour_epsilon=args.epsilon, round=args.round,
                hidden_layer=tasks.task(game).hidden_layer, out=stores[game], steps=args.steps, seed=args.seed,
                num_envs=args.num_envs, progress=True,
            ))  # fmt: skip

    for entry, game in zip(games, tasks.names):
        entry["stores"] = [*entry["stores"], str(stores[game])]
    config["ckpt_path"] = str(args.ckpt_path)
    config["trainer"]["max_steps"] = trained_step + args.more_steps
    config["trainer"]["max_epochs"] = -1  # the step budget ends the fit
    write_text(round_config, yaml.safe_dump(config, sort_keys=False))
    print(f"wrote {round_config}: the run's config, its stores plus round {args.round}")
    return fit(config)  # 143 after a SIGTERM, which says how to continue the fit


@contextlib.contextmanager
def torch_threads_restored():
    """Give back torch's thread count when the block ends: the collector sets its own (one
    thread suits its small forward passes), which must not slow the fit that follows."""
    threads = torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _configured_games(config: dict, paths: list[str]) -> list[dict]:
    """data.games of a parsed fit config: [{game: NAME, stores: [PATHS]}, ...]."""
    games = (config.get("data") or {}).get("games")
    if not isinstance(games, list) or not games:
        raise UserError(
            f"config {', '.join(paths)} names no data.games: a round adds stores to an existing run's games"
        )
    for entry in games:
        stores = entry.get("stores") or []
        entry["stores"] = [stores] if isinstance(stores, str) else list(stores)
    return games


def _check_same_expert(game: str, expert_path: str, tasks: Tasks) -> None:
    """A round's labels must come from the expert that labelled the game's other stores."""
    known = {store.expert_sha256 for store in tasks.stores_of(game) if store.expert_sha256}
    if known and file_sha256(expert_path) not in known:
        raise UserError(
            f"expert {expert_path} did not label {game}'s stores (their expert sha256: "
            f"{', '.join(sorted(k[:12] for k in known))}): pass the same expert"
        )
