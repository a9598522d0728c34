"""One fit over teachers of both kinds: Q-value experts and logit (policy-gradient) teachers.

Pong's store is labelled by a Q-value expert; Breakout's by a logit teacher (an untrained
network recorded as a PPO agent, under SB3's FIRE protocol). Each sample's target is
softmax(outputs / its kind's temperature), the metrics use the same target, and the exported
AMN plays each game in the environment its store was played in.
"""

from __future__ import annotations

import dataclasses

import pytest
import pytorch_lightning as pl
import torch

from actor_mimic.collect import CollectConfig, collect
from actor_mimic.common.checkpoint import Checkpoint, load_checkpoint, random_init_expert
from actor_mimic.datasets import make_loader
from actor_mimic.distill import losses
from actor_mimic.distill.data import TeacherDataModule
from actor_mimic.distill.export import export_amn
from actor_mimic.distill.module import ActorMimic
from actor_mimic.distill.tasks import GameStores, describe_tasks
from actor_mimic.errors import UserError
from tests.distill.conftest import BREAKOUT


@pytest.fixture(scope="module")
def logit_store(tmp_path_factory):
    """Breakout labelled by a logit teacher that samples, under FIRE at reset and after a lost life."""
    expert = random_init_expert(dataclasses.replace(BREAKOUT, fire_on_reset=True, fire_on_life_loss=True), seed=5)
    metadata = dataclasses.replace(expert.metadata, outputs="logits", acting="sample")
    teacher = Checkpoint(expert.network, metadata)
    out = tmp_path_factory.mktemp("logit") / "breakout-ppo.zarr"
    return collect(CollectConfig(expert=teacher, out=out, steps=500, num_envs=2, seed=3, chunk_len=64))


def mixed(stores, logit_store):
    return [GameStores("pong", [str(stores["pong"])]), GameStores("breakout", [str(logit_store)])]


def test_each_sample_is_taught_with_its_teachers_kind_and_temperature(stores, logit_store):
    tasks = describe_tasks(mixed(stores, logit_store))
    assert [task.outputs for task in tasks.games] == ["q_values", "logits"]
    assert tasks.task("breakout").atari == {"fire_on_reset": True, "fire_on_life_loss": True}
    assert tasks.task("pong").atari == {}
    data = TeacherDataModule(games=mixed(stores, logit_store), batch_size=64, val_fraction=0.3, num_workers=0)
    data.setup("fit")
    model = ActorMimic(tasks=data.tasks, tau=0.05, logit_tau=2.0, beta=0.0)
    batch = next(iter(make_loader(data.train_mixture, batch_size=64, seed=0)))
    assert set(batch["game_id"].tolist()) == {0, 1}
    with torch.no_grad():
        terms = model.per_sample_terms(batch)
        logits = model.amn(batch["frames"])
    for game_id, tau in ((0, 0.05), (1, 2.0)):
        rows = batch["game_id"] == game_id
        args = (logits[rows], batch["q_values"][rows], batch["action_mask"][rows], tau)
        assert torch.allclose(terms["policy_loss"][rows], losses.policy_regression_loss(*args), atol=1e-6)
        assert torch.allclose(terms["kl"][rows], losses.kl_expert_amn(*args), atol=1e-6)


def test_a_mixed_fit_trains_and_its_amn_records_each_games_environment(stores, logit_store, tmp_path):
    data = TeacherDataModule(games=mixed(stores, logit_store), batch_size=32, val_fraction=0.3, num_workers=0)
    pl.seed_everything(0)
    model = ActorMimic(tasks=data.tasks, tau=0.01, beta=0.01)
    fit = pl.Trainer(max_steps=6, max_epochs=10, limit_train_batches=3, logger=False, enable_checkpointing=False,
                     enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")  # fmt: skip
    fit.fit(model, datamodule=data)
    for name in ("kl", "agreement", "policy_loss"):
        assert torch.isfinite(fit.callback_metrics[f"val/breakout/{name}"])
    amn = load_checkpoint(export_amn(model, tmp_path / "amn.safetensors")).metadata
    assert amn.provenance["teacher_outputs"] == {"pong": "q_values", "breakout": "logits"}
    assert amn.provenance["logit_tau"] == 1.0
    assert amn.atari_config("breakout").fire_on_life_loss and not amn.atari_config("pong").fire_on_life_loss


def test_one_game_cannot_mix_teacher_kinds(stores, logit_store, tmp_path):
    games = [GameStores("breakout", [str(stores["breakout"]), str(logit_store)])]
    with pytest.raises(UserError, match="teacher's outputs are logits, breakout's other stores' q_values"):
        describe_tasks(games)
