"""The networks of a collection run: the labelling expert and the acting policy.

The expert labels every visited state with its outputs over the game's action set (Q-values,
or a policy-gradient teacher's logits) and its hidden activations. The acting policy picks the
action: the expert itself (the Policy Distillation regime), or another checkpoint while the
expert still labels (the paper's "student acts" regime): an expert of the same game, or an AMN
whose 18 outputs are masked to the game's action set. Both act epsilon-greedily over the game's
action set, or, for a logit teacher that samples (`acting`), by sampling from its policy with
the same epsilon rule.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from actor_mimic.common.atari import NUM_ALE_ACTIONS, AtariConfig, action_set, canonical_game
from actor_mimic.common.checkpoint import Checkpoint, load_checkpoint
from actor_mimic.common.fire import describe_protocol
from actor_mimic.common.policies import (
    epsilon_greedy_from_uniforms,
    epsilon_sample_from_uniforms,
    game_columns,
)
from actor_mimic.errors import UserError


def load_policy(source, role: str) -> Checkpoint:
    """A `Checkpoint` from a path or an already loaded one. `role` names it in errors."""
    if isinstance(source, Checkpoint):
        return source
    if isinstance(source, (str, Path)):
        return load_checkpoint(source)
    raise UserError(f"the {role} must be a checkpoint path, got {type(source).__name__}")


def checkpoint_identity(checkpoint: Checkpoint) -> dict:
    """sha256 of the file, or for an in-memory checkpoint a sha256 of its weights (and saying so)."""
    if checkpoint.sha256 is not None:
        return {"sha256": checkpoint.sha256, "in_memory": False}
    digest = hashlib.sha256()
    for name, tensor in sorted(checkpoint.network.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return {"sha256": None, "in_memory": True, "weights_sha256": digest.hexdigest()}


def same_identity(a: dict, b: dict) -> bool:
    if a.get("sha256") or b.get("sha256"):
        return a.get("sha256") == b.get("sha256")
    return a.get("weights_sha256") == b.get("weights_sha256")


def describe(checkpoint: Checkpoint, role: str) -> str:
    return f"the {role} {checkpoint.path}" if checkpoint.path else f"the {role} (in-memory checkpoint)"


def resolve_environment(
    expert: Checkpoint,
    game: str | None,
    noop_max: int | None,
    sticky: float | None,
    frame_skip: int | None,
    fire: dict | None = None,
) -> AtariConfig:
    """The environment to play: the expert's own settings, with the dynamics overrides (`fire`:
    fire_on_reset / fire_on_life_loss given, None where the expert's protocol stands).

    Refuses an expert that is not an expert, a `game` other than the expert's, a preprocessing
    other than the expert's, and an action set that differs from the game's in ale-py.
    """
    name = describe(expert, "expert")
    meta = expert.metadata
    if meta.kind != "expert":
        raise UserError(
            f"{name} is a checkpoint of kind {meta.kind!r}; --expert needs a one-game expert "
            "(an AMN can act through --behaviour)"
        )
    expert_game = meta.games[0]
    if game is not None and canonical_game(game) != expert_game:
        raise UserError(f"{name} plays {expert_game}, not {canonical_game(game)}: pass the matching --game or expert")
    base = meta.atari_config(expert_game)
    overrides: dict[str, Any] = {}
    if noop_max is not None:
        overrides["noop_max"] = noop_max
    if sticky is not None:
        overrides["repeat_action_probability"] = sticky
    if frame_skip is not None:
        overrides["frame_skip"] = frame_skip
    overrides |= {name: value for name, value in (fire or {}).items() if value is not None}
    config = AtariConfig(**{**base.to_dict(), **overrides})
    if config.preprocessing() != base.preprocessing():
        raise UserError(
            f"{name} was trained on preprocessing {base.preprocessing()} but the requested "
            f"environment uses {config.preprocessing()}: drop the override or use a matching expert"
        )
    actions = list(action_set(config))
    if meta.num_actions != len(actions) or list(meta.action_sets[expert_game]) != actions:
        raise UserError(
            f"{name} has {meta.num_actions} outputs (ALE actions {list(meta.action_sets[expert_game])}) "
            f"but {expert_game} has {len(actions)} actions {actions}: it is not an expert for this game"
        )
    return config


def playing_description(expert: Checkpoint, behaviour: Checkpoint | None, atari: AtariConfig, acting: str) -> str:
    """One line saying how the collection plays: the environment's FIRE protocol and where it
    comes from (the expert's record, or flags over it), and how the acting policy acts; empty
    when it plays the toolkit's own protocol (no FIRE presses) greedily, as recorded."""
    recorded = expert.metadata.atari_config(atari.game)
    flags = [
        f"--{'' if getattr(atari, name) else 'no-'}{name.replace('_', '-')}"
        for name in ("fire_on_reset", "fire_on_life_loss")
        if getattr(atari, name) != getattr(recorded, name)
    ]
    if not (flags or atari.fire_on_reset or atari.fire_on_life_loss or acting == "sample"):
        return ""
    library = expert.metadata.provenance.get("library")
    source = (
        f"{' '.join(flags)} over the expert's recorded protocol"
        if flags
        else f"the protocol the expert records{f' ({library})' if library else ''}"
    )
    who = "the behaviour policy" if behaviour is not None else "the expert"
    how = "samples from its policy" if acting == "sample" else "acts greedily"
    return f"playing {atari.game} with {describe_protocol(atari)} ({source}); {who} {how}"


def check_behaviour(behaviour: Checkpoint, config: AtariConfig) -> None:
    """The acting checkpoint must play `config.game` with the same preprocessing."""
    name = describe(behaviour, "behaviour policy")
    meta = behaviour.metadata
    if config.game not in meta.games:
        raise UserError(f"{name} plays {meta.games}, not {config.game}: it cannot act in this game")
    theirs = meta.atari_config(config.game).preprocessing()
    if theirs != config.preprocessing():
        raise UserError(
            f"{name} expects preprocessing {theirs}, the expert {config.preprocessing()}: "
            "they cannot play the same observations"
        )
    if meta.kind == "expert" and list(meta.action_sets[config.game]) != list(action_set(config)):
        raise UserError(f"{name} acts over ALE actions {meta.action_sets[config.game]}, not {config.game}'s action set")
    if meta.kind == "amn" and meta.num_actions != NUM_ALE_ACTIONS:
        raise UserError(
            f"{name} is an AMN with {meta.num_actions} outputs; "
            f"an AMN has one output per ALE action ({NUM_ALE_ACTIONS})"
        )


@dataclass
class Labeller:
    """The expert's forward pass: Q-values over the game's actions and one hidden layer."""

    network: torch.nn.Module
    hidden_layer: str

    def __post_init__(self) -> None:
        layers = getattr(self.network, "hidden_layers", ())
        if self.hidden_layer not in layers:
            raise UserError(f"unknown --hidden-layer {self.hidden_layer!r}: this expert has {list(layers)}")

    @property
    def hidden_size(self) -> int:
        return int(cast(Any, self.network).hidden_size(self.hidden_layer))  # a models.py network

    def __call__(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """frames uint8 (N, 4, 84, 84) -> outputs float32 (N, A) (Q-values or logits, stored as
        `q_values`), hidden float32 (N, H)."""
        with torch.inference_mode():
            q_values, hidden = self.network(torch.from_numpy(frames), hidden_layer=self.hidden_layer)
        return q_values.numpy(), hidden.numpy()


@dataclass
class Players:
    """Who plays a collection: the expert labels every state, the actor picks the actions."""

    labeller: Labeller
    actor: Actor
    expert_name: str  # "the expert PATH", for messages


class Actor:
    """Actions (indices into the game's action set) from one set of scores: epsilon-greedy, or
    sampled from softmax(scores) with the same epsilon rule (`sample`, a logit teacher)."""

    def __init__(self, epsilon: float, num_actions: int, behaviour=None, game_actions=None, sample: bool = False):
        self.epsilon = float(epsilon)
        self.num_actions = num_actions
        self.sample = sample
        self.behaviour = behaviour  # None: act on the expert's outputs
        # An AMN scores all 18 ALE actions; keep only the game's, in action-set order.
        self.columns = None
        if behaviour is not None and behaviour.metadata.kind == "amn":
            self.columns = torch.as_tensor(game_columns(range(NUM_ALE_ACTIONS), game_actions))

    def act(self, frames: np.ndarray, expert_q_values: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
        """int64 (N,): greedy on the acting policy's scores, uniformly random with prob. epsilon.

        uniforms: float (N, 2) in [0, 1), drawn per env whatever epsilon is (lanes.py): the
        first decides whether to explore, the second which action."""
        if self.behaviour is None:
            scores = expert_q_values
        else:
            with torch.inference_mode():
                q = self.behaviour.network(torch.from_numpy(frames))
                if self.columns is not None:
                    q = q[:, self.columns]
            scores = q.numpy()
        if self.sample:
            return epsilon_sample_from_uniforms(scores, self.epsilon, uniforms, self.num_actions)
        return epsilon_greedy_from_uniforms(scores.argmax(axis=1), self.epsilon, uniforms, self.num_actions)
