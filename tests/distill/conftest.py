"""Real teacher stores of two games, collected once per session with untrained experts.

Distillation is plumbing-agnostic to how well the experts play, so randomly initialised
experts label the states. The two games differ where it matters: Pong has 6 actions and its
expert's 512-unit "fc" layer is stored; Breakout has 4 actions and its expert's flattened
convolution (3136 units) is stored, so the experts' hidden sizes differ. Breakout is played
at random (epsilon 1) and ends episodes every few hundred steps; Pong's episodes are cut by
the budget. Either way each store holds several whole episodes to split off validation.
"""

from __future__ import annotations

import textwrap

import pytest

from actor_mimic.collect import CollectConfig, collect
from actor_mimic.common.atari import AtariConfig
from actor_mimic.common.checkpoint import random_init_expert, save_checkpoint

PONG = AtariConfig("pong")
BREAKOUT = AtariConfig("breakout")


@pytest.fixture(scope="session")
def experts(tmp_path_factory) -> dict:
    """game -> path of an untrained expert checkpoint."""
    folder = tmp_path_factory.mktemp("experts")
    paths = {}
    for seed, config in enumerate((PONG, BREAKOUT)):
        expert = random_init_expert(config, seed=seed)
        paths[config.game] = save_checkpoint(folder / f"{config.game}.safetensors", expert.network, expert.metadata)
    return paths


@pytest.fixture(scope="session")
def stores(tmp_path_factory, experts) -> dict:
    """game -> path of its teacher store."""
    folder = tmp_path_factory.mktemp("stores")
    pong = collect(CollectConfig(
        expert=str(experts["pong"]), out=folder / "pong.zarr", steps=400, num_envs=4, seed=0, chunk_len=64,
    ))  # fmt: skip
    breakout = collect(CollectConfig(
        expert=str(experts["breakout"]), out=folder / "breakout.zarr", steps=600, num_envs=2, seed=1,
        chunk_len=64, epsilon=1.0, hidden_layer="conv",
    ))  # fmt: skip
    return {"pong": pong, "breakout": breakout}


def write_config(folder, stores: dict, games: str | None = None, name: str = "distill.yaml", **overrides) -> str:
    """A small `amn distill` YAML config over the session's stores (or the flow-style list
    `games`); returns its path."""
    settings = {"max_steps": 6, "batch_size": 16, "val_fraction": 0.3, "beta": 0.01, "tau": 1.0}
    settings.update(overrides)
    default_games = (
        f'[{{game: pong, stores: ["{stores["pong"]}"]}}, {{game: breakout, stores: ["{stores["breakout"]}"]}}]'
    )
    text = textwrap.dedent(
        f"""\
        model:
          tau: {settings["tau"]}
          beta: {settings["beta"]}
        data:
          games: {games or default_games}
          batch_size: {settings["batch_size"]}
          val_fraction: {settings["val_fraction"]}
          num_workers: 0
        trainer:
          max_steps: {settings["max_steps"]}
          max_epochs: 50
          limit_train_batches: 3   # epochs of 3 steps, each followed by validation
          log_every_n_steps: 1
          enable_progress_bar: false
          enable_model_summary: false
          default_root_dir: "{folder / "runs"}"
        """
    )
    path = folder / name
    path.write_text(text)
    return str(path)
