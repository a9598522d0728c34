"""`amn distill fit` stopped by SIGTERM saves where it stopped, and --ckpt_path continues it.

Real forked fits on the session's real stores: the parent sends SIGTERM once the fit has
saved its first periodic checkpoint, mid-epoch (epochs here are 3 updates, each followed by
validation, so the stop may also land in a validation pass).
"""

from __future__ import annotations

import signal

import torch

from actor_mimic.common.checkpoint import load_checkpoint
from tests.collect.forked import run_amn
from tests.distill.conftest import write_config


def saved_step(path) -> int:
    return int(torch.load(path, map_location="cpu", weights_only=True)["global_step"])


def test_sigterm_saves_last_ckpt_where_the_fit_stopped_and_ckpt_path_continues_it(stores, tmp_path):
    config = write_config(tmp_path, stores)
    first = tmp_path / "runs" / "distill" / "version_0"
    status, stderr = run_amn(
        "distill", "fit", "--config", config, "--trainer.max_steps", "100000", "--trainer.max_epochs", "-1",
        "--checkpoint.every_n_train_steps", "2",
        stop_when=lambda: any((first / "checkpoints").glob("epoch=*.ckpt")), signal_number=signal.SIGTERM,
    )  # fmt: skip

    assert status == 128 + signal.SIGTERM and "Traceback" not in stderr, stderr
    last = first / "checkpoints" / "last.ckpt"
    step = saved_step(last)
    assert 2 <= step < 100_000
    assert f"stopped by SIGTERM at step {step}; saved {last}" in stderr
    assert f"--ckpt_path {last}" in stderr
    assert not (first / "amn.safetensors").exists(), "a stopped fit exports no AMN"

    status, stderr = run_amn(
        "distill", "fit", "--config", config, "--ckpt_path", last, "--trainer.max_steps", str(step + 4),
        "--trainer.max_epochs", "-1",
    )  # fmt: skip
    assert status == 0, stderr
    second = tmp_path / "runs" / "distill" / "version_1"
    assert saved_step(second / "checkpoints" / "last.ckpt") == step + 4, "continued from the saved step"
    assert load_checkpoint(second / "amn.safetensors").metadata.kind == "amn", "the finished fit exports its AMN"
