"""`amn evaluate`: play experts and/or an AMN in the real games; the paper's table.

    amn evaluate --amn amn.safetensors --experts pong.safetensors breakout.safetensors --steps 10000
    amn evaluate --experts pong.safetensors --episodes 30 --out results/ --video results/

Every policy plays each of its games under the protocol of `actor_mimic.common.evaluation`
(epsilon 0.05, full games, no-op starts, a step or episode budget). The table has one row per
game, as in the paper: expert mean, std and max, AMN mean, std and max, and the AMN's mean as a
percentage of the expert's. `--out DIR` writes it as evaluation.csv and evaluation.json (the
JSON keeps every episode's return). `--video DIR` saves one GIF per policy and game. Every
argument and output is checked before the first game is played; existing result files are
replaced only with `--overwrite` (see `actor_mimic.common.outputs`).

An expert and the AMN on the same game play the same environment (the AMN's Atari settings),
so their scores compare. Refused: an AMN asked for a game it was not trained on, an expert
whose game the AMN does not play, two experts for one game, and checkpoints whose observation
preprocessing differs.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path
from typing import Any

import torch

from actor_mimic.common.atari import NUM_ALE_ACTIONS, canonical_game, preprocessing_differences
from actor_mimic.common.checkpoint import Checkpoint, load_checkpoint
from actor_mimic.common.evaluation import evaluate
from actor_mimic.common.limits import (
    check_device,
    check_memory,
    check_num_envs,
    check_real,
    check_seed,
    check_steps,
    check_whole,
)
from actor_mimic.common.outputs import Output, check_folder, check_output, write_text
from actor_mimic.errors import UserError

COLUMNS = (
    "game", "expert_mean", "expert_std", "expert_max", "expert_episodes",
    "amn_mean", "amn_std", "amn_max", "amn_episodes", "amn_percent_of_expert",
)  # fmt: skip


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--amn", help="an AMN checkpoint (.safetensors, kind amn)")
    parser.add_argument("--experts", nargs="+", default=[], help="expert checkpoints, one per game")
    parser.add_argument("--games", nargs="+", help="only these games (default: all the AMN's / experts' games)")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int, default=None, help="agent steps per game (paper: 125000; default 10000)")
    budget.add_argument("--episodes", type=int, default=None, help="play this many whole episodes per game instead")
    parser.add_argument("--epsilon", type=float, default=0.05, help="test-time exploration (paper: 0.05)")
    parser.add_argument("--num-envs", type=int, default=8, help="parallel environments per game")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", help="directory for evaluation.csv and evaluation.json (created if missing)")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace evaluation.csv/json (and GIFs) this command wrote before in --out/--video",
    )
    parser.add_argument("--video", metavar="DIR", help="save one GIF of an episode per policy and game")
    parser.add_argument("--video-steps", type=int, default=1000, help="at most this many agent steps per GIF")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    if args.amn is None and not args.experts:
        raise UserError("nothing to evaluate: give --amn and/or --experts")
    if args.amn is not None and not args.amn.strip():
        raise UserError("--amn is empty: give the AMN checkpoint (.safetensors)")
    steps = None if args.episodes is not None else (args.steps if args.steps is not None else 10_000)
    _check_arguments(args, steps)
    amn = _load(args.amn, "amn", args.device) if args.amn is not None else None
    experts = _experts_by_game([_load(path, "expert", args.device) for path in args.experts])
    games = _games(args.games, amn, experts)
    _check_preprocessing(amn, experts)
    if args.out:  # every output is checked before the first game is played
        for name, is_ours in (("evaluation.csv", _is_table_csv), ("evaluation.json", _is_table_json)):
            check_output(Path(args.out) / name, Output("evaluation table", is_ours=is_ours), args.overwrite)
    if args.video:
        for game in games:
            for role, _, _ in _players(game, amn, experts):
                check_output(Path(args.video) / f"{game}-{role}.gif", Output("GIF", is_ours=_is_gif), args.overwrite)

    rows, details = [], []
    for game in games:
        config = (amn or experts[game]).metadata.atari_config(game)
        results = {}
        for role, policy, outputs in _players(game, amn, experts):
            result = evaluate(
                policy.network, config, outputs, steps=steps, episodes=args.episodes, epsilon=args.epsilon,
                num_envs=args.num_envs, seed=args.seed, progress=not args.no_progress,
            )  # fmt: skip
            results[role] = result
            details.append({"role": role, "checkpoint": str(policy.path), "sha256": policy.sha256, **result.to_dict()})
            if args.video:
                from actor_mimic.pipelines.video import save_episode_gif

                gif = save_episode_gif(policy.network, config, outputs, Path(args.video) / f"{game}-{role}.gif",
                                       epsilon=args.epsilon, seed=args.seed, max_steps=args.video_steps)  # fmt: skip
                print(f"wrote {gif}")
        rows.append(table_row(game, results.get("expert"), results.get("amn")))

    print(format_table(rows))
    if args.out:
        csv_path, json_path = write_table(rows, details, Path(args.out))
        print(f"wrote {csv_path} and {json_path}")
    return 0


def _check_arguments(args: argparse.Namespace, steps: int | None) -> None:
    """Everything the command line says, before any checkpoint is loaded or game played."""
    if steps is not None:
        check_steps(steps, "--steps")
    if args.episodes is not None:
        check_steps(args.episodes, "--episodes")
    check_real(args.epsilon, "--epsilon", 0.0, 1.0)
    check_num_envs(args.num_envs)
    check_seed(args.seed)
    # A whole game is at most 108,000 frames: 27,000 agent steps at frame skip 4.
    check_whole(args.video_steps, "--video-steps", 1, 27_000)
    if args.video:  # every frame of a GIF is held in memory, in colour, before it is written
        check_memory(2 * args.video_steps * 210 * 160 * 3, f"--video-steps {args.video_steps}", "lower --video-steps")
    check_device(args.device)
    if args.out:
        check_folder(args.out, "--out", "results folder")
    if args.video:
        check_folder(args.video, "--video", "GIF folder")


def _is_table_csv(path: Path) -> bool:
    try:
        with open(path, newline="") as handle:
            return next(csv.reader(handle), None) == list(COLUMNS)
    except (UnicodeDecodeError, csv.Error):
        return False


def _is_table_json(path: Path) -> bool:
    try:
        document = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(document, dict) and set(document) == {"table", "runs"}


def _is_gif(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(6) in (b"GIF87a", b"GIF89a")


def _load(path: str, kind: str, device: str) -> Checkpoint:
    checkpoint = load_checkpoint(path, device=torch.device(device))
    if checkpoint.metadata.kind != kind:
        flag = "--amn" if kind == "amn" else "--experts"
        raise UserError(f"{path} is an {checkpoint.metadata.kind} checkpoint, but {flag} takes {kind} checkpoints")
    if kind == "amn" and checkpoint.metadata.num_actions != NUM_ALE_ACTIONS:
        raise UserError(
            f"{path}: an AMN must have {NUM_ALE_ACTIONS} outputs, this one has {checkpoint.metadata.num_actions}"
        )
    return checkpoint


def _experts_by_game(experts: list[Checkpoint]) -> dict[str, Checkpoint]:
    by_game: dict[str, Checkpoint] = {}
    for expert in experts:
        game = expert.metadata.games[0]
        if game in by_game:
            raise UserError(f"two experts for {game} ({by_game[game].path}, {expert.path}): give one per game")
        by_game[game] = expert
    return by_game


def _games(requested: list[str] | None, amn: Checkpoint | None, experts: dict[str, Checkpoint]) -> list[str]:
    if amn is not None:
        trained = list(amn.metadata.games)
        for game, expert in experts.items():
            if game not in trained:
                raise UserError(
                    f"expert {expert.path} plays {game}, which the AMN was not trained on "
                    f"(its games: {', '.join(trained)}); drop that expert"
                )
        available = trained
    else:
        available = list(experts)
    if requested is None:
        return available
    games = [canonical_game(name) for name in requested]
    for game in games:
        if game not in available:
            who = "the AMN was not trained on it" if amn is not None else "no expert given plays it"
            raise UserError(f"cannot evaluate {game}: {who} (available: {', '.join(available)})")
    return games


def _check_preprocessing(amn: Checkpoint | None, experts: dict[str, Checkpoint]) -> None:
    policies = ([amn] if amn is not None else []) + list(experts.values())
    reference = policies[0]
    expected = reference.metadata.atari_config().preprocessing()
    for policy in policies[1:]:
        found = policy.metadata.atari_config().preprocessing()
        if found != expected:
            raise UserError(
                f"{policy.path} was trained on other observations than {reference.path} "
                f"(they differ in {preprocessing_differences(expected, found)}); evaluate them separately"
            )


def _players(game: str, amn: Checkpoint | None, experts: dict[str, Checkpoint]):
    """(role, checkpoint, output_actions) for each policy that plays `game`."""
    if game in experts:
        yield "expert", experts[game], list(experts[game].metadata.action_sets[game])
    if amn is not None:
        yield "amn", amn, list(range(NUM_ALE_ACTIONS))


def table_row(game: str, expert, amn) -> dict:
    """One row of the paper's table; None where a policy did not play."""
    row: dict[str, Any] = {"game": game}
    for role, result in (("expert", expert), ("amn", amn)):
        row[f"{role}_mean"] = None if result is None else result.mean
        row[f"{role}_std"] = None if result is None else result.std
        row[f"{role}_max"] = None if result is None else result.max
        row[f"{role}_episodes"] = None if result is None else result.num_episodes
    ratio = None
    if expert is not None and amn is not None and expert.mean != 0:
        ratio = 100.0 * amn.mean / expert.mean
    row["amn_percent_of_expert"] = ratio
    return row


def format_table(rows: list[dict]) -> str:
    header = ["game", "expert mean", "expert std", "AMN mean", "AMN std", "AMN % of expert"]
    keys = ["game", "expert_mean", "expert_std", "amn_mean", "amn_std", "amn_percent_of_expert"]
    cells = [header] + [[_cell(row[key]) for key in keys] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    lines = [
        "  ".join(text.rjust(width) if i else text.ljust(width) for i, (text, width) in enumerate(zip(line, widths)))
        for line in cells
    ]
    return "\n".join(lines)


def _cell(value) -> str:
    if value is None:
        return "-"
    return value if isinstance(value, str) else f"{value:.1f}"


def write_table(rows: list[dict], details: list[dict], out: Path) -> tuple[Path, Path]:
    """evaluation.csv and evaluation.json in `out`, each written whole (common.outputs)."""
    table = io.StringIO(newline="")
    writer = csv.DictWriter(table, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    csv_path = write_text(out / "evaluation.csv", table.getvalue())
    json_path = write_text(out / "evaluation.json", json.dumps({"table": rows, "runs": details}, indent=2) + "\n")
    return csv_path, json_path
