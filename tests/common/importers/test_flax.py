"""CleanRL's Flax models (its JAX scripts' `*.cleanrl_model`) import exactly, read through Flax.

The networks below are CleanRL's own (`dqn_atari_jax.py`'s QNetwork and
`ppo_atari_envpool_xla_jax_scan.py`'s Network/Actor/Critic), written with
`flax.serialization.to_bytes` as those scripts write them; outputs are compared on real
Breakout stacks: max |difference| <= 1e-5.
"""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from actor_mimic.common.atari import AtariConfig
from actor_mimic.common.importers import import_cleanrl
from actor_mimic.errors import UserError
from tests.common.importers.conftest import real_stacks

BREAKOUT = AtariConfig("breakout", noop_max=0)
TOLERANCE = 1e-5

# JAX, once imported, keeps threads and fork hooks in the process; in the test process they
# broke pytest's output capture of later tests that start subprocesses (submitit's local
# executor). So the tests below run in a pytest process of their own, started by the last test.
IN_OWN_PROCESS = os.environ.get("AMN_TEST_FLAX_PROCESS") == "1"
pytestmark = pytest.mark.skipif(importlib.util.find_spec("flax") is None, reason="flax is in the dev extras")
in_own_process = pytest.mark.skipif(not IN_OWN_PROCESS, reason="run in their own process (the last test)")


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


@in_own_process
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


@in_own_process
def test_a_flax_file_of_another_network_is_refused(tmp_path):
    from flax import serialization

    (tmp_path / "other.cleanrl_model").write_bytes(serialization.to_bytes({"params": {"Dense_0": {}}}))
    with pytest.raises(UserError, match="no floating-point Conv_0/kernel weights"):
        import_cleanrl(tmp_path / "other.cleanrl_model", BREAKOUT)


@pytest.mark.skipif(IN_OWN_PROCESS, reason="this process is the one it starts")
def test_the_flax_tests_pass_in_a_process_of_their_own():
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", os.path.abspath(__file__)],
        cwd=repo, env={**os.environ, "AMN_TEST_FLAX_PROCESS": "1"}, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "2 passed, 1 skipped" in result.stdout, result.stdout[-2000:]
