"""A short real fit on real stores of two games; the exported AMN reloads exactly."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch

from actor_mimic.common.atari import action_set
from actor_mimic.common.checkpoint import load_checkpoint
from actor_mimic.datasets import make_loader
from actor_mimic.distill.data import TeacherDataModule
from actor_mimic.distill.export import export_amn
from actor_mimic.distill.module import ActorMimic
from actor_mimic.distill.tasks import GameStores
from actor_mimic.errors import UserError
from tests.distill.conftest import BREAKOUT, PONG


def data_module(stores, **overrides) -> TeacherDataModule:
    settings = dict(batch_size=32, val_fraction=0.3, num_workers=0)
    settings.update(overrides)
    games = [GameStores("pong", [str(stores["pong"])]), GameStores("breakout", [str(stores["breakout"])])]
    return TeacherDataModule(games=games, **settings)


def trainer(max_steps: int, **overrides) -> pl.Trainer:
    return pl.Trainer(
        max_steps=max_steps, max_epochs=100, logger=False, enable_checkpointing=False, **overrides,
        enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
    )  # fmt: skip


def mean_terms(model: ActorMimic, mixture) -> dict[str, float]:
    """Every loss term averaged over every step of `mixture`, read in stored order."""
    model.eval()
    totals, count = {}, 0
    with torch.no_grad():
        for batch in make_loader(mixture, batch_size=128, shuffle=False):
            for name, values in model.per_sample_terms(batch).items():
                totals[name] = totals.get(name, 0.0) + float(values.sum())
            count += len(batch["frames"])
    model.train()
    return {name: total / count for name, total in totals.items()}


def test_tasks_describe_both_games_and_their_expert_sizes(stores):
    data = data_module(stores)
    tasks = data.tasks.to_dict()
    assert tasks["games"] == ["pong", "breakout"]
    assert tasks["action_sets"] == {"pong": list(action_set(PONG)), "breakout": list(action_set(BREAKOUT))}
    assert tasks["hidden_sizes"] == {"pong": 512, "breakout": 3136}
    assert tasks["hidden_layer"] == {"pong": "fc", "breakout": "conv"}
    assert [s["num_steps"] for s in tasks["stores"]] == [400, 600]
    model = ActorMimic(tasks=tasks)
    assert model.transforms["pong"].out_features == 512
    assert model.transforms["breakout"].out_features == 3136
    assert model.transforms["breakout"].in_features == 512  # the AMN's fc layer


def test_fit_lowers_policy_loss_and_kl_on_the_training_data(stores, tmp_path):
    data = data_module(stores)
    data.setup("fit")
    pl.seed_everything(0)
    # Untrained experts' Q-values differ by hundredths; a low temperature makes their policies
    # sharp enough for the AMN to have something to learn (Policy Distillation used 0.01).
    model = ActorMimic(tasks=data.tasks, tau=0.01, beta=0.01)
    before = mean_terms(model, data.train_mixture)
    fit = trainer(max_steps=30)
    fit.fit(model, datamodule=data)
    after = mean_terms(model, data.train_mixture)

    assert after["kl"] < 0.2 * before["kl"]
    assert after["policy_loss"] < before["policy_loss"] - 0.5
    assert after["agreement"] > before["agreement"]
    for game in ("pong", "breakout"):  # held-out metrics, per game
        for name in ("policy_loss", "feature_loss", "kl", "agreement"):
            assert torch.isfinite(fit.callback_metrics[f"val/{game}/{name}"])
    assert fit.global_step == 30

    # The export reloads without Lightning and computes exactly the same outputs.
    path = export_amn(model, tmp_path / "amn.safetensors")
    loaded = load_checkpoint(path)
    frames = next(iter(make_loader(data.val_mixture, batch_size=8, shuffle=False)))["frames"]
    model.eval()
    with torch.no_grad():
        assert torch.equal(loaded.network(frames), model.amn(frames))
    meta = loaded.metadata
    assert (meta.kind, meta.architecture, meta.num_actions) == ("amn", "nature_dqn", 18)
    assert meta.games == ["pong", "breakout"]
    assert meta.action_sets == data.tasks.to_dict()["action_sets"]
    assert meta.atari_config("breakout").preprocessing() == BREAKOUT.preprocessing()
    assert meta.provenance["tau"] == 0.01 and meta.provenance["beta"] == 0.01
    assert meta.provenance["global_step"] == 30 and meta.provenance["trained"] is True
    assert [s["path"] for s in meta.provenance["stores"]] == [str(stores["pong"]), str(stores["breakout"])]
    assert all(len(s["expert_sha256"]) == 64 for s in meta.provenance["stores"])


def test_amn_policy_variant_has_no_feature_regression(stores):
    data = data_module(stores)
    model = ActorMimic(tasks=data.tasks, beta=0.0)
    assert model.transforms is None
    fit = trainer(max_steps=2, limit_train_batches=2)  # an epoch of 2 steps, then validation
    fit.fit(model, datamodule=data)
    assert "val/pong/kl" in fit.callback_metrics
    assert not any("feature_loss" in name for name in fit.callback_metrics)


def test_every_transform_gets_a_gradient_even_without_samples_of_its_game(stores):
    """DDP requires every parameter in the graph each step; a batch of one game only must
    still give the other game's f_i a (zero) gradient rather than none."""
    data = data_module(stores, weighting="proportional")
    data.setup("fit")
    model = ActorMimic(tasks=data.tasks)
    batch = next(iter(make_loader(data.train_mixture.datasets[0], batch_size=8, shuffle=False)))
    assert set(batch["game_id"].tolist()) == {0}  # pong only
    model.per_sample_terms(batch)["loss"].mean().backward()
    assert model.transforms["breakout"].weight.grad is not None
    assert torch.all(model.transforms["breakout"].weight.grad == 0)
    assert model.transforms["pong"].weight.grad.abs().sum() > 0


def test_identity_transform_needs_equal_hidden_sizes(stores):
    tasks = data_module(stores).tasks
    with pytest.raises(UserError, match="identity needs equal hidden sizes"):
        ActorMimic(tasks=tasks, feature_transform="identity")
    only_pong = {**tasks.to_dict(), "games": ["pong"]}
    model = ActorMimic(tasks=only_pong, feature_transform="identity")
    assert isinstance(model.transforms["pong"], torch.nn.Identity)


def test_multitask_amn_architecture_is_the_large_network(stores):
    model = ActorMimic(tasks=data_module(stores).tasks, architecture="multitask_amn")
    assert model.amn.architecture == "multitask_amn"
    assert model.transforms["pong"].in_features == 1024
    assert model.amn.head.out_features == 18
