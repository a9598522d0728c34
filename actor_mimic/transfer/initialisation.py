"""Where a DQN's first weights come from: a fresh network, an Actor-Mimic Network, or an
expert of the same game that training continues.

The paper initialises the target-game DQN from the *whole* AMN, its 18-way output layer
included, and fine-tunes every layer; the DQN acts and bootstraps over the target game's valid
actions only, i.e. the AMN's outputs at the game's ALE action ids. That is the default here;
`fresh_head=True` keeps the AMN's hidden layers and starts a new output layer over the game's
actions instead.

`network_from_expert` continues an expert from its shipped checkpoint alone (a new machine
may not have the run directory that `--resume` needs): see its docstring for what such a
warm start keeps and what it loses.

All return an `InitialisedNetwork`: the network (float32, train mode), `output_indices` (the
output column of each game action, in action-set order) and provenance to record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from actor_mimic.common.atari import AtariConfig, action_set, preprocessing_differences
from actor_mimic.common.checkpoint import Checkpoint, CheckpointMetadata, load_checkpoint
from actor_mimic.common.networks import build_network
from actor_mimic.common.policies import game_columns
from actor_mimic.errors import UserError


@dataclass
class InitialisedNetwork:
    network: nn.Module
    output_indices: list[int]  # (A,) output column of each game action
    provenance: dict = field(default_factory=dict)


def fresh_network(config: AtariConfig, architecture: str = "nature_dqn", seed: int = 0) -> InitialisedNetwork:
    """A randomly initialised network with one output per game action."""
    num_actions = len(action_set(config))
    torch.manual_seed(seed)
    network = build_network(architecture, num_actions, config.stack_size, config.screen_size)
    return InitialisedNetwork(network.train(), list(range(num_actions)), {"init": "random", "init_seed": seed})


def amn_variant(metadata: CheckpointMetadata) -> str:
    """ "feature" if the AMN was trained with feature regression (`amn distill` records its
    weight beta in the provenance), "policy" if with policy regression only (beta 0),
    "unknown" if its provenance does not say (an AMN from elsewhere)."""
    beta = (metadata.provenance or {}).get("beta")
    if isinstance(beta, bool) or not isinstance(beta, (int, float)):
        return "unknown"
    return "feature" if beta > 0 else "policy"


def check_preprocessing(metadata: CheckpointMetadata, config: AtariConfig, source: str) -> None:
    """Refuse a network trained on observations of another form than `config` gives."""
    theirs = AtariConfig(game=config.game, **metadata.atari).preprocessing()
    ours = config.preprocessing()
    if theirs != ours:
        details = preprocessing_differences(theirs, ours)
        raise UserError(
            f"{source}: its input preprocessing differs from the target environment's "
            f"({details}); train the DQN with the AMN's Atari settings or use another AMN"
        )


def network_from_amn(
    path: str | Path, config: AtariConfig, fresh_head: bool = False, seed: int = 0
) -> InitialisedNetwork:
    """A DQN for `config.game` initialised from the AMN checkpoint at `path`.

    Default: every weight is the AMN's and output_indices are the game's ALE action ids.
    `fresh_head`: a new, seeded output layer with one output per game action.
    """
    checkpoint = load_checkpoint(path)
    metadata = checkpoint.metadata
    if metadata.kind != "amn":
        raise UserError(f"{path}: --init needs an AMN checkpoint (kind 'amn'), this one is an {metadata.kind!r}")
    check_preprocessing(metadata, config, str(path))
    actions = list(action_set(config))
    if metadata.num_actions <= max(actions):
        raise UserError(
            f"{path}: the AMN has {metadata.num_actions} outputs, too few for {config.game}'s ALE actions {actions}"
        )
    network: Any = checkpoint.network  # a networks.py network: head, num_actions
    provenance: dict[str, Any] = {
        "init": "amn",
        "init_checkpoint": Path(path).name,
        "init_checkpoint_sha256": checkpoint.sha256,
        "amn_variant": amn_variant(metadata),
        "amn_games": list(metadata.games),
        "fresh_head": fresh_head,
    }
    if fresh_head:
        torch.manual_seed(seed)
        network.head = nn.Linear(network.head.in_features, len(actions))
        network.num_actions = len(actions)
        output_indices = list(range(len(actions)))
        provenance["init_seed"] = seed
    else:
        output_indices = game_columns(range(metadata.num_actions), actions)  # the AMN's output i is ALE action i
    return InitialisedNetwork(network.train(), output_indices, provenance)


# What an expert's provenance says about its training so far, carried into a continuation.
PRIOR_TRAINING_KEYS = (
    "agent_steps", "updates", "episodes", "wall_hours", "evaluation_curve", "training_curve", "segments",
)  # fmt: skip


def network_from_expert(checkpoint: Checkpoint, config: AtariConfig) -> InitialisedNetwork:
    """A DQN for `config.game` that continues a loaded expert `checkpoint` (a warm start).

    The network is the expert's, as float32. Compared with a bit-for-bit
    `--resume` of the original run, a warm start loses: the replay memory (refilled by the
    current policy before updates restart), the optimiser's moments (re-estimated from zero),
    the target network (restarts as a copy of the online one), the RNG streams and running
    episodes, and whatever float16 rounding took from the weights (relative error <= 2**-11).
    The expert's training history (steps, hours, evaluation curve) is kept in
    `provenance["prior_training"]`, so the exported summary counts the whole training.
    """
    metadata, path = checkpoint.metadata, checkpoint.path
    if metadata.kind != "expert":
        raise UserError(
            f"{path}: --init-expert needs an expert checkpoint (kind 'expert'), this one is an "
            f"{metadata.kind!r}; use --init for an AMN"
        )
    if config.game not in metadata.games:
        raise UserError(f"{path}: this expert plays {metadata.games[0]}, not {config.game}")
    check_preprocessing(metadata, config, str(path))
    actions = list(action_set(config))
    if metadata.action_sets[config.game] != actions:
        raise UserError(
            f"{path}: its action set {metadata.action_sets[config.game]} differs from "
            f"{config.game}'s {actions} in this ale-py; it cannot be continued here"
        )
    provenance = metadata.provenance or {}
    prior = {key: provenance[key] for key in PRIOR_TRAINING_KEYS if key in provenance}
    if "agent_steps" in prior and "segments" not in prior:  # trained before segments were kept
        prior["segments"] = [
            {key: prior.get(key) for key in ("agent_steps", "updates", "wall_hours")}
            | {"init": provenance.get("init"), "seed": provenance.get("dqn_config", {}).get("seed")}
        ]
    return InitialisedNetwork(
        checkpoint.network.train(),
        list(range(len(actions))),
        {
            "init": "expert",
            "init_checkpoint": path.name if path else None,
            "init_checkpoint_sha256": checkpoint.sha256,
            "prior_training": prior,
        },
    )


def expert_network(network: nn.Module, output_indices: list[int]) -> nn.Module:
    """A copy of `network` whose outputs are exactly the game's actions: the output layer's rows
    at `output_indices`. Its Q-values equal the learner's game Q-values."""
    import copy

    expert: Any = copy.deepcopy(network).cpu()  # a networks.py network: head, num_actions
    if list(output_indices) == list(range(expert.head.out_features)):
        return expert
    index = torch.as_tensor(output_indices, dtype=torch.long)
    head = nn.Linear(expert.head.in_features, len(output_indices))
    with torch.no_grad():
        head.weight.copy_(expert.head.weight[index])
        head.bias.copy_(expert.head.bias[index])
    expert.head = head
    expert.num_actions = len(output_indices)
    return expert
