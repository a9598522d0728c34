"""A few hundred real Breakout steps: seeded runs reproduce, resumed runs continue bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from actor_mimic.common.atari import AtariConfig
from actor_mimic.transfer import run_state
from actor_mimic.transfer.config import DQNConfig, epsilon_at, preset
from actor_mimic.transfer.initialisation import fresh_network
from actor_mimic.transfer.learner import DQNLearner
from actor_mimic.transfer.logs import read_csv

ATARI = AtariConfig("breakout", max_episode_frames=400)  # 100-step episodes: boundaries happen


def tiny_config(**overrides) -> DQNConfig:
    settings = dict(
        total_steps=360, num_envs=2, learning_starts=120, replay_capacity=400, batch_size=8,
        train_every=4, target_update_updates=10, n_step=3, double_dqn=True, epsilon_decay_steps=300,
        eval_every=10**9, checkpoint_every_minutes=10**6,
    )  # fmt: skip
    return preset("cheap", **{**settings, **overrides})


def train(run_dir, until: int, **overrides) -> DQNLearner:
    config = tiny_config(**overrides)
    learner = DQNLearner(ATARI, config, fresh_network(ATARI, seed=config.seed), run_dir, tensorboard=False)
    learner.run(until)
    return learner


def weights(learner: DQNLearner) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in learner.online.state_dict().items()}


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    learner = train(tmp_path_factory.mktemp("whole"), 360)
    yield learner
    learner.close()


def test_the_learner_learns_and_counts(uninterrupted):
    learner = uninterrupted
    assert learner.step >= 360
    # One update per 4 agent steps once 120 steps are done (reset steps are not agent steps).
    assert learner.updates == (learner.step - 120) // 4 + 1
    assert learner.episodes_finished >= 2
    fresh = fresh_network(ATARI, seed=0).network.state_dict()
    assert any(not torch.equal(fresh[k], v) for k, v in learner.online.state_dict().items())
    # The target network is the online network as of the last multiple of 10 updates.
    assert learner.updates % 10 != 0 or torch.equal(learner.target.head.weight, learner.online.head.weight)


def test_same_seed_same_weights_other_seed_other_weights(uninterrupted, tmp_path):
    again = train(tmp_path / "again", 360)
    assert_same_weights(weights(again), weights(uninterrupted))
    assert again.step == uninterrupted.step
    again.close()
    other = train(tmp_path / "other", 200, seed=1)
    assert not torch.equal(other.online.head.weight, uninterrupted.online.head.weight)
    other.close()


def test_update_hooks_see_every_update_and_change_nothing(uninterrupted, tmp_path):
    config = tiny_config()
    learner = DQNLearner(ATARI, config, fresh_network(ATARI, seed=config.seed), tmp_path, tensorboard=False)
    seen = []
    learner.update_hooks.append(
        lambda s: seen.append((s.update, s.loss, s.mean_q, s.q_taken.shape, len(s.batch.actions)))
    )
    learner.run(360)
    assert [update for update, *_ in seen] == list(range(1, learner.updates + 1))
    assert all(shape == (8,) and batch == 8 for *_, shape, batch in seen)
    assert seen[-1][1:3] == (learner.learning.last_loss, learner.learning.last_mean_q)
    assert_same_weights(weights(learner), weights(uninterrupted))  # a hook that only reads changes nothing
    learner.close()


def test_resume_after_a_kill_continues_bit_for_bit(uninterrupted, tmp_path):
    stopped = train(tmp_path / "second", 200)  # run() leaves a checkpoint when it returns
    stopped_at = stopped.step
    stopped.close()  # the process ends: only the run dir remains
    del stopped
    resumed = DQNLearner.resume(tmp_path / "second", tensorboard=False)
    assert resumed.step == stopped_at
    resumed.run(360)
    assert resumed.step == uninterrupted.step and resumed.updates == uninterrupted.updates
    assert_same_weights(weights(resumed), weights(uninterrupted))
    assert_same_weights(resumed.target.state_dict(), uninterrupted.target.state_dict())
    for a, b in zip(resumed.optimizer.state_dict()["state"].values(),
                    uninterrupted.optimizer.state_dict()["state"].values()):  # fmt: skip
        assert torch.equal(a["exp_avg_sq"], b["exp_avg_sq"])

    def episodes(run_dir):  # wall-clock times differ, the episodes do not
        return [(r["step"], r["env"], r["return"], r["length"]) for r in read_csv(run_dir / "episodes.csv")]

    assert episodes(tmp_path / "second") == episodes(uninterrupted.run_dir)
    resumed.close()


def test_resume_drops_log_rows_written_after_the_checkpoint(tmp_path):
    learner = train(tmp_path, 200)
    saved_step = learner.step
    learner.save()
    # Keep playing without saving: rows land in the logs, the checkpoint stays at saved_step.
    for _ in range(150):
        learner.env_step(learner.act(learner.frames, 1.0))
    learner.logger.flush()
    assert max(row["step"] for row in read_csv(tmp_path / "episodes.csv")) > saved_step
    learner.env.close()
    learner.run_lock.release()  # as if the process had died: the OS drops its lock
    resumed = DQNLearner.resume(tmp_path, tensorboard=False)
    assert resumed.step == saved_step
    assert all(row["step"] <= saved_step for row in read_csv(tmp_path / "episodes.csv"))
    resumed.close()


def test_epsilon_schedule():
    config = DQNConfig(epsilon_start=1.0, epsilon_end=0.1, epsilon_decay_steps=1000)
    assert [epsilon_at(config, s) for s in (0, 500, 1000, 5000)] == pytest.approx([1.0, 0.55, 0.1, 0.1])
    assert epsilon_at(DQNConfig(epsilon_decay_steps=0, epsilon_end=0.2), 0) == 0.2


def test_paper_preset_is_the_papers_settings():
    paper = preset("paper")
    assert (paper.optimizer, paper.learning_rate, paper.epsilon_end, paper.epsilon_decay_steps) == (
        "rmsprop",
        0.00025,
        0.1,
        1_000_000,
    )
    assert (paper.replay_capacity, paper.batch_size, paper.target_update_updates,
            paper.learning_starts, paper.discount, paper.huber_delta) == (
        1_000_000, 32, 10_000, 50_000, 0.99, 1.0)  # fmt: skip
    assert (paper.n_step, paper.double_dqn, paper.clip_rewards) == (1, False, True)


def test_checkpoint_holds_no_pickled_objects(uninterrupted):
    directory = uninterrupted.run_dir / "checkpoint"
    state = torch.load(directory / "optimizer.pt", weights_only=True)
    assert set(state) == {"state", "param_groups"}
    assert np.load(directory / "actions.npy", allow_pickle=False).shape[1] == 2


def test_a_stop_request_or_the_wall_clock_limit_saves_and_returns_early(tmp_path):
    learner = DQNLearner(ATARI, tiny_config(), fresh_network(ATARI), tmp_path / "a", tensorboard=False)
    learner.stop_requested = True  # what the SIGTERM handler of `amn train-dqn` sets
    assert learner.run() is False
    assert learner.provenance["stopped_early"] == "signal"
    assert run_state.read_state(run_state.checkpoint_dir(tmp_path / "a"))["step"] == learner.step > 0
    learner.close()
    limited = DQNLearner(ATARI, tiny_config(max_wall_minutes=1e-9), fresh_network(ATARI), tmp_path / "b",
                         tensorboard=False)  # fmt: skip
    assert limited.run() is False and limited.provenance["stopped_early"] == "wall-clock limit"
    limited.close()


def test_a_kill_between_the_renames_leaves_the_previous_checkpoint(uninterrupted, tmp_path):
    import shutil

    shutil.copytree(uninterrupted.run_dir / "checkpoint", tmp_path / "checkpoint.old")
    (tmp_path / "checkpoint.partial").mkdir()  # an unfinished write: no state.json
    assert run_state.checkpoint_dir(tmp_path) == tmp_path / "checkpoint.old"
    assert run_state.checkpoint_dir(tmp_path / "nothing") is None


def test_fire_presses_are_logged_as_the_actions_played(tmp_path):
    """Under FIRE at reset (an imported agent's protocol), each episode's first agent step
    plays and logs FIRE, whatever epsilon-greedy chose; the resume replays that log."""
    import dataclasses

    fired = dataclasses.replace(ATARI, fire_on_reset=True, noop_max=0)
    config = tiny_config(total_steps=240)
    learner = DQNLearner(fired, config, fresh_network(fired, seed=0), tmp_path, tensorboard=False)
    learner.run(240)
    actions = learner.actor.recorded_actions()  # (vector steps, envs): indices into [NOOP, FIRE, RIGHT, LEFT]
    learner.close()
    assert (actions[0] == 1).all()  # both envs' first step
    # 100-step episodes (400 frames), then the autoreset step: the next episode's first step fires
    assert (actions[101] == 1).all() and not (actions[1:100] == 1).all(axis=1).all()
