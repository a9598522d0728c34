"""Ship an imported SB3 teacher like the other experts: float16 checkpoint, JSON of scores, curve.

The teacher was trained by `scripts/train_sb3_teacher.py` (SB3 itself; its run folder holds
model.zip, curve.csv and run.json), imported with `amn checkpoint import-sb3` and scored with
`amn evaluate` under the shared protocol, itself and a uniformly random policy (epsilon 1),
with the same budget and seed (experts/README.md):

    amn checkpoint import-sb3 RUN/model.zip --game asterix --out runs/asterix/imported.safetensors
    amn evaluate --experts runs/asterix/imported.safetensors --steps 50000 --epsilon 0.05 \
        --out runs/asterix/expert-eval --no-progress
    amn evaluate --experts runs/asterix/imported.safetensors --steps 50000 --epsilon 1 \
        --out runs/asterix/random-eval --no-progress
    python scripts/ship_sb3_teacher.py --checkpoint runs/asterix/imported.safetensors --run-dir RUN \
        --expert-eval runs/asterix/expert-eval/evaluation.json \
        --random-eval runs/asterix/random-eval/evaluation.json --out experts/asterix.safetensors

writes experts/asterix.safetensors (float16, the score in its `evaluation`, the training
summary in its `provenance`), experts/asterix.json (the fields of the DQN experts' JSON:
game, expert, random_policy, training, atari) and experts/asterix.png (scripts/plot_experts.py).
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import torch

from actor_mimic.common.checkpoint import load_checkpoint, save_checkpoint
from actor_mimic.transfer.export import evaluation_entry

HYPERPARAMETERS = ("algo", "n_envs", "hyperparameters", "learning_rate", "clip_range", "seed", "target_steps", "env")
BIN_STEPS = 10_000  # the DQN experts' training curves: mean return per 10k agent steps


def training_curve(curve_csv: Path) -> list[list[float]]:
    """[[last agent step of the bin, mean score, games], ...] of the games SB3's Monitor
    recorded (whole games, unclipped scores, the sampling policy), per bin of 10k agent steps."""
    bins: dict[int, list[float]] = {}
    with curve_csv.open(newline="") as handle:
        for row in csv.DictReader(handle):
            bins.setdefault((int(row["steps"]) - 1) // BIN_STEPS, []).append(float(row["score"]))
    return [[(index + 1) * BIN_STEPS, round(sum(r) / len(r), 3), len(r)] for index, r in sorted(bins.items())]


def expert_run(evaluation_json: Path) -> dict:
    """The one expert run of an `amn evaluate --out` evaluation.json."""
    runs = [run for run in json.loads(evaluation_json.read_text())["runs"] if run["role"] == "expert"]
    if len(runs) != 1:
        raise SystemExit(f"{evaluation_json}: expected the runs of one expert, found {len(runs)}")
    return {k: v for k, v in runs[0].items() if k not in ("role", "checkpoint", "sha256")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, required=True, help="the imported teacher (.safetensors)")
    parser.add_argument("--run-dir", type=Path, required=True, help="train_sb3_teacher.py's --out-dir")
    parser.add_argument("--expert-eval", type=Path, required=True, help="evaluation.json of the teacher")
    parser.add_argument("--random-eval", type=Path, required=True, help="evaluation.json at epsilon 1")
    parser.add_argument("--out", type=Path, required=True, help="experts/<game>.safetensors")
    args = parser.parse_args()

    teacher = load_checkpoint(args.checkpoint)
    run = json.loads((args.run_dir / "run.json").read_text())
    expert, random_policy = expert_run(args.expert_eval), expert_run(args.random_eval)
    game = teacher.metadata.games[0]
    # One record per session: a session's periodic saves each rewrote its record (the last wins).
    sessions = list({session["from"]: session for session in run.get("sessions", [])}.values())
    hours = sum(session["seconds"] for session in sessions) / 3600
    training = {
        **teacher.metadata.provenance,
        "trained": True,
        "script": "scripts/train_sb3_teacher.py",
        "agent_steps": run["steps"],
        "wall_hours": round(hours, 3),
        "segments": [
            {"agent_steps": s["to"] - s["from"], "wall_hours": round(s["seconds"] / 3600, 3)} for s in sessions
        ],
        "training_curve": training_curve(args.run_dir / "curve.csv"),
        "evaluation_curve": [],
        "hyperparameters": {key: run.get(key) for key in HYPERPARAMETERS},
        "sb3_version": run.get("stable_baselines3"),
    }
    metadata = teacher.metadata
    metadata.provenance = training
    metadata.evaluation = {game: evaluation_entry(expert) | {"acting": expert["acting"]}}
    save_checkpoint(args.out, teacher.network, metadata, dtype=torch.float16, overwrite=args.out.exists())
    document = {"game": game, "expert": expert, "random_policy": random_policy, "training": training,
                "atari": metadata.atari_config().to_dict()}  # fmt: skip
    sidecar = args.out.with_suffix(".json")
    sidecar.write_text(json.dumps(document, indent=1))
    from plot_experts import plot_expert  # scripts/, beside this file

    print(f"wrote {args.out}, {sidecar} and {plot_expert(document, args.out.with_suffix('.png'))}")


if __name__ == "__main__":
    main()
