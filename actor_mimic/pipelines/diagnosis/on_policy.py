"""`amn diagnose play`: on-policy agreement and KL, along the episode, and before each lost life.

    amn diagnose play --student amn.safetensors --experts experts/*.safetensors --out diagnosis/

For every game of the student (an AMN, or any policy checkpoint), the student plays under the
evaluation protocol of `amn evaluate` while the game's expert labels every state it reaches
(play.py). Written to --out:

    diagnosis.csv, diagnosis.json   one row per game: steps, episodes, mean return, on-policy
                                    agreement and KL, the teacher's cost, lives lost and the
                                    scores they were lost at
    <game>/                         report.py's files (summary.json, steps.npz, deaths.npz,
                                    deaths.csv, by_step.csv, by_score.csv), agreement.png
                                    (plots.py), deaths/death-NNN.png and .gif (strips.py), and
                                    with --stores, store_lookup.csv and .json (store_lookup.py)

Checked before the first game is played: the checkpoints (experts of games the student plays,
one per game, observations of the same form), the stores (of a diagnosed game, same form), and
every output (replaced only with --overwrite, and only if a diagnosis wrote it). Each game's
folder is written beside and renamed into place when complete.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import torch

from actor_mimic.common.atari import action_set, canonical_game, preprocessing_differences
from actor_mimic.common.checkpoint import Checkpoint, load_checkpoint
from actor_mimic.common.outputs import Output, atomic_output, check_output, write_text
from actor_mimic.datasets.shard import store_preprocessing
from actor_mimic.errors import UserError
from actor_mimic.pipelines.diagnosis import report
from actor_mimic.pipelines.diagnosis.labels import LOGITS, compare, outputs_of, policy_for_game
from actor_mimic.pipelines.diagnosis.options import PlayOptions
from actor_mimic.pipelines.diagnosis.play import play_labelled
from actor_mimic.pipelines.evaluate import _check_preprocessing, _experts_by_game, _load
from actor_mimic.store import open_attrs

COLUMNS = ("game", "steps", "episodes", "mean_return", "agreement", "kl", "teacher_cost", "lives_lost",
           "mean_score_at_lost_life", "teacher")  # fmt: skip


def diagnose_play(options: PlayOptions) -> list[dict]:
    """Play, label, write (see the module docstring); returns the table's rows."""
    device = torch.device(options.device)
    student = load_checkpoint(options.student, device=device)  # type: ignore[arg-type]  # required: never None
    experts = _experts_by_game([_load(path, "expert", options.device) for path in options.experts])
    games = _games(options.games, student, experts)
    _check_preprocessing(student, experts)
    preprocessing = student.metadata.atari_config().preprocessing()
    stores = _stores_by_game(options.stores, games, preprocessing)
    out = Path(options.out)  # type: ignore[arg-type]  # required: never None
    check_output(out / "diagnosis.csv", Output("diagnosis table", is_ours=_is_table), options.overwrite)
    check_output(out / "diagnosis.json", Output("diagnosis table", is_ours=_is_document), options.overwrite)
    for game in games:
        check_output(out / game, Output("game diagnosis", folder=True, is_ours=report.is_game_folder),
                     options.overwrite)  # fmt: skip

    tau = options.tau if options.tau is not None else _distillation_tau(student)
    rows, documents = [], []
    for game in games:
        summary = _diagnose_game(game, student, experts.get(game), tau, stores.get(game, []), options, out / game)
        rows.append(_table_row(summary))
        documents.append(summary)
        print(_line(summary, out / game), flush=True)
    table = io.StringIO(newline="")
    writer = csv.DictWriter(table, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    write_text(out / "diagnosis.csv", table.getvalue())
    write_text(out / "diagnosis.json", json.dumps({"diagnosis": report.MARK, "games": documents}, indent=1) + "\n")
    print(f"wrote {out / 'diagnosis.csv'} and {out / 'diagnosis.json'}")
    return rows


def _diagnose_game(game: str, student: Checkpoint, expert: Checkpoint | None, tau: float, stores: list[str],
                   options: PlayOptions, folder: Path) -> dict:  # fmt: skip
    from actor_mimic.pipelines.diagnosis.plots import plot_agreement
    from actor_mimic.pipelines.diagnosis.store_lookup import lookup_folder
    from actor_mimic.pipelines.diagnosis.strips import death_panels, save_gif, save_strip

    config = student.metadata.atari_config(game)
    game_actions = list(action_set(config))
    student_kind = outputs_of(student)
    student_tau = 1.0 if student_kind == LOGITS else tau
    student_policy = policy_for_game(student, game_actions, student_kind, student_tau, "student")
    teacher = None if expert is None else policy_for_game(expert, game_actions, outputs_of(expert), tau, "expert")
    play = play_labelled(
        student_policy, teacher, config, steps=options.step_budget, episodes=options.episodes,
        epsilon=options.epsilon, num_envs=options.num_envs, seed=options.seed,
        before_death=options.before_death, progress=options.progress,
    )  # fmt: skip
    steps = play.steps
    comparison = None
    if teacher is not None:
        comparison = compare(steps["student_outputs"], student_tau, steps["teacher_outputs"], tau, teacher.outputs)
    by_step = report.binned(steps["episode_steps"], report.bin_edges(steps["episode_steps"], options.bins), steps,
                            comparison)  # fmt: skip
    by_score = report.binned(steps["scores"], report.bin_edges(steps["scores"], options.bins), steps, comparison)
    deaths = report.death_rows(play, comparison)
    summary = report.summarise(play, comparison) | {
        "student": str(student.path), "student_sha256": student.sha256, "student_outputs": student_kind,
        "teacher": None if expert is None else str(expert.path),
        "teacher_sha256": None if expert is None else expert.sha256,
        "teacher_outputs": None if teacher is None else teacher.outputs, "tau": tau, "student_tau": student_tau,
        "epsilon": options.epsilon, "seed": options.seed, "num_envs": options.num_envs,
        "before_death": options.before_death, "atari": config.to_dict(), "preprocessing": config.preprocessing(),
    }  # fmt: skip
    names = report.action_names(game_actions)
    arrays = report.step_arrays(play, comparison, student_tau)
    with atomic_output(folder) as temporary:
        report.write_game(temporary, play, arrays, summary, by_step, by_score, deaths, options.before_death,
                          config.observation_shape)  # fmt: skip
        plot_agreement(temporary / "agreement.png", game, by_step, by_score)
        for number, death in enumerate(play.deaths):
            panels = death_panels(death.stacks, death.rows, arrays, names)
            title = (f"{game}: life lost at score {death.score:g}, step {death.episode_step} of episode "
                     f"{death.episode} (lives {death.lives_before} -> {death.lives_after})")  # fmt: skip
            save_strip(temporary / "deaths" / f"death-{number:03d}.png", panels, names, title)
            save_gif(temporary / "deaths" / f"death-{number:03d}.gif", panels)
        if stores:
            summary["store_lookup"] = lookup_folder(temporary, stores, config.preprocessing(), options.nearest)
    return summary


def _games(requested: list[str] | None, student: Checkpoint, experts: dict[str, Checkpoint]) -> list[str]:
    played = list(student.metadata.games)
    for game, expert in experts.items():
        if game not in played:
            raise UserError(f"expert {expert.path} plays {game}, which the student does not play "
                            f"(its games: {', '.join(played)}); drop that expert")  # fmt: skip
    if requested is None:
        return played
    games = [canonical_game(name) for name in requested]
    for game in games:
        if game not in played:
            raise UserError(f"cannot diagnose {game}: the student does not play it (its games: {', '.join(played)})")
    return list(dict.fromkeys(games))


def _stores_by_game(paths: list[str], games: list[str], preprocessing: dict) -> dict[str, list[str]]:
    """The stores of each diagnosed game, their metadata checked (nothing else is read yet)."""
    by_game: dict[str, list[str]] = {}
    for path in paths:
        backend, attrs = open_attrs(path, check_arrays=False)
        backend.close()
        if attrs["game"] not in games:
            raise UserError(f"{path} is a teacher store of {attrs['game']}, which this diagnosis does not play "
                            f"({', '.join(games)}); drop it")  # fmt: skip
        found = store_preprocessing(attrs)
        if found != preprocessing:
            raise UserError(f"{path} holds other observations than the student's "
                            f"({preprocessing_differences(preprocessing, found)})")  # fmt: skip
        by_game.setdefault(attrs["game"], []).append(path)
    return by_game


def _distillation_tau(student: Checkpoint) -> float:
    tau = (student.metadata.provenance or {}).get("tau") if student.metadata.kind == "amn" else None
    return float(tau) if isinstance(tau, (int, float)) and not isinstance(tau, bool) and tau > 0 else 1.0


def _table_row(summary: dict) -> dict:
    scores = summary["scores_at_lost_lives"]
    return {key: summary.get(key) for key in COLUMNS} | {
        "mean_score_at_lost_life": float(np.mean(scores)) if scores else None
    }


def _line(summary: dict, folder: Path) -> str:
    def number(value, digits=3):
        return "-" if value is None else f"{value:.{digits}f}"

    scores = summary["scores_at_lost_lives"]
    return (f"{summary['game']}: {summary['steps']:,} steps, {summary['episodes']} episodes "
            f"(mean return {number(summary['mean_return'], 1)}), agreement {number(summary['agreement'])}, "
            f"KL {number(summary['kl'])}, {summary['lives_lost']} lives lost"
            + (f" (mean score {np.mean(scores):,.0f})" if scores else "") + f"; wrote {folder}")  # fmt: skip


def _is_table(path: Path) -> bool:
    try:
        with open(path, newline="") as handle:
            return next(csv.reader(handle), None) == list(COLUMNS)
    except (UnicodeDecodeError, csv.Error):
        return False


def _is_document(path: Path) -> bool:
    try:
        document = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(document, dict) and document.get("diagnosis") == report.MARK
