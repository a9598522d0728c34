"""Importers for experts trained with other libraries, into the shared checkpoint format.

Both libraries train the Nature DQN on the same kind of input as ours (4 stacked 84x84
grayscale frames, scaled by 1/255 inside the network), so importing is a renaming of weights:

    Stable-Baselines3 DQN (.zip)         ours            CleanRL dqn_atari (state dict)
    q_net.features_extractor.cnn.0   ->  convs.0    <-   network.0
    q_net.features_extractor.cnn.2   ->  convs.2    <-   network.2
    q_net.features_extractor.cnn.4   ->  convs.4    <-   network.4
    q_net.features_extractor.linear.0 -> fc.0       <-   network.7
    q_net.q_net.0                    ->  head       <-   network.9

SB3 often trains on channels-last stacks (84, 84, 4) from `VecFrameStack`; it then wraps the
env in `VecTransposeImage`, so its network still sees channels-first (4, 84, 84) stacks, oldest
frame first, like ours: the weights need no transposition. The importer reads the observation
shape from the zip's JSON to check that it is one of those two layouts.

Nothing is unpickled: SB3's `policy.pth` and CleanRL's files are read with
`torch.load(weights_only=True)`, and SB3's `data` file is JSON.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import torch

from actor_mimic.common.atari import NUM_ALE_ACTIONS, AtariConfig, action_set
from actor_mimic.common.checkpoint import Checkpoint, expert_metadata
from actor_mimic.common.networks import NatureDQN
from actor_mimic.errors import UserError

SB3_PREFIXES = {
    "q_net.features_extractor.cnn.0.": "convs.0.",
    "q_net.features_extractor.cnn.2.": "convs.2.",
    "q_net.features_extractor.cnn.4.": "convs.4.",
    "q_net.features_extractor.linear.0.": "fc.0.",
    "q_net.q_net.0.": "head.",
}
CLEANRL_PREFIXES = {
    "network.0.": "convs.0.",
    "network.2.": "convs.2.",
    "network.4.": "convs.4.",
    "network.7.": "fc.0.",
    "network.9.": "head.",
}


def import_sb3(path: str | Path, config: AtariConfig) -> Checkpoint:
    """A Stable-Baselines3 DQN `.zip` (CnnPolicy, default network) as an expert for `config.game`."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            data = json.loads(archive.read("data"))
            with archive.open("policy.pth") as handle:
                state = _load_tensors(handle, path)
    except (OSError, zipfile.BadZipFile, KeyError, ValueError) as error:
        raise UserError(f"{path}: not a Stable-Baselines3 model zip with 'data' and 'policy.pth' ({error})") from None
    space = data.get("observation_space") if isinstance(data, dict) else None
    if not isinstance(space, dict) or not isinstance(data.get("policy_kwargs") or {}, dict):
        raise UserError(f"{path}: its 'data' file is not the JSON document Stable-Baselines3 writes")
    shape = space.get("_shape")
    shape = list(shape) if isinstance(shape, (list, tuple)) else None
    if shape not in ([4, 84, 84], [84, 84, 4]):
        raise UserError(
            f"{path}: SB3 observation shape {shape}; actor-mimic experts take 4 stacked 84x84 "
            "frames, (4, 84, 84) or channels-last (84, 84, 4)"
        )
    policy_kwargs = data.get("policy_kwargs") or {}
    if policy_kwargs.get("normalize_images") is False:
        raise UserError(f"{path}: trained with normalize_images=False; only the default (x/255) imports")
    q_net = {k: v for k, v in state.items() if k.startswith("q_net.")}
    source = {
        "source": "stable-baselines3",
        "file": path.name,
        "sb3_version": data.get("_stable_baselines3_version") or _zip_text(path, "_stable_baselines3_version"),
    }
    return _build(_rename(q_net, SB3_PREFIXES, path), config, source, path)


def import_cleanrl(path: str | Path, config: AtariConfig) -> Checkpoint:
    """A CleanRL `dqn_atari` QNetwork state dict (`torch.save(q_network.state_dict(), ...)`)."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            state = _load_tensors(handle, path)
    except OSError as error:
        raise UserError(f"{path}: cannot read ({error})") from None
    return _build(_rename(state, CLEANRL_PREFIXES, path), config, {"source": "cleanrl", "file": path.name}, path)


def _load_tensors(handle, path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(handle, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises UnpicklingError, RuntimeError, ... for bad input
        raise UserError(f"{path}: not a plain tensor state dict ({type(error).__name__})") from None
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise UserError(f"{path}: expected a state dict of tensors")
    return state


def _rename(state: dict, prefixes: dict[str, str], path: Path) -> dict[str, torch.Tensor]:
    renamed = {}
    for name, tensor in state.items():
        prefix = next((p for p in prefixes if name.startswith(p)), None)
        if prefix is None:
            raise UserError(f"{path}: unexpected weight {name!r}; only the default Nature-DQN network imports")
        renamed[prefixes[prefix] + name[len(prefix) :]] = tensor
    return renamed


def _build(weights: dict, config: AtariConfig, provenance: dict, path: Path) -> Checkpoint:
    if "head.weight" not in weights or weights["head.weight"].dim() != 2:
        raise UserError(f"{path}: no output layer found")
    num_outputs = weights["head.weight"].shape[0]
    if num_outputs == NUM_ALE_ACTIONS and len(action_set(config)) != NUM_ALE_ACTIONS:
        config = AtariConfig(**{**config.to_dict(), "full_action_space": True})
    expected = len(action_set(config))
    if num_outputs != expected:
        raise UserError(
            f"{path}: the network has {num_outputs} outputs but {config.game} has {expected} "
            f"actions (or {NUM_ALE_ACTIONS} with the full action space): is it an expert for another game?"
        )
    network = NatureDQN(num_outputs)
    own = network.state_dict()
    if set(weights) != set(own) or any(weights[k].shape != own[k].shape for k in own):
        raise UserError(f"{path}: weights do not form a Nature DQN (conv 32/64/64, fc 512)")
    bad = [k for k in sorted(own) if not weights[k].is_floating_point() or not torch.isfinite(weights[k]).all()]
    if bad:
        raise UserError(f"{path}: weight {bad[0]} is not finite floating-point numbers")
    network.load_state_dict({k: v.float() for k, v in weights.items()})
    metadata = expert_metadata(config, provenance=provenance)
    return Checkpoint(network.eval(), metadata)


def _zip_text(path: Path, name: str) -> str | None:
    with zipfile.ZipFile(path) as archive:
        return archive.read(name).decode(errors="replace").strip() if name in archive.namelist() else None
