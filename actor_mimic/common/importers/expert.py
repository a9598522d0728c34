"""What every importer shares: reading tensors safely, renaming them, building the expert.

Every supported agent is the Nature-DQN torso (conv 32/64/64, a 512-unit layer) and one linear
output layer, so each importer only renames the source's weights onto `NatureDQN`'s (`convs`,
`fc`, `head`) and says what the outputs are (`q_values` or `logits`), how the agent acts
(`greedy` or `sample`) and which library and algorithm trained it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from actor_mimic.common.atari import NUM_ALE_ACTIONS, AtariConfig, action_set
from actor_mimic.common.checkpoint import Checkpoint, expert_metadata
from actor_mimic.common.networks import NatureDQN
from actor_mimic.errors import UserError


def library_protocol(config: AtariConfig) -> AtariConfig:
    """`config` under the protocol SB3's and CleanRL's Atari agents train with: FIRE pressed at
    reset and after every lost life (their `FireResetEnv` behind `EpisodicLifeEnv`, in games
    that have FIRE). Their other settings are this toolkit's defaults already (30 no-op starts,
    frame skip 4 with max-pooling, 84x84 grayscale, 4 stacked frames, no sticky actions)."""
    return dataclasses.replace(config, fire_on_reset=True, fire_on_life_loss=True)


def load_tensors(handle, path: Path) -> dict[str, torch.Tensor]:
    """A state dict of tensors from a torch file, never unpickling anything else."""
    try:
        state = torch.load(handle, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises UnpicklingError, RuntimeError, ... for bad input
        raise UserError(f"{path}: not a plain tensor state dict ({type(error).__name__})") from None
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise UserError(f"{path}: expected a state dict of tensors")
    return state


def rename(state: dict, prefixes: dict[str, str], path: Path, supported: str) -> dict[str, torch.Tensor]:
    """The weights whose names start with a key of `prefixes`, renamed to its value; any other
    weight is refused (a network this importer does not reproduce exactly)."""
    renamed = {}
    for name, tensor in state.items():
        prefix = next((p for p in prefixes if name.startswith(p)), None)
        if prefix is None:
            raise UserError(f"{path}: unexpected weight {name!r}; {supported}")
        renamed[prefixes[prefix] + name[len(prefix) :]] = tensor
    return renamed


def build_expert(
    weights: dict, config: AtariConfig, provenance: dict, path: Path, outputs: str = "q_values", acting: str = "greedy"
) -> Checkpoint:
    """A `NatureDQN` expert for `config.game` from weights renamed to its names (convs.*, fc.0.*,
    head.*); refuses weights of another shape or game, and non-finite ones."""
    if "head.weight" not in weights or weights["head.weight"].dim() != 2:
        raise UserError(f"{path}: no output layer found")
    num_outputs = weights["head.weight"].shape[0]
    if num_outputs == NUM_ALE_ACTIONS and len(action_set(config)) != NUM_ALE_ACTIONS:
        config = dataclasses.replace(config, full_action_space=True)
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
    metadata = expert_metadata(config, provenance=provenance, outputs=outputs, acting=acting)
    return Checkpoint(network.eval(), metadata)
