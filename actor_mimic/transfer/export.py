"""Turning a trained learner into a shared expert checkpoint, ready for `amn collect`.

The expert holds exactly the game's actions as outputs (a DQN initialised from an AMN keeps
only the output rows of the game's actions), its shared-protocol evaluation in the metadata
`evaluation`, and its training-curve summary in `provenance`. A JSON sidecar next to it keeps
the same scores plus a uniformly random policy's, evaluated with the same protocol.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np
import torch

from actor_mimic.common.atari import action_set
from actor_mimic.common.checkpoint import expert_metadata, save_checkpoint
from actor_mimic.common.outputs import write_text
from actor_mimic.common.versions import library_versions
from actor_mimic.transfer.logs import training_curve

DTYPES = {"float16": torch.float16, "float32": torch.float32, "bfloat16": torch.bfloat16}


def training_summary(learner) -> dict:
    """What the metadata says about how the expert was trained.

    Counts, hours and the evaluation curve cover the whole training: a run that continued an
    expert (`--init-expert`) adds its own to the expert's `prior_training`, and `segments`
    lists each run's share.
    """
    provenance = dict(learner.provenance)
    prior = provenance.pop("prior_training", {})
    steps_before = prior.get("agent_steps", 0)
    hours = learner.wall_seconds / 3600
    this_run = {"agent_steps": learner.step, "updates": learner.updates, "wall_hours": round(hours, 3),
                "init": provenance.get("init"), "seed": learner.config.seed}  # fmt: skip
    curve = [[e["step"] + steps_before, round(e["mean"], 3)] for e in learner.evaluations]
    returns_curve = [[step + steps_before, *rest] for step, *rest in training_curve(learner.run_dir)]
    returns = learner.recent_returns
    return {
        "source": "amn train-dqn",
        "trained": True,
        **provenance,
        "agent_steps": steps_before + learner.step,
        "updates": prior.get("updates", 0) + learner.updates,
        "episodes": prior.get("episodes", 0) + learner.episodes_finished,
        "wall_hours": round(prior.get("wall_hours", 0.0) + hours, 3),
        "segments": prior.get("segments", []) + [this_run],
        "last_100_episode_return_mean": float(np.mean(returns)) if returns else None,
        "evaluation_curve": prior.get("evaluation_curve", []) + curve,
        "training_curve": prior.get("training_curve", []) + returns_curve,
        "dqn_config": learner.config.to_dict(),
        "versions": library_versions(("ale_py", "torch")) | {"python": platform.python_version()},
    }


def evaluation_entry(result: dict) -> dict:
    """The compact form of an `EvaluationResult.to_dict()` kept in checkpoint metadata."""
    keys = ("mean", "std", "min", "max", "num_episodes", "steps", "partial", "epsilon", "seed")
    return {k: result[k] for k in keys} | {"protocol": "shared evaluate(): epsilon-greedy, full games, no-op starts"}


def export_expert(
    learner, path: str | Path, evaluation: dict | None, dtype: str = "float16", overwrite: bool = False
) -> Path:
    """Write the learner's online network as a kind-"expert" checkpoint at `path` (an existing
    checkpoint there is replaced only with `overwrite`)."""
    game = learner.atari.game
    metadata = expert_metadata(
        learner.atari,
        learner.online.architecture,
        provenance=training_summary(learner),
        evaluation={game: evaluation_entry(evaluation)} if evaluation else {},
    )
    assert metadata.action_sets[game] == list(action_set(learner.atari))
    return save_checkpoint(path, learner.expert(), metadata, dtype=DTYPES[dtype], overwrite=overwrite)


def write_scores(path: str | Path, learner, expert_result: dict, random_result: dict | None) -> Path:
    """The JSON sidecar: expert and random-policy scores under the same protocol."""
    document = {
        "game": learner.atari.game,
        "expert": expert_result,
        "random_policy": random_result,
        "training": training_summary(learner),
        "atari": learner.atari.to_dict(),
    }
    return write_text(path, json.dumps(document, indent=1))


def is_scores_file(path: Path) -> bool:
    """True if `path` is a sidecar `write_scores` wrote."""
    try:
        document = json.loads(Path(path).read_text())
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(document, dict) and {"game", "expert", "random_policy"} <= set(document)
