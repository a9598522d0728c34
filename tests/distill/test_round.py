"""`amn distill round`: the AMN acts, the experts label, a new store per game, the fit resumes."""

from __future__ import annotations

import pytest
import torch
import yaml

from actor_mimic.cli import main
from actor_mimic.common.checkpoint import read_metadata
from actor_mimic.store import open_store
from tests.distill.conftest import write_config


def test_a_round_collects_student_data_into_new_stores_and_resumes(stores, experts, tmp_path):
    config = write_config(tmp_path, stores, max_steps=3)
    assert main(["distill", "fit", "--config", config]) == 0
    run = tmp_path / "runs" / "distill" / "version_0"

    args = [
        "distill", "round", "--config", config, "--ckpt_path", str(run / "checkpoints" / "last.ckpt"),
        "--amn", str(run / "amn.safetensors"), "--experts", str(experts["pong"]), str(experts["breakout"]),
        "--round", "r1", "--steps", "64", "--num-envs", "2", "--out-dir", str(tmp_path / "round1"),
        "--more-steps", "3",
    ]  # fmt: skip
    assert main(args) == 0

    for game in ("pong", "breakout"):
        backend, info = open_store(tmp_path / "round1" / f"{game}-r1.zarr")
        backend.close()
        assert info.num_steps == 64
        behaviour = info.attrs["behaviour"]
        assert behaviour["round"] == "r1" and behaviour["epsilon"] == 0.1
        assert behaviour["policy"]["kind"] == "amn"
    assert (tmp_path / "round1" / "distill-r1.yaml").is_file()

    exported = read_metadata(tmp_path / "runs" / "distill" / "version_1" / "amn.safetensors")
    assert exported.provenance["global_step"] == 6  # 3 before the round, 3 after
    rounds = [(s["game"], s["round"]) for s in exported.provenance["stores"]]
    assert rounds == [("pong", None), ("pong", "r1"), ("breakout", None), ("breakout", "r1")]


def test_the_fit_gets_the_configs_and_overrides_and_not_the_collectors_torch_threads(
    stores, experts, tmp_path, monkeypatch
):
    """The fit's config is the run's (several files, overrides) plus the round's stores, and
    the collector's one-thread torch setting is gone by the time the fit starts."""
    from actor_mimic.distill.export import export_amn
    from actor_mimic.distill.module import ActorMimic
    from actor_mimic.distill.tasks import GameStores, describe_tasks
    from actor_mimic.pipelines import student_round

    config = write_config(tmp_path, stores)
    extra = tmp_path / "extra.yaml"
    extra.write_text("model:\n  tau: 0.5\n")
    tasks = describe_tasks(
        [GameStores("pong", [str(stores["pong"])]), GameStores("breakout", [str(stores["breakout"])])]
    )
    export_amn(ActorMimic(tasks=tasks), tmp_path / "amn.safetensors")
    ckpt = tmp_path / "last.ckpt"
    torch.save({"pytorch-lightning_version": "2.6.0", "global_step": 3, "epoch": 1, "state_dict": {},
                "hyper_parameters": {"tasks": tasks.to_dict()}}, ckpt)  # fmt: skip

    threads_seen = {}
    real_collect = student_round.collect

    def collect(collect_config):
        path = real_collect(collect_config)
        threads_seen.setdefault("collect", torch.get_num_threads())
        return path

    def fit(fit_config):
        threads_seen["fit"] = torch.get_num_threads()
        threads_seen["config"] = fit_config

    monkeypatch.setattr(student_round, "collect", collect)
    monkeypatch.setattr(student_round, "fit", fit)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        args = [
            "distill", "round", "--config", config, "--config", str(extra), "--ckpt_path", str(ckpt),
            "--amn", str(tmp_path / "amn.safetensors"), "--experts", str(experts["pong"]), str(experts["breakout"]),
            "--round", "r1", "--steps", "16", "--num-envs", "1", "--out-dir", str(tmp_path / "round1"),
            "--more-steps", "4", "--data.batch_size", "8",
        ]  # fmt: skip
        assert main(args) == 0
    finally:
        torch.set_num_threads(before)

    assert threads_seen["collect"] == 1 and threads_seen["fit"] == 2
    fit_config = threads_seen["config"]
    assert fit_config["model"]["tau"] == 0.5 and fit_config["data"]["batch_size"] == 8
    assert fit_config["ckpt_path"] == str(ckpt) and fit_config["trainer"]["max_steps"] == 7
    assert [len(entry["stores"]) for entry in fit_config["data"]["games"]] == [2, 2]
    assert yaml.safe_load((tmp_path / "round1" / "distill-r1.yaml").read_text()) == fit_config


def test_round_flags_are_snake_case_as_in_amn_distill_and_the_old_spellings_still_parse(capsys):
    from actor_mimic.pipelines.student_round import parse

    common = ["--config", "fit.yaml", "--ckpt_path", "last.ckpt", "--amn", "amn.safetensors", "--experts", "e.st",
              "--round", "r1", "--steps", "64", "--trainer.accelerator", "cpu"]  # fmt: skip
    today = parse([*common, "--out_dir", "rounds", "--more_steps", "3", "--num_envs", "2"])
    before = parse([*common, "--out-dir", "rounds", "--more-steps=3", "--num-envs", "2"])
    assert today == before
    args, fit_overrides = today
    assert (args.out_dir, args.more_steps, args.num_envs, fit_overrides) == (
        "rounds",
        3,
        2,
        ["--trainer.accelerator", "cpu"],
    )

    with pytest.raises(SystemExit):
        main(["distill", "round", "--help"])
    shown = capsys.readouterr().out
    assert "--out_dir" in shown and "--more_steps" in shown and "--num_envs" in shown
    assert "--out-dir" not in shown and "--more-steps" not in shown  # hidden aliases
