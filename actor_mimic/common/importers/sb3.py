"""Stable-Baselines3 and sb3-contrib model zips: DQN, QR-DQN, PPO and A2C with the default CnnPolicy.

Every one of them is the Nature-DQN torso (SB3's `NatureCNN`: conv 32/64/64, a 512-unit layer,
images scaled by 1/255 inside the network) and one linear output layer:

    SB3 weights                                    ours      outputs
    DQN     q_net.features_extractor.cnn.{0,2,4}   convs.*   q_values: q_net.q_net.0
            q_net.features_extractor.linear.0      fc.0
            q_net.q_net.0                          head
    QR-DQN  quantile_net.features_extractor.*      (same)    q_values: the mean over quantiles
            quantile_net.quantile_net.0            head      of quantile_net.0's (quantiles, actions)
    PPO,    pi_features_extractor.*                (same)    logits: action_net
    A2C     action_net                             head      (value_net, the critic, is dropped)

QR-DQN acts on the mean of its quantiles, so the mean is its Q-values; the mean of a linear
layer's outputs is a linear layer whose rows are the means of the quantile rows, so the head
holds those means (exact up to float rounding) and the store stays as small as a DQN's.
Actor-critic policies take the policy's own feature extractor (`pi_features_extractor`): the
shared one, or the actor's when `share_features_extractor=False`; its 512 units are the hidden
layer feature regression targets.

SB3 often trains on channels-last stacks (84, 84, 4) from `VecFrameStack`; it then wraps the
env in `VecTransposeImage`, so its network still sees channels-first (4, 84, 84) stacks, oldest
frame first, like ours: the weights need no transposition. The zip's `data` (JSON) says the
observation shape, the policy class and the algorithm's hyperparameters (PPO has a clip range,
A2C none); `policy.pth` is read with `torch.load(weights_only=True)`. Nothing is unpickled.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import torch

from actor_mimic.common.atari import AtariConfig
from actor_mimic.common.checkpoint import Checkpoint
from actor_mimic.common.importers.expert import build_expert, library_protocol, load_tensors, rename
from actor_mimic.errors import UserError

SUPPORTED = "DQN, QR-DQN (sb3-contrib), PPO and A2C with the default CnnPolicy (NatureCNN, 512 units)"
TORSO = {
    "features_extractor.cnn.0.": "convs.0.",
    "features_extractor.cnn.2.": "convs.2.",
    "features_extractor.cnn.4.": "convs.4.",
    "features_extractor.linear.0.": "fc.0.",
}
# (module, class) of each supported policy, as the zip's JSON names it
POLICIES = {
    ("stable_baselines3.dqn.policies", "CnnPolicy"): "dqn",
    ("sb3_contrib.qrdqn.policies", "CnnPolicy"): "qrdqn",
    ("stable_baselines3.common.policies", "ActorCriticCnnPolicy"): "actor-critic",
}


def import_sb3(path: str | Path, config: AtariConfig) -> Checkpoint:
    """An SB3 DQN, QR-DQN, PPO or A2C `.zip` (default CnnPolicy) as an expert for `config.game`,
    under SB3's Atari protocol (FIRE at reset and after a lost life: `library_protocol`)."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            data = json.loads(archive.read("data"))
            with archive.open("policy.pth") as handle:
                state = load_tensors(handle, path)
            version = _text(archive, "_stable_baselines3_version")
    except (OSError, zipfile.BadZipFile, KeyError, ValueError) as error:
        raise UserError(f"{path}: not a Stable-Baselines3 model zip with 'data' and 'policy.pth' ({error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("observation_space"), dict):
        raise UserError(f"{path}: its 'data' file is not the JSON document Stable-Baselines3 writes")
    algorithm = _algorithm(data, state, path)
    _check_observations(data, path)
    provenance = {"source": "stable-baselines3", "library": "stable-baselines3", "algorithm": algorithm,
                  "file": path.name, "sb3_version": data.get("_stable_baselines3_version") or version}  # fmt: skip
    config = library_protocol(config)
    if algorithm == "dqn":
        weights = _prefixed(state, "q_net.", {**TORSO, "q_net.0.": "head."}, path)
        return build_expert(weights, config, provenance, path)
    if algorithm == "qrdqn":
        provenance |= {"library": "sb3-contrib", "q_values": "mean over quantiles"}
        weights = _prefixed(state, "quantile_net.", {**TORSO, "quantile_net.0.": "quantiles."}, path)
        quantiles = data.get("n_quantiles")
        weights |= _mean_over_quantiles(weights.pop("quantiles.weight", None), weights.pop("quantiles.bias", None),
                                        quantiles, path)  # fmt: skip
        provenance["num_quantiles"] = quantiles
        return build_expert(weights, config, provenance, path)
    # Actor-critic: the policy's own extractor and the action logits; the critic is dropped.
    actor = {k: v for k, v in state.items() if not k.startswith(("features_extractor.", "vf_features_extractor."))}
    actor = {k: v for k, v in actor.items() if not k.startswith("value_net.")}
    if any(k.startswith("mlp_extractor.") for k in actor):
        raise UserError(f"{path}: the policy has extra layers (net_arch) after NatureCNN; import-sb3 reads {SUPPORTED}")
    weights = rename(actor, {"pi_" + k: v for k, v in TORSO.items()} | {"action_net.": "head."}, path, SUPPORTED)
    return build_expert(weights, config, provenance, path, outputs="logits", acting="sample")


def _algorithm(data: dict, state: dict, path: Path) -> str:
    """ "dqn", "qrdqn", "ppo" or "a2c", from the policy class the zip names and the algorithm's
    hyperparameters; anything else is refused in one line naming what is supported."""
    policy = data.get("policy_class")
    policy = policy if isinstance(policy, dict) else {}
    module = str(policy.get("__module__", "?"))
    match = re.match(r"<function (\w+)\.__init__", str(policy.get("__init__", "")))
    name = match.group(1) if match else "?"
    kind = POLICIES.get((module, name))
    if kind is None and not policy:  # a zip from a version that did not describe its policy
        kind = "dqn" if any(k.startswith("q_net.") for k in state) else None
    if kind == "actor-critic":
        if "clip_range" in data:
            kind = "ppo"
        elif "cg_max_steps" in data:  # sb3-contrib's TRPO: same policy, not tested here
            kind = None
        else:
            kind = "a2c"
    if kind is None:
        raise UserError(f"{path}: a Stable-Baselines3 model with policy {module}.{name}; import-sb3 reads {SUPPORTED}")
    policy_kwargs = data.get("policy_kwargs") or {}
    if isinstance(policy_kwargs, dict) and policy_kwargs.get("normalize_images") is False:
        raise UserError(f"{path}: trained with normalize_images=False; only the default (x/255) imports")
    return kind


def _check_observations(data: dict, path: Path) -> None:
    shape = data["observation_space"].get("_shape")
    shape = list(shape) if isinstance(shape, (list, tuple)) else None
    if shape not in ([4, 84, 84], [84, 84, 4]):
        raise UserError(
            f"{path}: SB3 observation shape {shape}; actor-mimic experts take 4 stacked 84x84 "
            "frames, (4, 84, 84) or channels-last (84, 84, 4)"
        )


def _prefixed(state: dict, prefix: str, names: dict[str, str], path: Path) -> dict[str, torch.Tensor]:
    """The online network's weights (those under `prefix`; the target network's are dropped), renamed."""
    online = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    return rename(online, names, path, SUPPORTED)


def _mean_over_quantiles(weight, bias, quantiles, path: Path) -> dict[str, torch.Tensor]:
    """The head whose outputs are the mean over quantiles of QR-DQN's output layer. Its output
    q * A + a is quantile q of action a (`view(-1, quantiles, actions)`)."""
    if weight is None or bias is None or weight.dim() != 2:
        raise UserError(f"{path}: no output layer found")
    if isinstance(quantiles, bool) or not isinstance(quantiles, int) or quantiles < 1 or weight.shape[0] % quantiles:
        raise UserError(f"{path}: n_quantiles {quantiles!r} does not divide its {weight.shape[0]} outputs")
    actions = weight.shape[0] // quantiles
    return {
        "head.weight": weight.double().view(quantiles, actions, -1).mean(dim=0).float(),
        "head.bias": bias.double().view(quantiles, actions).mean(dim=0).float(),
    }


def _text(archive: zipfile.ZipFile, name: str) -> str | None:
    return archive.read(name).decode(errors="replace").strip() if name in archive.namelist() else None
