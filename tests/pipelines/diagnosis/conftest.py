"""An untrained AMN and an untrained expert of Breakout (no-op starts off, so the single-env
reference path replays the vector env's episodes exactly), and one diagnosis of them, made
once per session: 300 agent steps, exploring enough (epsilon 0.25) to launch the ball and lose
lives."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from actor_mimic.cli import main
from actor_mimic.common.atari import AtariConfig, action_set
from actor_mimic.common.checkpoint import CheckpointMetadata, random_init_expert, save_checkpoint
from actor_mimic.common.networks import NatureDQN

BREAKOUT = AtariConfig("breakout", noop_max=0)
TAU = 0.5  # the AMN's distillation temperature, which the teacher's policy takes by default
PLAY = ["--steps", "300", "--num-envs", "1", "--epsilon", "0.25", "--seed", "3", "--before-death", "6",
        "--bins", "5", "--no-progress"]  # fmt: skip


def save_amn(path: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    settings = {k: v for k, v in BREAKOUT.to_dict().items() if k != "game"}
    metadata = CheckpointMetadata(
        kind="amn", architecture="nature_dqn", num_actions=18, games=["breakout"],
        action_sets={"breakout": list(action_set(BREAKOUT))}, atari=settings, provenance={"tau": TAU, "beta": 0.0},
    )  # fmt: skip
    return save_checkpoint(path, NatureDQN(18), metadata)


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("checkpoints")
    expert = random_init_expert(BREAKOUT, seed=0)
    return {
        "expert": save_checkpoint(folder / "expert.safetensors", expert.network, expert.metadata),
        "amn": save_amn(folder / "amn.safetensors", seed=1),
        "other_amn": save_amn(folder / "other.safetensors", seed=2),
    }


@pytest.fixture(scope="session")
def diagnosis(tmp_path_factory, checkpoints) -> Path:
    """The folder `amn diagnose play` wrote for the AMN, its expert labelling."""
    out = tmp_path_factory.mktemp("diagnosis") / "out"
    status = main(["diagnose", "play", "--student", str(checkpoints["amn"]), "--experts", str(checkpoints["expert"]),
                   "--out", str(out), *PLAY])  # fmt: skip
    assert status == 0
    return out
