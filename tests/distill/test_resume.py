"""A fit resumed from a checkpoint trains on exactly the batches an uninterrupted fit would.

Real fits on the session's stores, epochs of 3 updates (conftest's config), a checkpoint
after every update. Resuming from the middle of an epoch, and from an epoch's last batch
(where Lightning's epoch counter has not yet moved on), ends with the very weights of the
uninterrupted fit: the same batches, in the same order, from the same restored state.
"""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from actor_mimic.distill.data import batches_per_epoch
from actor_mimic.distill.fit import run_command
from tests.distill.conftest import write_config


def exported_weights(folder) -> dict[str, torch.Tensor]:
    (path,) = folder.glob("runs/distill/version_*/amn.safetensors")
    return load_file(str(path))


@pytest.fixture(scope="module")
def uninterrupted(stores, tmp_path_factory):
    """(weights after 8 updates, the folder of the checkpoint after each update)."""
    folder = tmp_path_factory.mktemp("uninterrupted")
    config = write_config(folder, stores, max_steps=8)
    status = run_command(["fit", "--config", config, "--checkpoint.every_n_train_steps", "1",
                          "--checkpoint.save_top_k", "-1"])  # fmt: skip
    assert status == 0
    return exported_weights(folder), folder / "runs" / "distill" / "version_0" / "checkpoints"


@pytest.mark.parametrize("checkpoint", ["epoch=1-step=4.ckpt", "epoch=1-step=6.ckpt"],
                         ids=["mid-epoch", "epoch's last batch"])  # fmt: skip
def test_a_resumed_fit_ends_with_the_uninterrupted_fits_weights(stores, tmp_path, uninterrupted, checkpoint):
    expected, checkpoints = uninterrupted
    config = write_config(tmp_path, stores, max_steps=8)
    assert run_command(["fit", "--config", config, "--ckpt_path", str(checkpoints / checkpoint)]) == 0
    resumed = exported_weights(tmp_path)
    assert resumed.keys() == expected.keys()
    for name, tensor in expected.items():
        assert torch.equal(resumed[name], tensor), name


def test_batches_per_epoch_follows_limit_train_batches():
    assert batches_per_epoch(10, None) == 10
    assert batches_per_epoch(10, 1.0) == 10
    assert batches_per_epoch(10, 3) == 3
    assert batches_per_epoch(10, 30) == 10
    assert batches_per_epoch(10, 0.25) == 2
