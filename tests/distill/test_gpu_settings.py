"""The settings a GPU user expects, each run here on a CPU: bf16-mixed precision (CPU
autocast), channels-last memory format, torch.compile, pinned host memory.

Each is a real fit of 4 updates on the session's stores, compared with the same fit at the
defaults: bf16 autocast changes the arithmetic (the convolutions run in bfloat16, the weights
stay float32); channels-last keeps the weights and inputs in NHWC and lands close to the
default fit; compiling (with torch.compile's eager backend: the inductor backend compiles for
minutes on this CPU) and pinning memory (no GPU here to pin for) change nothing at all. Every
setting is recorded in the run's config.yaml.
"""

from __future__ import annotations

import json

import pytest
import torch
import yaml
from safetensors.torch import load_file

from actor_mimic.distill.fit import fit, parse_fit_config
from tests.distill.conftest import write_config


def run_fit(folder, stores, *overrides: str) -> tuple[dict, dict, dict]:
    """(exported weights, the probe's record, the run's saved config) of a 4-update fit."""
    config = parse_fit_config(["--config", write_config(folder, stores, max_steps=4), *overrides])
    config["trainer"]["callbacks"] = [
        {"class_path": "tests.distill.ddp_probe.LayerProbe", "init_args": {"out_dir": str(folder / "probe")}}
    ]
    assert fit(config) == 0
    (run,) = folder.glob("runs/distill/version_*")
    weights = load_file(str(run / "amn.safetensors"))
    return (
        weights,
        json.loads((folder / "probe" / "probe.json").read_text()),
        yaml.safe_load((run / "config.yaml").read_text()),
    )


@pytest.fixture(scope="module")
def default_fit(stores, tmp_path_factory):
    return run_fit(tmp_path_factory.mktemp("default"), stores)


def test_a_bf16_mixed_fit_runs_on_cpu(stores, tmp_path, default_fit):
    weights, probe, config = run_fit(tmp_path, stores, "--trainer.precision", "bf16-mixed")
    assert probe["output_dtype"] == "torch.bfloat16" and default_fit[1]["output_dtype"] == "torch.float32"
    assert config["trainer"]["precision"] == "bf16-mixed"
    assert weights.keys() == default_fit[0].keys()
    for name, tensor in weights.items():
        assert tensor.dtype == default_fit[0][name].dtype and torch.isfinite(tensor).all(), name
    assert any(not torch.equal(tensor, default_fit[0][name]) for name, tensor in weights.items())


def test_channels_last_keeps_weights_and_inputs_in_nhwc(stores, tmp_path, default_fit):
    weights, probe, config = run_fit(tmp_path, stores, "--model.channels_last", "true")
    assert probe["weight_channels_last"] and probe["input_channels_last"]
    assert not default_fit[1]["weight_channels_last"] and not default_fit[1]["input_channels_last"]
    assert config["model"]["channels_last"] is True and default_fit[2]["model"]["channels_last"] is False
    for name, tensor in weights.items():
        torch.testing.assert_close(tensor, default_fit[0][name], rtol=0, atol=1e-4, msg=name)


def test_compiling_and_pinning_memory_change_nothing(stores, tmp_path, default_fit):
    weights, probe, config = run_fit(tmp_path, stores, "--model.compile", "eager", "--data.pin_memory", "true")
    assert probe["pin_memory"] and not default_fit[1]["pin_memory"]
    assert config["model"]["compile"] == "eager" and config["data"]["pin_memory"] is True
    assert config["data"]["num_workers"] == 0  # the loader's workers are recorded too
    assert weights.keys() == default_fit[0].keys()  # the compiled network keeps its weights' names
    for name, tensor in weights.items():
        assert torch.equal(tensor, default_fit[0][name]), name
