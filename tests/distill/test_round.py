"""`amn distill round`: the AMN acts, the experts label, a new store per game, the fit resumes."""

from __future__ import annotations

from actor_mimic.cli import main
from actor_mimic.common.checkpoint import read_metadata
from actor_mimic.common.store import open_store
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
