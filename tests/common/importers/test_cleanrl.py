"""CleanRL's PPO (a PyTorch state dict) imports exactly; its Flax models need Flax (test_flax.py).

The network below is CleanRL's own (`ppo_atari.py`'s Agent), saved the way the script saves
it; outputs are compared on real Breakout stacks: max |difference| <= 1e-5.
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


def test_the_import_command_records_the_protocol_and_says_so(tmp_path, capsys):
    from actor_mimic.cli import main
    from actor_mimic.common.checkpoint import read_metadata

    torch.save(Agent(4).state_dict(), tmp_path / "ppo_atari.cleanrl_model")
    out = tmp_path / "breakout.safetensors"
    args = ["checkpoint", "import-cleanrl", str(tmp_path / "ppo_atari.cleanrl_model"), "--game", "Breakout"]
    assert main([*args, "--out", str(out), "--no-fire-on-life-loss"]) == 0
    printed = capsys.readouterr().out
    assert "the cleanrl PPO expert (logits, acting sample)" in printed
    assert "recorded its environment: FIRE at reset, up to 30 no-op starts" in printed
    meta = read_metadata(out)
    assert meta.atari["fire_on_reset"] is True and meta.atari["fire_on_life_loss"] is False
