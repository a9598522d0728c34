"""`amn diagnose`: why a student fails where it fails.

    amn diagnose play --student amn.safetensors --experts experts/*.safetensors --out diagnosis/ \\
        [--stores data/*.zarr [--nearest]]
    amn diagnose lookup --diagnosis diagnosis/ --stores data/crazy_climber.zarr [--nearest]
    amn diagnose dqn --run results/transfer/road_runner/amn-feature/seed1 --game road_runner \\
        --init amn-feature.safetensors --out diagnosis/road-runner-seed1

play    the student (an AMN, or a DQN's exported checkpoint) plays under `amn evaluate`'s
        protocol while each game's expert labels every state it reaches: on-policy agreement
        and KL, along the episode (by step and by score), and the states before each lost
        life as strips and GIFs with both policies' probabilities (on_policy.py)
lookup  are the states kept before each lost life in the teacher stores, and how many stored
        steps come from the same score range (store_lookup.py)
dqn     a DQN run's first updates replayed: each action's Q-values on fixed probe states,
        which action is greedy and for how long (dqn_start.py)

Why a command of its own and not `amn evaluate --diagnose`: evaluate scores policies (its table
is the paper's), and takes an AMN, experts, or both; a diagnosis needs a student and writes a
folder of per-step arrays and pictures, and two of its actions (lookup, dqn) play no policy
against an expert at all. The playing is shared: the same environment, protocol and action
rules (common/evaluation.py, common/policies.py, common/rollout.py) and evaluate's checks of
the checkpoints.

Each action's flags may also come from --config FILE.yaml, keyed by the flags in snake_case.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from actor_mimic.common.outputs import Output, atomic_output, check_output
from actor_mimic.common.settings import add_settings, build, chosen
from actor_mimic.errors import UserError
from actor_mimic.pipelines.diagnosis.options import ACTION_OPTIONS, DQNOptions, LookupOptions, PlayOptions

HELP = {
    "play": "the student plays, its experts label every state it reaches: agreement, KL, deaths",
    "lookup": "look the states before each lost life up in teacher stores",
    "dqn": "replay a DQN run's first updates: Q-values per action, greedy action and for how long",
}


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, options in ACTION_OPTIONS.items():
        add_settings(sub.add_parser(name, help=HELP[name], description=HELP[name]), options)


def run(args: argparse.Namespace) -> int:
    options = build(ACTION_OPTIONS[args.action], chosen(args))
    if isinstance(options, PlayOptions):
        from actor_mimic.pipelines.diagnosis.on_policy import diagnose_play

        torch.set_num_threads(options.torch_threads)
        diagnose_play(options)
    elif isinstance(options, LookupOptions):
        lookup(options)
    else:
        diagnose_dqn(options)
    return 0


def lookup(options: LookupOptions) -> None:
    """store_lookup.csv and .json in each diagnosed game's folder that --stores has stores of."""
    from actor_mimic.pipelines.diagnosis.report import is_game_folder
    from actor_mimic.pipelines.diagnosis.store_lookup import lookup_folder
    from actor_mimic.store import open_attrs

    folder = Path(options.diagnosis)  # type: ignore[arg-type]  # required: never None
    by_game: dict[str, list[str]] = {}
    for path in options.stores:
        backend, attrs = open_attrs(path, check_arrays=False)
        backend.close()
        by_game.setdefault(attrs["game"], []).append(path)
    for game in by_game:
        if not is_game_folder(folder / game):
            raise UserError(f"{folder} holds no diagnosis of {game} (no {game}/summary.json written by "
                            "amn diagnose play): give that game's diagnosis, or drop its stores")  # fmt: skip
        for name, is_ours in (("store_lookup.csv", _is_lookup_csv), ("store_lookup.json", _is_lookup_json)):
            check_output(folder / game / name, Output("store lookup", "--diagnosis", is_ours=is_ours),
                         options.overwrite)  # fmt: skip
    for game, stores in by_game.items():
        summary = json.loads((folder / game / "summary.json").read_text())
        document = lookup_folder(folder / game, stores, summary["preprocessing"], options.nearest)
        fatal = document["deaths"]
        print(f"{game}: {document['store_steps']:,} stored steps in {document['store_episodes']} episodes "
              f"(highest score {document['store_max_score']}); of {len(fatal)} fatal states, "
              f"{sum(d['fatal_frame_matches'] > 0 for d in fatal)} have their frame and "
              f"{sum(d['fatal_stack_matches'] > 0 for d in fatal)} their whole stack in the stores; "
              f"wrote {folder / game / 'store_lookup.json'}")  # fmt: skip


def diagnose_dqn(options: DQNOptions) -> None:
    from actor_mimic.pipelines.diagnosis import dqn_start

    run = dqn_start.recorded_run(options.run, options.game)  # type: ignore[arg-type]  # required: never None
    init = dqn_start.starting_network(run, options.init, options.fresh_head, options.what_if)
    what_if = (
        {"init": options.init, "fresh_head": options.fresh_head} if options.what_if or options.fresh_head else None
    )
    steps = options.steps if options.steps is not None else run.config.learning_starts + 20_000
    if any(step > steps for step in options.export_at):
        raise UserError(f"--export-at {max(options.export_at)} lies past the {steps:,} steps replayed: give --steps")
    out = check_output(options.out, Output("DQN diagnosis", folder=True, is_ours=_is_dqn_folder), options.overwrite)
    print(
        f"replaying the first {steps:,} agent steps of {options.run} ({run.atari.game}, "
        f"{run.provenance.get('init')} init{'; a what-if' if what_if else ''})",
        flush=True,
    )
    with atomic_output(out) as temporary:
        temporary.mkdir()
        recorder = dqn_start.QRecorder(options.every, options.probe_states, options.export_at, temporary)
        learner = dqn_start.replay_start(run, init, steps, recorder, temporary, options.progress)
        checked = None
        if what_if is None:  # a what-if has no log to compare with
            checked = dqn_start.reproduction(Path(options.run), temporary / "run", learner.step)  # type: ignore[arg-type]
        summary = dqn_start.write_records(temporary, run, recorder, learner, checked, what_if)
    print(_dqn_lines(summary, out))


def _dqn_lines(summary: dict, out: Path) -> str:
    lines = []
    checked = summary["reproduction"]
    if checked is not None:
        episodes = checked["episodes"]
        lines.append(f"reproduced the run: {'yes' if checked['reproduced'] else 'NO'} ({episodes['identical']} of "
                     f"{episodes['logged']} logged episodes identical)")  # fmt: skip
    for moment in ("start", "end"):
        snapshot = summary[moment]
        if snapshot is None:
            continue
        outliers = ", ".join(f"{o['action']} ({o['mads_from_median']:+.1f} MADs)" for o in snapshot["outlying_actions"])
        lines.append(f"update {snapshot['update']:,}: greedy {snapshot['probe_greedy']} on "
                     f"{snapshot['probe_greedy_share']:.0%} of the probe states, Q spread {snapshot['q_spread']:.3g}"
                     + (f"; far off the rest: {outliers}" if outliers else ""))  # fmt: skip
    longest = summary["longest_greedy_run"]
    if longest is not None:
        lines.append(f"longest greedy run: {longest['action']} from update {longest['first_update']:,} to "
                     f"{longest['last_update']:,}")  # fmt: skip
    lines.append(f"wrote {out}")
    return "\n".join(lines)


def _is_dqn_folder(path: Path) -> bool:
    try:
        return json.loads((path / "summary.json").read_text()).get("diagnosis") == "amn diagnose dqn"
    except (OSError, ValueError, AttributeError):
        return False


def _is_lookup_csv(path: Path) -> bool:
    return path.read_text(errors="replace").startswith("death,before,score,frame_matches")


def _is_lookup_json(path: Path) -> bool:
    try:
        document = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(document, dict) and {"stores", "deaths", "by_score"} <= set(document)
