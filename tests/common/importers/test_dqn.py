"""Imported DQN experts (SB3, CleanRL) reproduce their source library's own Q-values exactly."""

import numpy as np
import pytest
import torch
from torch import nn

from actor_mimic.common.atari import AtariConfig, make_env
from actor_mimic.common.checkpoint import load_checkpoint, save_checkpoint
from actor_mimic.common.importers import import_cleanrl, import_sb3
from actor_mimic.errors import UserError
from tests.common.importers.conftest import real_stacks

sb3 = pytest.importorskip("stable_baselines3", reason="stable-baselines3 is in the dev extras")


class ChannelsLast(__import__("gymnasium").ObservationWrapper):
    """(4, 84, 84) -> (84, 84, 4): the layout SB3 users get from VecFrameStack."""

    def __init__(self, env):
        import gymnasium as gym

        super().__init__(env)
        self.observation_space = gym.spaces.Box(0, 255, (84, 84, 4), np.uint8)

    def observation(self, observation):
        return np.moveaxis(observation, 0, -1)


@pytest.mark.parametrize("channels_last", [False, True])
def test_sb3_dqn_import_reproduces_sb3_q_values(tmp_path, channels_last):
    torch.set_num_threads(1)
    config = AtariConfig("breakout", noop_max=0)
    env = make_env(config)
    if channels_last:
        env = ChannelsLast(env)
    model = sb3.DQN(
        "CnnPolicy", env, buffer_size=1000, learning_starts=100, train_freq=4, batch_size=16, seed=0, verbose=0
    )
    model.learn(300)  # a few hundred real steps, so the weights are trained, not initial
    model.save(tmp_path / "sb3_breakout.zip")

    expert = import_sb3(tmp_path / "sb3_breakout.zip", config)
    path = save_checkpoint(tmp_path / "imported.safetensors", expert.network, expert.metadata)
    loaded = load_checkpoint(path)
    assert loaded.metadata.provenance["source"] == "stable-baselines3"
    assert loaded.metadata.provenance["algorithm"] == "dqn"
    assert (loaded.metadata.outputs, loaded.metadata.acting) == ("q_values", "greedy")
    assert loaded.metadata.atari["fire_on_reset"] and loaded.metadata.atari["fire_on_life_loss"]  # SB3's protocol

    stacks = real_stacks(config)
    sb3_input = np.moveaxis(stacks, 1, -1) if channels_last else stacks
    with torch.no_grad():
        # SB3's own preprocessing (including its VecTransposeImage for channels-last input)
        observation, _ = model.policy.obs_to_tensor(sb3_input)
        sb3_q = model.policy.q_net(observation)
        ours = loaded.network(torch.from_numpy(stacks))
    assert torch.equal(ours, sb3_q)
    assert np.array_equal(model.predict(sb3_input, deterministic=True)[0], ours.argmax(1).numpy())


def test_sb3_expert_for_another_game_is_refused(tmp_path):
    config = AtariConfig("breakout", noop_max=0)
    model = sb3.DQN("CnnPolicy", make_env(config), buffer_size=100, learning_starts=1000, verbose=0)
    model.save(tmp_path / "m.zip")
    with pytest.raises(UserError, match="4 outputs but pong has 6 actions"):
        import_sb3(tmp_path / "m.zip", AtariConfig("pong"))


def test_not_a_zip_is_refused(tmp_path):
    (tmp_path / "x.zip").write_bytes(b"not a zip")
    with pytest.raises(UserError, match="not a Stable-Baselines3 model zip"):
        import_sb3(tmp_path / "x.zip", AtariConfig("pong"))


class CleanRLQNetwork(nn.Module):
    """The network of CleanRL's dqn_atari.py, as its users save it."""

    def __init__(self, num_actions):
        super().__init__()
        self.network = nn.Sequential(
            nn.Conv2d(4, 32, 8, stride=4), nn.ReLU(),
            nn.Conv2d(32, 64, 4, stride=2), nn.ReLU(),
            nn.Conv2d(64, 64, 3, stride=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(3136, 512), nn.ReLU(), nn.Linear(512, num_actions),
        )  # fmt: skip

    def forward(self, x):
        return self.network(x / 255.0)


def test_cleanrl_import_reproduces_cleanrl_q_values(tmp_path):
    torch.manual_seed(0)
    config = AtariConfig("pong", noop_max=0)
    q_network = CleanRLQNetwork(6)
    torch.save(q_network.state_dict(), tmp_path / "dqn_atari.cleanrl_model")
    expert = import_cleanrl(tmp_path / "dqn_atari.cleanrl_model", config)
    stacks = torch.from_numpy(real_stacks(config, count=16))
    with torch.no_grad():
        assert torch.equal(expert.network(stacks), q_network(stacks))


def test_cleanrl_file_with_other_layers_is_refused(tmp_path):
    torch.save({"encoder.weight": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(UserError, match="unexpected weight 'encoder.weight'"):
        import_cleanrl(tmp_path / "other.pt", AtariConfig("pong"))


def test_a_pickled_object_is_not_unpickled(tmp_path):
    torch.save({"network.0.weight": torch.zeros(1), "code": object()}, tmp_path / "evil.pt")
    with pytest.raises(UserError, match="not a plain tensor state dict"):
        import_cleanrl(tmp_path / "evil.pt", AtariConfig("pong"))
