"""`amn diagnose dqn`: a tiny AMN-initialised Breakout run, replayed from its folder, is the run
itself (same episodes, evaluations and final weights), and its records say what the Q-values
did, as the saved probe values show by hand."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from actor_mimic.cli import main
from actor_mimic.common.checkpoint import load_checkpoint

RUN = ["--game", "breakout", "--preset", "cheap", "--steps", "360", "--num-envs", "2", "--learning-starts", "120",
       "--replay-capacity", "400", "--batch-size", "8", "--target-update", "10", "--eval-every", "240",
       "--eval-steps", "40", "--eval-num-envs", "2", "--final-eval-steps", "40", "--export-dtype", "float32",
       "--no-progress"]  # fmt: skip


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, checkpoints):
    folder = tmp_path_factory.mktemp("dqn") / "run"
    assert main(["train-dqn", "--run-dir", str(folder), "--init", str(checkpoints["amn"]), *RUN]) == 0
    return folder


def test_the_replay_is_the_run_and_its_records_say_what_the_q_values_did(run_dir, checkpoints, tmp_path, capsys):
    out = tmp_path / "diagnosis"
    args = ["diagnose", "dqn", "--run", str(run_dir), "--init", str(checkpoints["amn"]), "--steps", "360", "--every",
            "4", "--probe-states", "16", "--export-at", "240", "--out", str(out), "--no-progress"]  # fmt: skip
    assert main(args) == 0
    assert "reproduced the run: yes" in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    checked = summary["reproduction"]
    assert checked["reproduced"] and checked["episodes"]["logged"] >= 1 and checked["evaluations"]["logged"] == 1

    # Bit for bit: the replayed network is the run's final one.
    run_expert, replayed = load_checkpoint(run_dir / "expert.safetensors"), load_checkpoint(out / "dqn.safetensors")
    for (name, a), (_, b) in zip(run_expert.network.state_dict().items(), replayed.network.state_dict().items()):
        assert torch.equal(a, b), name
    state = json.loads((run_dir / "checkpoint" / "state.json").read_text())
    assert summary["updates"] == state["updates"] and summary["steps"] == state["step"]
    assert (out / "dqn-step240.safetensors").is_file() and (out / "q_values.png").is_file()

    # Records at update 0 (the AMN's head on Breakout's actions), every 4 updates, and the last.
    probe = dict(np.load(out / "probe.npz", allow_pickle=False))
    expected = sorted({*range(0, state["updates"] + 1, 4), state["updates"]})
    assert probe["updates"].tolist() == expected and probe["q_values"].shape == (len(expected), 16, 4)
    with torch.no_grad():  # the last record: the final network's Q-values on the probe states
        final = run_expert.network.eval()(torch.from_numpy(probe["stacks"])).numpy()
    np.testing.assert_allclose(probe["q_values"][-1], final, rtol=0, atol=1e-6)
    amn = load_checkpoint(checkpoints["amn"]).network.eval()
    with torch.no_grad():  # the first: the AMN's outputs at Breakout's ALE actions (0, 1, 3, 4)
        initial = amn(torch.from_numpy(probe["stacks"]))[:, [0, 1, 3, 4]].numpy()
    np.testing.assert_allclose(probe["q_values"][0], initial, rtol=0, atol=1e-6)

    # Greedy shares and means by hand from the probe values.
    with open(out / "q_values.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    names = summary["actions"]
    assert names == ["NOOP", "FIRE", "RIGHT", "LEFT"] and len(rows) == len(expected) * 4
    for row in rows:
        r, a = expected.index(int(row["update"])), names.index(row["action"])
        greedy = probe["q_values"][r].argmax(axis=1)
        assert float(row["probe_greedy_share"]) == pytest.approx((greedy == a).mean())
        assert float(row["q_mean"]) == pytest.approx(float(probe["q_values"][r][:, a].mean()), rel=1e-6)
    runs = summary["greedy_runs"]
    assert runs[0]["first_update"] == 0 and runs[-1]["last_update"] == state["updates"]
    dominant = [names[int(np.bincount(q.argmax(axis=1), minlength=4).argmax())] for q in probe["q_values"]]
    assert [run["action"] for run in runs] == [a for k, a in enumerate(dominant) if k == 0 or dominant[k - 1] != a]


def test_what_if_a_fresh_head_and_refusals(run_dir, checkpoints, tmp_path, capsys):
    base = ["diagnose", "dqn", "--run", str(run_dir), "--steps", "200", "--probe-states", "8", "--no-progress"]
    assert main([*base, "--init", str(checkpoints["other_amn"]), "--out", str(tmp_path / "a")]) == 2
    assert "is not the AMN this run started from" in capsys.readouterr().err
    assert main([*base, "--fresh-head", "--out", str(tmp_path / "a")]) == 2
    assert "give the AMN with --init" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "b")]) == 2
    assert "give it with --init" in capsys.readouterr().err
    assert main([*base, "--init", str(checkpoints["amn"]), "--export-at", "300", "--out", str(tmp_path / "c")]) == 2
    assert "lies past --steps 200" in capsys.readouterr().err
    assert not any((tmp_path / name).exists() for name in "abc")

    out = tmp_path / "fresh"
    assert main([*base, "--init", str(checkpoints["amn"]), "--fresh-head", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["reproduction"] is None and summary["what_if"] == {
        "init": str(checkpoints["amn"]),
        "fresh_head": True,
    }
    assert load_checkpoint(out / "dqn.safetensors").metadata.provenance["fresh_head"] is True


def test_a_transfer_run_kept_as_finished_json_and_logs_is_replayed_too(run_dir, checkpoints, tmp_path, capsys):
    """`amn transfer` keeps finished.json and the CSV logs, not the checkpoint: enough to replay."""
    kept = tmp_path / "road_runner" / "amn-policy" / "seed0"
    kept.mkdir(parents=True)
    state = json.loads((run_dir / "checkpoint" / "state.json").read_text())
    record = {"variant": "amn-policy", "seed": 0, "agent_steps": state["step"], "provenance": state["provenance"],
              "dqn_config": state["config"]}  # fmt: skip
    (kept / "finished.json").write_text(json.dumps(record))
    for name in ("episodes.csv", "evaluations.csv", "training.csv"):
        (kept / name).write_bytes((run_dir / name).read_bytes())
    args = ["diagnose", "dqn", "--run", str(kept), "--init", str(checkpoints["amn"]), "--steps", "300",
            "--probe-states", "8", "--out", str(tmp_path / "out"), "--no-progress"]  # fmt: skip
    assert main(args) == 2
    assert "does not say which game the run played: give --game" in capsys.readouterr().err
    assert main([*args, "--game", "Breakout"]) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["reproduction"]["reproduced"] and summary["recorded_in"].endswith("finished.json")
