"""`amn diagnose play`: every step the student played, labelled; each lost life as the game
counts it; agreement and KL that the saved arrays reproduce by hand."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from actor_mimic.cli import main
from actor_mimic.common.atari import make_env
from actor_mimic.common.checkpoint import load_checkpoint
from actor_mimic.distill.losses import greedy_agreement, kl_expert_amn
from tests.pipelines.diagnosis.conftest import BREAKOUT, PLAY, TAU


def read_csv(path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_each_lost_life_is_the_games_own_and_its_states_are_kept(diagnosis):
    from PIL import Image

    folder = diagnosis / "breakout"
    steps = dict(np.load(folder / "steps.npz", allow_pickle=False))
    deaths = dict(np.load(folder / "deaths.npz", allow_pickle=False))
    summary = json.loads((folder / "summary.json").read_text())
    count = len(steps["actions"])
    assert count >= 300 and (steps["envs"] == 0).all()  # one environment, the budget played

    # The single-env reference path, given the recorded actions, loses the same lives at the
    # same steps, earns the same rewards and shows the kept stacks byte for byte.
    env = make_env(BREAKOUT)
    observation, info = env.reset(seed=3)
    lives, score, kept = info["lives"], 0.0, {}
    for death, rows in enumerate(deaths["rows"]):
        for position, row in enumerate(rows):
            if row >= 0:
                kept[int(row)] = (death, position)
    lost_at = []
    for t in range(count):
        assert steps["episode_steps"][t] == (0 if t == 0 or steps["episodes"][t] != steps["episodes"][t - 1]
                                             else steps["episode_steps"][t - 1] + 1)  # fmt: skip
        assert steps["scores"][t] == score and steps["lives"][t] == lives
        if t in kept:
            np.testing.assert_array_equal(deaths["stacks"][kept[t]], observation)
        observation, reward, terminated, truncated, info = env.step(int(steps["actions"][t]))
        assert steps["rewards"][t] == reward
        if info["lives"] < lives:
            lost_at.append(t)
        lives, score = info["lives"], score + reward
        if terminated or truncated:
            observation, info = env.reset()
            lives, score = info["lives"], 0.0
    env.close()
    assert np.flatnonzero(steps["life_lost"]).tolist() == lost_at
    assert len(lost_at) >= 3, "the diagnosis should have seen lives lost"

    # One record, strip and GIF per lost life, with at most --before-death states each: the
    # fatal one last, every one of its episode (an episode younger than 6 keeps fewer).
    rows = read_csv(folder / "deaths.csv")
    assert len(rows) == len(lost_at) == summary["lives_lost"] == deaths["stacks"].shape[0]
    for death, t in enumerate(lost_at):
        episode_start = t - steps["episode_steps"][t]
        expected = list(range(max(episode_start, t - 5), t + 1))
        assert deaths["rows"][death][deaths["valid"][death]].tolist() == expected
        assert int(rows[death]["frames"]) == len(expected) and int(rows[death]["step"]) == t
        with Image.open(folder / "deaths" / f"death-{death:03d}.gif") as gif:
            assert gif.n_frames == len(expected)
        with Image.open(folder / "deaths" / f"death-{death:03d}.png") as strip:
            assert strip.format == "PNG" and strip.width > 6 * 84
    assert deaths["stacks"].shape[1:] == (6, 4, 84, 84)
    assert summary["scores_at_lost_lives"] == [steps["scores"][t] for t in lost_at]


def test_agreement_and_kl_by_hand_from_the_saved_outputs_and_probabilities(diagnosis, checkpoints):
    folder = diagnosis / "breakout"
    steps = dict(np.load(folder / "steps.npz", allow_pickle=False))
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["tau"] == TAU and summary["student_tau"] == 1.0  # the AMN's distillation tau

    # The training's own metrics, on the student's states: the same numbers.
    student, teacher = torch.from_numpy(steps["student_outputs"]), torch.from_numpy(steps["teacher_outputs"])
    mask = torch.ones_like(student, dtype=torch.bool)
    assert summary["kl"] == pytest.approx(float(kl_expert_amn(student, teacher, mask, TAU).double().mean()), rel=1e-5)
    assert summary["agreement"] == float(greedy_agreement(student, teacher, mask).double().mean())
    # And by hand from the saved probabilities.
    p_student, p_teacher = steps["student_probs"].astype(np.float64), steps["teacher_probs"].astype(np.float64)
    agree = p_student.argmax(axis=1) == p_teacher.argmax(axis=1)
    assert summary["agreement"] == agree.mean()
    kl = (p_teacher * (np.log(p_teacher) - np.log(p_student))).sum(axis=1)
    assert summary["kl"] == pytest.approx(kl.mean(), rel=1e-4)

    # The teacher's labels are the expert's outputs on those very states (the kept stacks).
    deaths = dict(np.load(folder / "deaths.npz", allow_pickle=False))
    rows, stacks = deaths["rows"][deaths["valid"]], deaths["stacks"][deaths["valid"]]
    expert = load_checkpoint(checkpoints["expert"]).network.eval()
    with torch.no_grad():
        labels = expert(torch.from_numpy(stacks)).numpy()
    np.testing.assert_allclose(steps["teacher_outputs"][rows], labels, rtol=0, atol=1e-6)

    # Binned by episode step: the counts add up, each bin's mean is its states' mean.
    by_step = read_csv(folder / "by_step.csv")
    assert sum(int(row["steps"]) for row in by_step) == len(agree)
    assert sum(int(row["lives_lost"]) for row in by_step) == summary["lives_lost"]
    for row in by_step:
        inside = (steps["episode_steps"] >= float(row["low"])) & (steps["episode_steps"] < float(row["high"]))
        assert int(row["steps"]) == inside.sum()
        if inside.any():
            assert float(row["agreement"]) == pytest.approx(agree[inside].mean())
    by_score = read_csv(folder / "by_score.csv")  # Breakout's scores are whole: whole bins
    assert all(float(row["high"]) - float(row["low"]) == 1.0 for row in by_score)
    table = read_csv(diagnosis / "diagnosis.csv")
    assert [row["game"] for row in table] == ["breakout"]
    assert float(table[0]["agreement"]) == pytest.approx(summary["agreement"])


def test_a_student_alone_plays_whole_episodes_and_loses_its_five_lives(checkpoints, tmp_path, capsys):
    out = tmp_path / "alone"
    args = ["diagnose", "play", "--student", str(checkpoints["amn"]), "--out", str(out), "--episodes", "1",
            "--num-envs", "1", "--epsilon", "0.25", "--before-death", "4", "--no-progress"]  # fmt: skip
    assert main(args) == 0
    summary = json.loads((out / "breakout" / "summary.json").read_text())
    assert summary["episodes"] == 1 and summary["episodes_cut"] == 0
    assert summary["lives_lost"] == 5 and len(summary["scores_at_last_life"]) == 1  # Breakout: 5 lives, then over
    assert summary["agreement"] is None and summary["teacher"] is None
    steps = np.load(out / "breakout" / "steps.npz", allow_pickle=False)
    assert "teacher_outputs" not in steps and len(steps["actions"]) == summary["steps"]
    outputs = steps["student_outputs"].astype(np.float64)  # an AMN's policy: the plain softmax of its logits
    softmax = np.exp(outputs - outputs.max(axis=1, keepdims=True))
    np.testing.assert_allclose(steps["student_probs"], softmax / softmax.sum(axis=1, keepdims=True), rtol=1e-6)
    assert len(list((out / "breakout" / "deaths").glob("*.gif"))) == 5
    capsys.readouterr()

    # Results are replaced only with --overwrite, and the same seed plays the same steps.
    before = steps["actions"].copy()
    assert main(args) == 2
    assert "already exists: pass --overwrite" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0
    np.testing.assert_array_equal(np.load(out / "breakout" / "steps.npz")["actions"], before)


def test_a_diagnosis_is_refused_before_anything_is_played(checkpoints, tmp_path, capsys):
    base = ["diagnose", "play", "--student", str(checkpoints["amn"]), "--out", str(tmp_path / "out"), *PLAY]
    assert main([*base, "--games", "pong"]) == 2
    assert "cannot diagnose pong: the student does not play it" in capsys.readouterr().err
    assert main([*base, "--experts", str(checkpoints["amn"])]) == 2
    assert "--experts takes expert checkpoints" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
