"""`amn evaluate`: experts and an AMN in the real games, the paper's table, and refusals."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from actor_mimic.cli import main
from actor_mimic.common.atari import AtariConfig, action_set
from actor_mimic.common.checkpoint import CheckpointMetadata, load_checkpoint, random_init_expert, save_checkpoint
from actor_mimic.common.evaluation import evaluate
from actor_mimic.common.networks import NatureDQN

BUDGET = ["--steps", "120", "--num-envs", "2", "--seed", "5", "--no-progress"]


def save_amn(path, games: list[str], seed: int = 0) -> str:
    """An untrained AMN checkpoint (18 outputs) for `games`."""
    torch.manual_seed(seed)
    settings = {k: v for k, v in AtariConfig(games[0]).to_dict().items() if k != "game"}
    metadata = CheckpointMetadata(
        kind="amn", architecture="nature_dqn", num_actions=18, games=games,
        action_sets={g: list(action_set(AtariConfig(g))) for g in games}, atari=settings,
    )  # fmt: skip
    return str(save_checkpoint(path, NatureDQN(18), metadata))


@pytest.fixture(scope="module")
def amn(tmp_path_factory):
    return save_amn(tmp_path_factory.mktemp("amn") / "amn.safetensors", ["pong", "breakout"])


def test_table_of_experts_and_amn_matches_direct_evaluation(amn, experts, tmp_path, capsys):
    out = tmp_path / "results"
    args = ["evaluate", "--amn", amn, "--experts", str(experts["pong"]), str(experts["breakout"]), "--out", str(out)]
    assert main(args + BUDGET) == 0
    printed = capsys.readouterr().out
    assert "AMN % of expert" in printed and "breakout" in printed

    with open(out / "evaluation.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["game"] for row in rows] == ["pong", "breakout"]
    runs = json.loads((out / "evaluation.json").read_text())["runs"]
    assert [(r["game"], r["role"]) for r in runs] == [
        ("pong", "expert"), ("pong", "amn"), ("breakout", "expert"), ("breakout", "amn"),
    ]  # fmt: skip

    # The results are not replaced without --overwrite, checked before any game is played.
    table = (out / "evaluation.csv").read_bytes()
    assert main(args + BUDGET) == 2
    assert "evaluation.csv already exists: pass --overwrite" in capsys.readouterr().err
    assert (out / "evaluation.csv").read_bytes() == table
    assert main(args + BUDGET + ["--overwrite"]) == 0
    assert (out / "evaluation.csv").read_bytes() == table  # same seed, same scores
    assert sorted(p.name for p in out.iterdir()) == ["evaluation.csv", "evaluation.json"]

    # The same protocol called directly gives exactly the same scores.
    network = load_checkpoint(amn).network
    direct = evaluate(network, AtariConfig("pong"), list(range(18)), steps=120, num_envs=2, seed=5)
    assert runs[1]["returns"] == direct.returns and runs[1]["mean"] == direct.mean
    assert float(rows[0]["amn_mean"]) == direct.mean
    expert_mean = float(rows[0]["expert_mean"])
    if expert_mean != 0:
        assert float(rows[0]["amn_percent_of_expert"]) == pytest.approx(100 * direct.mean / expert_mean)
    else:
        assert rows[0]["amn_percent_of_expert"] == ""


def test_random_policy_column_and_the_amns_share_of_the_gap(amn, experts, tmp_path, capsys):
    out = tmp_path / "results"
    args = ["evaluate", "--amn", amn, "--experts", str(experts["breakout"]), "--games", "breakout", "--random"]
    assert main(args + BUDGET + ["--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "random" in printed.splitlines()[0] and "AMN % of gap" in printed
    runs = json.loads((out / "evaluation.json").read_text())["runs"]
    assert [r["role"] for r in runs] == ["random", "expert", "amn"]
    # The random policy is any network played with epsilon 1: the same returns, seed for seed.
    expert = load_checkpoint(experts["breakout"])
    config = AtariConfig("breakout")
    direct = evaluate(expert.network, config, list(action_set(config)), steps=120, num_envs=2, seed=5, epsilon=1.0)
    assert runs[0]["returns"] == direct.returns and runs[0]["epsilon"] == 1.0
    with open(out / "evaluation.csv") as handle:
        (row,) = list(csv.DictReader(handle))
    random_mean, expert_mean, amn_mean = (runs[i]["mean"] for i in range(3))
    assert float(row["random_mean"]) == random_mean
    if expert_mean != random_mean:
        gap = 100 * (amn_mean - random_mean) / (expert_mean - random_mean)
        assert float(row["amn_percent_of_gap"]) == pytest.approx(gap)
    else:
        assert row["amn_percent_of_gap"] == ""


def test_video_writes_an_animated_gif(experts, tmp_path):
    from PIL import Image

    video = tmp_path / "video"
    args = ["evaluate", "--experts", str(experts["breakout"]), "--video", str(video), "--video-steps", "12"]
    assert main(args + BUDGET) == 0
    with Image.open(video / "breakout-expert.gif") as gif:
        assert gif.size == (160, 210) and gif.n_frames > 1
        total_ms = 0
        for index in range(gif.n_frames):  # Pillow merges identical frames, adding durations
            gif.seek(index)
            total_ms += gif.info["duration"]
    assert total_ms == 13 * 70  # the reset frame and 12 steps


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("amn evaluate: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_refusals(amn, experts, tmp_path, capsys):
    pong_only = save_amn(tmp_path / "pong-amn.safetensors", ["pong"])
    assert main(["evaluate", "--amn", amn, "--games", "space_invaders", *BUDGET]) == 2
    assert "not trained on" in _one_error_line(capsys)

    assert main(["evaluate", "--amn", pong_only, "--experts", str(experts["breakout"]), *BUDGET]) == 2
    assert "which the AMN was not trained on" in _one_error_line(capsys)

    other = random_init_expert(AtariConfig("pong", frame_skip=3))
    other_path = save_checkpoint(tmp_path / "pong-fs3.safetensors", other.network, other.metadata)
    assert main(["evaluate", "--amn", pong_only, "--experts", str(other_path), *BUDGET]) == 2
    assert "differ in frame_skip" in _one_error_line(capsys)

    assert main(["evaluate", "--amn", str(experts["pong"]), *BUDGET]) == 2
    assert "--amn takes amn checkpoints" in _one_error_line(capsys)

    assert main(["evaluate", "--experts", str(experts["pong"]), str(experts["pong"]), *BUDGET]) == 2
    assert "two experts for pong" in _one_error_line(capsys)

    assert main(["evaluate", *BUDGET]) == 2
    assert "nothing to evaluate" in _one_error_line(capsys)

    assert main(["evaluate", "--amn", amn, "--torch-threads", "0", *BUDGET]) == 2
    assert "--torch-threads" in _one_error_line(capsys)


def test_the_command_sets_torch_threads(amn, tmp_path):
    before = torch.get_num_threads()
    try:
        assert main(["evaluate", "--amn", amn, "--games", "pong", "--torch-threads", "2", *BUDGET]) == 0
        assert torch.get_num_threads() == 2
        assert main(["evaluate", "--amn", amn, "--games", "pong", *BUDGET]) == 0
        assert torch.get_num_threads() == 1, "one thread by default"
    finally:
        torch.set_num_threads(before)


def test_settings_from_a_config_file_reach_the_run_and_flags_override_them(experts, tmp_path, capsys):
    config = tmp_path / "evaluate.yaml"
    config.write_text(f"experts: [{experts['breakout']}]\nsteps: 24\nnum_envs: 1\nepsilon: 0.5\nseed: 7\n"
                      f"progress: false\nout: {tmp_path / 'results'}\n")  # fmt: skip
    assert main(["evaluate", "--config", str(config)]) == 0
    [run] = json.loads((tmp_path / "results" / "evaluation.json").read_text())["runs"]
    assert (run["game"], run["steps"], run["epsilon"], run["seed"]) == ("breakout", 24, 0.5, 7)

    assert main(["evaluate", "--steps", "16", "--config", str(config), "--seed", "8", "--overwrite"]) == 0
    [run] = json.loads((tmp_path / "results" / "evaluation.json").read_text())["runs"]
    assert (run["steps"], run["epsilon"], run["seed"]) == (16, 0.5, 8)


def test_episodes_cut_by_the_time_limit_are_reported(tmp_path, capsys):
    # An expert whose Atari settings cut episodes at 400 emulator frames (100 agent steps).
    expert = random_init_expert(AtariConfig("pong", noop_max=0, max_episode_frames=400), seed=0)
    path = save_checkpoint(tmp_path / "pong.safetensors", expert.network, expert.metadata)
    out = tmp_path / "results"
    assert main(["evaluate", "--experts", str(path), "--episodes", "2", "--num-envs", "2", "--epsilon", "0",
                 "--no-progress", "--out", str(out)]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "note: 2 of the 2 pong episodes of the expert were cut by the time limit (400 emulator frames)" in printed
    (run,) = json.loads((out / "evaluation.json").read_text())["runs"]
    assert run["lengths"] == [100, 100] and run["num_truncated"] == 2


def test_a_logit_teacher_samples_under_its_recorded_fire_protocol_unless_told_otherwise(tmp_path, capsys):
    """A PPO-like teacher that records sampling and SB3's FIRE protocol is played so, and the
    command says so; --acting greedy and --no-fire-on-... play otherwise, and say that too."""
    import dataclasses

    expert = random_init_expert(AtariConfig("breakout", fire_on_reset=True, fire_on_life_loss=True), seed=3)
    metadata = dataclasses.replace(expert.metadata, outputs="logits", acting="sample")
    teacher = str(save_checkpoint(tmp_path / "ppo.safetensors", expert.network, metadata))

    assert main(["evaluate", "--experts", teacher, "--out", str(tmp_path / "as-recorded"), *BUDGET]) == 0
    printed = capsys.readouterr().out
    assert "breakout: playing with FIRE at reset and after a lost life, up to 30 no-op starts" in printed
    assert f"(the protocol {teacher} records)" in printed
    run = json.loads((tmp_path / "as-recorded" / "evaluation.json").read_text())["runs"][0]
    assert run["acting"] == "sample"

    other = ["--acting", "greedy", "--no-fire-on-reset", "--no-fire-on-life-loss"]
    assert main(["evaluate", "--experts", teacher, "--out", str(tmp_path / "told"), *other, *BUDGET]) == 0
    printed = capsys.readouterr().out
    assert "breakout: playing with no FIRE presses" in printed
    assert "(--no-fire-on-reset --no-fire-on-life-loss over the protocol" in printed
    run = json.loads((tmp_path / "told" / "evaluation.json").read_text())["runs"][0]
    assert run["acting"] == "greedy"
    config = AtariConfig("breakout")
    direct = evaluate(load_checkpoint(teacher).network, config, list(action_set(config)), steps=120, num_envs=2,
                      seed=5)  # fmt: skip
    assert run["returns"] == direct.returns  # greedy, no FIRE: the toolkit's own protocol
