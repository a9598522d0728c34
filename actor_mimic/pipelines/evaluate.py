"""`amn evaluate`: play experts and/or an AMN in the real games; the paper's table.

    amn evaluate --amn amn.safetensors --experts pong.safetensors breakout.safetensors --steps 10000
    amn evaluate --experts pong.safetensors --episodes 30 --out results/ --video results/
    amn evaluate --config eval.yaml --seed 3     # settings from a file (num_envs: 4), flags win
    amn evaluate --amn amn.safetensors --experts breakout.safetensors --random   # with the baseline

Every flag is a field of `EvaluateOptions`, where its default, help text and checks live;
--config FILE.yaml takes the same settings, keyed by the flags in snake_case.

Every policy plays each of its games under the protocol of `actor_mimic.common.evaluation`
(epsilon 0.05, full games, no-op starts, a step or episode budget), in the environment its
checkpoint records for that game: FIRE at reset and after a lost life if it was trained so
(an imported SB3 or CleanRL agent; `--no-fire-on-reset` / `--no-fire-on-life-loss` or
`--fire-on-...` play otherwise, and the command says which it played). A logit teacher (PPO,
A2C) samples from its policy if its checkpoint records so (`--acting greedy` to play its best
action); AMNs and Q-value experts act greedily. The table has one row per game, as in the
paper: the expert's and the AMN's mean (and, with `--random`, a uniformly random policy's,
played under the same protocol), each with the number of episodes that ended within the
budget, the AMN's mean as a percentage of the expert's, and, with `--random`, as a percentage
of the expert's gain over random play. `--out DIR` writes it (with std and max) as
evaluation.csv and evaluation.json (the JSON keeps every episode's return). `--video DIR`
saves one GIF per policy and game. Every argument and output is checked before the first game
is played; existing result files are replaced only with `--overwrite` (see
`actor_mimic.common.outputs`).

An expert and the AMN on the same game play the same environment (the AMN's Atari settings),
so their scores compare. Refused: an AMN asked for a game it was not trained on, an expert
whose game the AMN does not play, two experts for one game, and checkpoints whose observation
preprocessing differs.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from actor_mimic.common.atari import NUM_ALE_ACTIONS, canonical_game, preprocessing_differences
from actor_mimic.common.checkpoint import Checkpoint, load_checkpoint
from actor_mimic.common.evaluation import evaluate, evaluate_random
from actor_mimic.common.fire import describe_protocol
from actor_mimic.common.limits import (
    check_device,
    check_memory,
    check_num_envs,
    check_real,
    check_seed,
    check_steps,
    check_whole,
    check_workers,
)
from actor_mimic.common.outputs import Output, check_folder, check_output, write_text
from actor_mimic.common.policies import acting_of
from actor_mimic.common.settings import add_settings, build, chosen, setting
from actor_mimic.errors import UserError

COLUMNS = (
    "game", "expert_mean", "expert_std", "expert_max", "expert_episodes",
    "amn_mean", "amn_std", "amn_max", "amn_episodes", "amn_percent_of_expert",
    "random_mean", "random_std", "random_max", "random_episodes", "amn_percent_of_gap",
)  # fmt: skip
EARLIER_COLUMNS = COLUMNS[:10]  # the table of earlier versions, before the random policy's columns
DEFAULT_STEPS = 10_000  # agent steps per game when neither --steps nor --episodes is given


@dataclass
class EvaluateOptions:
    """One `amn evaluate` run. Each field is a flag and a --config key (common/settings.py);
    every check of the command line is here, so it runs before any checkpoint is loaded."""

    amn: str | None = setting(None, "an AMN checkpoint (.safetensors, kind amn)")
    experts: list[str] = setting([], "expert checkpoints, one per game")
    games: list[str] | None = setting(None, "only these games (default: all the AMN's / experts' games)")
    steps: int | None = setting(
        None, f"agent steps per game (paper: 125000; default {DEFAULT_STEPS})", exclusive="budget"
    )
    episodes: int | None = setting(None, "play this many whole episodes per game instead", exclusive="budget")
    epsilon: float = setting(0.05, "test-time exploration; the default is the paper's")
    num_envs: int = setting(8, "parallel environments per game")
    seed: int = setting(0, "seed of the environments and of exploration")
    device: str = setting("cpu", "torch device of the networks (cpu, cuda, cuda:N, mps)")
    # One thread: a forward pass on a few frames is too small to share, and a second thread
    # spinning beside another busy process made evaluation 8x slower (benchmarks/bench_evaluate.py).
    torch_threads: int = setting(1, "torch's intra-op threads")
    out: str | None = setting(None, "directory for evaluation.csv and evaluation.json (created if missing)")
    overwrite: bool = setting(
        False, "replace evaluation.csv/json (and GIFs) this command wrote before in --out/--video"
    )
    video: str | None = setting(None, "save one GIF of an episode per policy and game", metavar="DIR")
    video_steps: int = setting(1000, "at most this many agent steps per GIF")
    random: bool = setting(False, "also play a uniformly random policy on each game (same protocol, epsilon 1)")
    progress: bool = setting(True, "show progress bars")
    acting: str | None = setting(
        None, "how logit teachers (PPO, A2C) act: greedy, or sample from their policy (default: as their "
        "checkpoints record)", choices=("greedy", "sample"),
    )  # fmt: skip
    fire_on_reset: bool | None = setting(None, "press FIRE at each episode's start (default: as recorded)")
    fire_on_life_loss: bool | None = setting(None, "press FIRE after a lost life (default: as recorded)")

    def __post_init__(self) -> None:
        if self.amn is None and not self.experts:
            raise UserError("nothing to evaluate: give --amn and/or --experts")
        if self.amn is not None and not self.amn.strip():
            raise UserError("--amn is empty: give the AMN checkpoint (.safetensors)")
        if self.steps is not None:
            check_steps(self.steps, "--steps")
        if self.episodes is not None:
            check_steps(self.episodes, "--episodes")
        check_real(self.epsilon, "--epsilon", 0.0, 1.0)
        check_num_envs(self.num_envs)
        check_seed(self.seed)
        # A whole game is at most 108,000 frames: 27,000 agent steps at frame skip 4.
        check_whole(self.video_steps, "--video-steps", 1, 27_000)
        if self.video:  # every frame of a GIF is held in memory, in colour, before it is written
            check_memory(2 * self.video_steps * 210 * 160 * 3, f"--video-steps {self.video_steps}",
                         "lower --video-steps")  # fmt: skip
        check_device(self.device)
        check_workers(self.torch_threads, "--torch-threads", low=1)
        if self.out:
            check_folder(self.out, "--out", "results folder")
        if self.video:
            check_folder(self.video, "--video", "GIF folder")

    @property
    def step_budget(self) -> int | None:
        """Agent steps per game; None when whole episodes are counted instead."""
        if self.episodes is not None:
            return None
        return self.steps if self.steps is not None else DEFAULT_STEPS


def configure(parser: argparse.ArgumentParser) -> None:
    """A flag per setting of `EvaluateOptions`, and --config FILE.yaml for all of them."""
    add_settings(parser, EvaluateOptions)


def run(args: argparse.Namespace) -> int:
    options = build(EvaluateOptions, chosen(args))
    torch.set_num_threads(options.torch_threads)  # the command owns its process; Python callers keep theirs
    return evaluate_policies(options)


def evaluate_policies(options: EvaluateOptions) -> int:
    """Play every policy on each of its games, print the table and write the files asked for."""
    amn = _load(options.amn, "amn", options.device) if options.amn is not None else None
    experts = _experts_by_game([_load(path, "expert", options.device) for path in options.experts])
    games = _games(options.games, amn, experts)
    _check_preprocessing(amn, experts)
    if options.out:  # every output is checked before the first game is played
        for name, is_ours in (("evaluation.csv", _is_table_csv), ("evaluation.json", _is_table_json)):
            check_output(Path(options.out) / name, Output("evaluation table", is_ours=is_ours), options.overwrite)
    if options.video:
        for game in games:
            for role, _, _ in _players(game, amn, experts):
                gif = Path(options.video) / f"{game}-{role}.gif"
                check_output(gif, Output("GIF", is_ours=_is_gif), options.overwrite)

    rows, details, time_limits = [], [], {}
    for game in games:
        config = _environment(game, amn or experts[game], options)
        time_limits[game] = config.max_episode_frames
        results = {}
        if options.random:  # the baseline: what a score is worth
            result = evaluate_random(
                config, steps=options.step_budget, episodes=options.episodes,
                num_envs=options.num_envs, seed=options.seed, progress=options.progress,
            )  # fmt: skip
            results["random"] = result
            details.append({"role": "random", "checkpoint": None, "sha256": None, **result.to_dict()})
        for role, policy, outputs in _players(game, amn, experts):
            result = evaluate(
                policy.network, config, outputs, steps=options.step_budget, episodes=options.episodes,
                epsilon=options.epsilon, num_envs=options.num_envs, seed=options.seed, progress=options.progress,
                acting=acting_of(policy.metadata, options.acting),
            )  # fmt: skip
            results[role] = result
            details.append({"role": role, "checkpoint": str(policy.path), "sha256": policy.sha256, **result.to_dict()})
            if options.video:
                from actor_mimic.pipelines.video import save_episode_gif

                gif = save_episode_gif(policy.network, config, outputs, Path(options.video) / f"{game}-{role}.gif",
                                       epsilon=options.epsilon, seed=options.seed, max_steps=options.video_steps,
                                       acting=acting_of(policy.metadata, options.acting))  # fmt: skip
                print(f"wrote {gif}")
        rows.append(table_row(game, results.get("expert"), results.get("amn"), results.get("random")))

    print(format_table(rows))
    for run in details:  # a time-limit cut is a score too, but not a finished game: say so
        if run["num_truncated"]:
            print(f"note: {run['num_truncated']} of the {run['num_episodes']} {run['game']} episodes of the "
                  f"{run['role']} were cut by the time limit ({time_limits[run['game']]:,} emulator frames) and "
                  "scored as they stood")  # fmt: skip
    if options.out:
        csv_path, json_path = write_table(rows, details, Path(options.out))
        print(f"wrote {csv_path} and {json_path}")
    return 0


def _is_table_csv(path: Path) -> bool:
    try:
        with open(path, newline="") as handle:
            return next(csv.reader(handle), None) in (list(COLUMNS), list(EARLIER_COLUMNS))
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


FIRE_SETTINGS = ("fire_on_reset", "fire_on_life_loss")


def _environment(game: str, reference: Checkpoint, options: EvaluateOptions):
    """The environment `game` is played in: the reference checkpoint's (the AMN's, else the
    expert's) recorded settings for it, with the FIRE flags given over them. Says which it
    plays when FIRE is pressed or the flags changed the recorded protocol."""
    recorded = reference.metadata.atari_config(game)
    given = {name: getattr(options, name) for name in FIRE_SETTINGS if getattr(options, name) is not None}
    config = dataclasses.replace(recorded, **given)
    changed = [f"--{'' if getattr(config, n) else 'no-'}{n.replace('_', '-')}" for n in FIRE_SETTINGS
               if getattr(config, n) != getattr(recorded, n)]  # fmt: skip
    if changed or config.fire_on_reset or config.fire_on_life_loss:
        source = f"{' '.join(changed)} over " if changed else ""
        print(f"{game}: playing with {describe_protocol(config)} ({source}the protocol {reference.path} records)")
    return config


def _players(game: str, amn: Checkpoint | None, experts: dict[str, Checkpoint]):
    """(role, checkpoint, output_actions) for each policy that plays `game`."""
    if game in experts:
        yield "expert", experts[game], list(experts[game].metadata.action_sets[game])
    if amn is not None:
        yield "amn", amn, list(range(NUM_ALE_ACTIONS))


def table_row(game: str, expert, amn, random=None) -> dict:
    """One row of the paper's table, with the random policy's scores; None where a policy did
    not play. `amn_percent_of_gap`: 100 (AMN - random) / (expert - random), the share of the
    expert's gain over random play that the AMN keeps."""
    row: dict[str, Any] = {"game": game}
    for role, result in (("expert", expert), ("amn", amn), ("random", random)):
        row[f"{role}_mean"] = None if result is None else result.mean
        row[f"{role}_std"] = None if result is None else result.std
        row[f"{role}_max"] = None if result is None else result.max
        row[f"{role}_episodes"] = None if result is None else result.num_episodes
    row["amn_percent_of_expert"] = None
    if expert is not None and amn is not None and expert.mean != 0:
        row["amn_percent_of_expert"] = 100.0 * amn.mean / expert.mean
    row["amn_percent_of_gap"] = None
    if expert is not None and amn is not None and random is not None and expert.mean != random.mean:
        row["amn_percent_of_gap"] = 100.0 * (amn.mean - random.mean) / (expert.mean - random.mean)
    return {column: row[column] for column in COLUMNS}


def format_table(rows: list[dict]) -> str:
    """The table as printed: each policy's mean with its ended episodes in brackets."""
    with_random = any(row["random_mean"] is not None for row in rows)
    header = ["game", *(["random"] if with_random else []), "expert", "AMN", "AMN % of expert"]
    header += ["AMN % of gap"] if with_random else []
    cells = [header]
    for row in rows:
        line = [row["game"]] + [_score(row, role) for role in (["random"] if with_random else []) + ["expert", "amn"]]
        line += [_cell(row["amn_percent_of_expert"])]
        line += [_cell(row["amn_percent_of_gap"])] if with_random else []
        cells.append(line)
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    lines = [
        "  ".join(text.rjust(width) if i else text.ljust(width) for i, (text, width) in enumerate(zip(line, widths)))
        for line in cells
    ]
    legend = "(n): episodes that ended within the budget, the ones scored (0: none ended; their partial returns)"
    if with_random:
        legend += "\n% of gap: (AMN - random) / (expert - random); 0 plays like random, 100 like the expert"
    return "\n".join(lines + [legend])


def _score(row: dict, role: str) -> str:
    mean = row[f"{role}_mean"]
    return "-" if mean is None else f"{_cell(mean)} ({row[f'{role}_episodes']})"


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
