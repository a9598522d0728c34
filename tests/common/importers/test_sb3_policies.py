"""SB3 PPO and A2C (logits) and sb3-contrib QR-DQN (Q-values from quantiles) import exactly.

Each test trains a real model for a few steps with the library itself, saves its zip the way
users do, imports it and compares outputs on real Breakout stacks with the library's own
forward pass: max |difference| <= 1e-5.
"""

import numpy as np
import pytest
import torch

from actor_mimic.common.atari import AtariConfig, make_env
from actor_mimic.common.checkpoint import load_checkpoint, save_checkpoint
from actor_mimic.common.importers import import_sb3
from actor_mimic.errors import UserError
from tests.common.importers.conftest import real_stacks

sb3 = pytest.importorskip("stable_baselines3", reason="stable-baselines3 is in the dev extras")
sb3_contrib = pytest.importorskip("sb3_contrib", reason="sb3-contrib is in the dev extras")

BREAKOUT = AtariConfig("breakout", noop_max=0)
TOLERANCE = 1e-5


def _round_trip(model, tmp_path):
    """Save with SB3, import, write our checkpoint and load it back (float32)."""
    model.save(tmp_path / "model.zip")
    expert = import_sb3(tmp_path / "model.zip", BREAKOUT)
    return load_checkpoint(save_checkpoint(tmp_path / "imported.safetensors", expert.network, expert.metadata))


def test_qrdqn_imports_as_the_mean_over_its_quantiles(tmp_path):
    model = sb3_contrib.QRDQN("CnnPolicy", make_env(BREAKOUT), buffer_size=1000, learning_starts=100,
                              train_freq=4, batch_size=16, seed=0, verbose=0)  # fmt: skip
    model.learn(120)  # a few updates: trained weights, not initial ones
    loaded = _round_trip(model, tmp_path)
    meta = loaded.metadata
    assert (meta.outputs, meta.acting) == ("q_values", "greedy")
    assert meta.provenance["library"] == "sb3-contrib" and meta.provenance["algorithm"] == "qrdqn"
    assert meta.provenance["num_quantiles"] == model.policy.n_quantiles == 200

    stacks = real_stacks(BREAKOUT)
    with torch.no_grad():
        observation, _ = model.policy.obs_to_tensor(stacks)
        quantiles = model.policy.quantile_net(observation)  # (B, quantiles, actions): QR-DQN's own output
        ours = loaded.network(torch.from_numpy(stacks))
    assert quantiles.shape == (32, 200, 4)
    assert (ours - quantiles.mean(dim=1)).abs().max() <= TOLERANCE
    assert np.array_equal(model.predict(stacks, deterministic=True)[0], ours.argmax(1).numpy())


@pytest.mark.parametrize(
    "algorithm, share",
    [("ppo", True), ("ppo", False), ("a2c", True), ("a2c", False)],
    ids=["ppo-shared", "ppo-separate", "a2c-shared", "a2c-separate"],
)
def test_actor_critic_imports_its_action_logits_and_policy_features(tmp_path, algorithm, share):
    kwargs = {"n_steps": 32, "batch_size": 32, "n_epochs": 1} if algorithm == "ppo" else {"n_steps": 8}
    algo = {"ppo": sb3.PPO, "a2c": sb3.A2C}[algorithm]
    model = algo("CnnPolicy", make_env(BREAKOUT), seed=0, verbose=0,
                 policy_kwargs={"share_features_extractor": share}, **kwargs)  # fmt: skip
    model.learn(64)
    loaded = _round_trip(model, tmp_path)
    meta = loaded.metadata
    assert (meta.outputs, meta.acting) == ("logits", "sample")  # RL Zoo samples PPO/A2C actions on Atari
    assert (meta.provenance["library"], meta.provenance["algorithm"]) == ("stable-baselines3", algorithm)

    policy = model.policy
    stacks = real_stacks(BREAKOUT)
    with torch.no_grad():
        observation, _ = policy.obs_to_tensor(stacks)
        features = policy.extract_features(observation)  # SB3's own path: (actor's, critic's) when separate
        features = features if share else features[0]
        logits = policy.action_net(policy.mlp_extractor.forward_actor(features))
        log_probs = policy.get_distribution(observation).distribution.logits  # normalised by Categorical
        ours, hidden = loaded.network(torch.from_numpy(stacks), hidden_layer="fc")
    if not share:  # the critic's extractor is another network: the actor's must be the one imported
        assert not torch.equal(policy.extract_features(observation)[1], features)
    assert (ours - logits).abs().max() <= TOLERANCE
    assert (ours.log_softmax(dim=1) - log_probs).abs().max() <= TOLERANCE
    assert (hidden - features).abs().max() <= TOLERANCE  # the 512 units feature regression targets
    assert np.array_equal(model.predict(stacks, deterministic=True)[0], ours.argmax(1).numpy())


def test_an_unsupported_sb3_model_is_refused_naming_the_supported_kinds(tmp_path):
    import gymnasium as gym

    sb3.PPO("MlpPolicy", gym.make("CartPole-v1"), n_steps=16, verbose=0).save(tmp_path / "cartpole.zip")
    with pytest.raises(UserError) as refused:
        import_sb3(tmp_path / "cartpole.zip", BREAKOUT)
    message = str(refused.value)
    assert "stable_baselines3.common.policies.ActorCriticPolicy" in message
    assert "DQN, QR-DQN (sb3-contrib), PPO and A2C with the default CnnPolicy" in message
    assert "\n" not in message


def test_a_policy_with_extra_layers_is_refused(tmp_path):
    model = sb3.PPO("CnnPolicy", make_env(BREAKOUT), n_steps=16, verbose=0, policy_kwargs={"net_arch": [64]})
    model.save(tmp_path / "wide.zip")
    with pytest.raises(UserError, match="extra layers"):
        import_sb3(tmp_path / "wide.zip", BREAKOUT)
