"""CleanRL's PPO (PyTorch state dict) and its Flax DQN and PPO models import exactly.

The networks below are CleanRL's own (`ppo_atari.py`'s Agent; `dqn_atari_jax.py`'s QNetwork and
`ppo_atari_envpool_xla_jax_scan.py`'s Network/Actor/Critic), saved the way those scripts save
them; outputs are compared on real Breakout stacks: max |difference| <= 1e-5.
"""

import sys

import numpy as np
import pytest
import torch
from torch import nn
from torch.distributions.categorical import Categorical

from actor_mimic.common.atari import AtariConfig
from actor_mimic.common.importers import import_cleanrl
from actor_mimic.errors import UserError
from tests.common.importers.conftest import real_stacks

BREAKOUT = AtariConfig("breakout", noop_max=0)
TOLERANCE = 1e-5


SQRT2 = float(np.sqrt(2))


def layer_init(layer, std=SQRT2, bias_const=0.0):
    torch.nn.init.orthogonal_(layer.weight, std)
    torch.nn.init.constant_(layer.bias, bias_const)
    return layer


class Agent(nn.Module):
    """ppo_atari.py's (and ppo_atari_envpool.py's) Agent."""

    def __init__(self, num_actions):
        super().__init__()
        self.network = nn.Sequential(
            layer_init(nn.Conv2d(4, 32, 8, stride=4)), nn.ReLU(),
            layer_init(nn.Conv2d(32, 64, 4, stride=2)), nn.ReLU(),
            layer_init(nn.Conv2d(64, 64, 3, stride=1)), nn.ReLU(),
            nn.Flatten(), layer_init(nn.Linear(64 * 7 * 7, 512)), nn.ReLU(),
        )  # fmt: skip
        self.actor = layer_init(nn.Linear(512, num_actions), std=0.01)
        self.critic = layer_init(nn.Linear(512, 1), std=1)

    def get_action_and_value(self, x, action=None):
        hidden = self.network(x / 255.0)
        logits = self.actor(hidden)
        probs = Categorical(logits=logits)
        if action is None:
            action = probs.sample()
        return action, probs.log_prob(action), probs.entropy(), self.critic(hidden)


def test_cleanrl_ppo_state_dict_imports_its_logits(tmp_path):
    torch.manual_seed(0)
    agent = Agent(4)
    with torch.no_grad():  # move the actor off its near-zero initialisation, so logits differ
        agent.actor.weight.normal_(0, 0.1)
    torch.save(agent.state_dict(), tmp_path / "ppo_atari.cleanrl_model")
    expert = import_cleanrl(tmp_path / "ppo_atari.cleanrl_model", BREAKOUT)
    meta = expert.metadata
    assert (meta.outputs, meta.acting, meta.provenance["algorithm"]) == ("logits", "sample", "ppo")
    assert meta.atari["fire_on_reset"] and meta.atari["fire_on_life_loss"]  # CleanRL's Atari wrappers

    stacks = torch.from_numpy(real_stacks(BREAKOUT, count=16))
    with torch.no_grad():
        hidden = agent.network(stacks / 255.0)
        logits = agent.actor(hidden)
        actions = logits.argmax(dim=1)
        _, log_prob, _, _ = agent.get_action_and_value(stacks, actions)
        ours, our_hidden = expert.network(stacks, hidden_layer="fc")
    assert (ours - logits).abs().max() <= TOLERANCE
    assert (our_hidden - hidden).abs().max() <= TOLERANCE
    assert (ours.log_softmax(dim=1).gather(1, actions[:, None])[:, 0] - log_prob).abs().max() <= TOLERANCE


def test_a_flax_file_without_flax_says_what_to_install(tmp_path, monkeypatch):
    (tmp_path / "ppo.cleanrl_model").write_bytes(b"\x82\xa10\x80\xa11\x80")  # a msgpack map, as Flax writes
    monkeypatch.setitem(sys.modules, "flax", None)  # as on a machine without the flax extra
    with pytest.raises(UserError, match=r"reading it needs Flax: pip install 'actor-mimic\[flax\]'$"):
        import_cleanrl(tmp_path / "ppo.cleanrl_model", BREAKOUT)


flax = pytest.importorskip("flax", reason="flax is in the dev extras")


def _flax_networks(num_actions):
    """CleanRL's Flax modules: dqn_atari_jax's QNetwork, ppo_..._jax_scan's Network and Actor."""
    import flax.linen as fnn
    import jax.numpy as jnp

    def torso(x):
        x = jnp.transpose(x, (0, 2, 3, 1))
        x = x / (255.0)
        x = fnn.relu(fnn.Conv(32, kernel_size=(8, 8), strides=(4, 4), padding="VALID")(x))
        x = fnn.relu(fnn.Conv(64, kernel_size=(4, 4), strides=(2, 2), padding="VALID")(x))
        x = fnn.relu(fnn.Conv(64, kernel_size=(3, 3), strides=(1, 1), padding="VALID")(x))
        x = x.reshape((x.shape[0], -1))
        return fnn.relu(fnn.Dense(512)(x))

    class QNetwork(fnn.Module):
        action_dim: int

        @fnn.compact
        def __call__(self, x):
            hidden = torso(x)  # built first: Flax names layers in the order they are made
            return fnn.Dense(self.action_dim)(hidden)

    class Network(fnn.Module):
        @fnn.compact
        def __call__(self, x):
            return torso(x)

    class Head(fnn.Module):  # the Actor (action_dim outputs) and the Critic (1)
        size: int

        @fnn.compact
        def __call__(self, x):
            return fnn.Dense(self.size)(x)

    return QNetwork(num_actions), Network(), Head(num_actions), Head(1)


def test_cleanrl_flax_dqn_and_ppo_import_their_outputs(tmp_path):
    import jax
    import jax.numpy as jnp
    from flax import serialization

    q_network, network, actor, critic = _flax_networks(4)
    stacks = real_stacks(BREAKOUT, count=16)
    frames = jnp.asarray(stacks)
    keys = jax.random.split(jax.random.PRNGKey(0), 4)

    q_params = q_network.init(keys[0], frames[:1])  # {"params": ...}, as dqn_atari_jax saves q_state.params
    (tmp_path / "dqn.cleanrl_model").write_bytes(serialization.to_bytes(q_params))
    dqn = import_cleanrl(tmp_path / "dqn.cleanrl_model", BREAKOUT)
    assert (dqn.metadata.outputs, dqn.metadata.provenance["format"]) == ("q_values", "flax")
    with torch.no_grad():
        ours = dqn.network(torch.from_numpy(stacks)).numpy()
    assert np.abs(ours - np.asarray(q_network.apply(q_params, frames))).max() <= TOLERANCE

    network_params = network.init(keys[1], frames[:1])
    hidden = network.apply(network_params, frames)
    actor_params, critic_params = actor.init(keys[2], hidden), critic.init(keys[3], hidden)
    args = {"env_id": "Breakout-v5", "exp_name": "ppo_atari_envpool_xla_jax_scan", "target_kl": None}
    document = serialization.to_bytes([args, [network_params, actor_params, critic_params]])
    (tmp_path / "ppo.cleanrl_model").write_bytes(document)
    ppo = import_cleanrl(tmp_path / "ppo.cleanrl_model", BREAKOUT)
    assert (ppo.metadata.outputs, ppo.metadata.acting, ppo.metadata.provenance["env_id"]) == (
        "logits", "sample", "Breakout-v5")  # fmt: skip
    with torch.no_grad():
        logits, our_hidden = ppo.network(torch.from_numpy(stacks), hidden_layer="fc")
    assert np.abs(logits.numpy() - np.asarray(actor.apply(actor_params, hidden))).max() <= TOLERANCE
    assert np.abs(our_hidden.numpy() - np.asarray(hidden)).max() <= TOLERANCE


def test_a_flax_file_of_another_network_is_refused(tmp_path):
    from flax import serialization

    (tmp_path / "other.cleanrl_model").write_bytes(serialization.to_bytes({"params": {"Dense_0": {}}}))
    with pytest.raises(UserError, match="no floating-point Conv_0/kernel weights"):
        import_cleanrl(tmp_path / "other.cleanrl_model", BREAKOUT)
