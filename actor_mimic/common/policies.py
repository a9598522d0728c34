"""Turning a network's outputs into one game's actions, epsilon-greedily.

Every stage that plays a network (evaluation, collection, DQN learning, the video) does the
same two things, written once here:

1. map the network's outputs onto the game's actions. An expert has one output per action of
   its game (output i is ALE action `action_set[i]`); an AMN has one per ALE action (output i
   is ALE action i), of which a game has only some. Two views of the same mapping:
   - `game_columns`: for each game action, the output column that scores it (gather the
     columns, then work over the game's actions: the DQN learner, the collector);
   - `output_to_env_actions`: for each output, the game action it stands for or none (mask
     the rest, argmax over the outputs: the evaluation, which also plays networks whose
     outputs lack some of the game's actions).
2. act epsilon-greedily: the greedy action, or with probability epsilon a uniformly random one
   of the game's actions. Both random draws happen for every env at every step, so the random
   stream depends on neither the network's choices nor on which envs explored. A logit teacher
   (PPO, A2C) may instead *sample* from its policy softmax(logits) (`acting="sample"`), under
   the same epsilon rule: the second draw, unused when the step does not explore, picks the
   sampled action by inverting the policy's cumulative distribution.

Actions are indices into the game's action set (what the environment takes), int64.
"""

from __future__ import annotations

import math

import numpy as np
import torch


def acting_of(metadata, requested: str | None = None) -> str:
    """How a policy acts: "greedy" or "sample", as `requested` or as its checkpoint metadata
    records. Only a logit teacher samples; an AMN and a Q-value expert act greedily."""
    if metadata.outputs != "logits":
        return "greedy"
    return requested or metadata.acting


def game_columns(output_actions, game_actions) -> list[int]:
    """(A,): the output column that scores each of the game's actions, in action-set order.

    output_actions: ALE action of each output (an expert: its action set; an AMN: range(18)).
    """
    column = {int(ale): j for j, ale in enumerate(output_actions)}
    missing = [int(a) for a in game_actions if int(a) not in column]
    if missing:
        raise ValueError(f"the network has no output for ALE actions {missing}")
    return [column[int(a)] for a in game_actions]


def output_to_env_actions(output_actions: list[int], game_actions: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """How the network's outputs map onto the environment's action indices.

    Returns (valid, env_index): bool (O,) True where output j's ALE action is one of the
    game's; int64 (O,) the environment's action index of output j (-1 where invalid).
    """
    position = {ale: i for i, ale in enumerate(game_actions)}
    env_index = np.array([position.get(int(a), -1) for a in output_actions], dtype=np.int64)
    return env_index >= 0, env_index


def greedy_env_actions(q_values: torch.Tensor, valid: np.ndarray, env_index: np.ndarray) -> np.ndarray:
    """int64 (B,): the environment action of the best valid output of each row of q_values (B, O)."""
    masked = q_values.masked_fill(~torch.from_numpy(valid).to(q_values.device), -math.inf)
    best_output = masked.argmax(dim=1).cpu().numpy()
    return env_index[best_output]


def epsilon_greedy(greedy: np.ndarray, epsilon: float, rng: np.random.Generator, num_actions: int) -> np.ndarray:
    """int64 (N,): `greedy` (N,), each replaced with probability epsilon by a random action.

    Draws `rng.random(N)` (explore or not) then `rng.integers(0, num_actions, N)` (which
    action), every call: runs that share a seed share the whole stream.
    """
    explore = rng.random(len(greedy)) < epsilon
    random_actions = rng.integers(0, num_actions, size=len(greedy))
    return np.where(explore, random_actions, greedy).astype(np.int64)


def sample_from_uniforms(logits: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """int64 (N,): for each row of logits (N, O), the output i with cdf[i-1] <= u < cdf[i] of
    the policy softmax(logits) (outputs at -inf have probability 0 and are never drawn);
    uniforms (N,) in [0, 1)."""
    logits = np.asarray(logits, dtype=np.float64)
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    cdf = np.cumsum(probabilities, axis=1)
    cdf /= cdf[:, -1:]
    return np.minimum((uniforms[:, None] >= cdf).sum(axis=1), logits.shape[1] - 1).astype(np.int64)


def epsilon_sample(
    logits: torch.Tensor, valid: np.ndarray, env_index: np.ndarray, epsilon: float, rng: np.random.Generator,
    num_actions: int,
) -> np.ndarray:  # fmt: skip
    """int64 (N,): an action sampled from softmax over the valid outputs of each row of logits
    (N, O), each replaced with probability epsilon by a uniformly random game action. Draws
    `rng.random((N, 2))` every call (explore or not; which action)."""
    uniforms = rng.random((logits.shape[0], 2))
    masked = logits.masked_fill(~torch.from_numpy(valid).to(logits.device), -math.inf)
    sampled = env_index[sample_from_uniforms(masked.cpu().numpy(), uniforms[:, 1])]
    return epsilon_greedy_from_uniforms(sampled, epsilon, uniforms, num_actions)


def epsilon_greedy_from_uniforms(
    greedy: np.ndarray, epsilon: float, uniforms: np.ndarray, num_actions: int
) -> np.ndarray:
    """int64 (N,): the same rule from pre-drawn uniforms (N, 2) in [0, 1): the first decides
    whether to explore, the second which action. For callers whose envs each draw from their
    own generator (the collector's lanes)."""
    explore = uniforms[:, 0] < epsilon
    random_actions = np.minimum((uniforms[:, 1] * num_actions).astype(np.int64), num_actions - 1)
    return np.where(explore, random_actions, greedy.astype(np.int64))


def epsilon_sample_from_uniforms(
    logits: np.ndarray, epsilon: float, uniforms: np.ndarray, num_actions: int
) -> np.ndarray:
    """int64 (N,): the sampling rule from pre-drawn uniforms (N, 2): the first decides whether
    to explore, the second which random action, or, when not exploring, the sampled one."""
    sampled = sample_from_uniforms(logits, uniforms[:, 1])
    return epsilon_greedy_from_uniforms(sampled, epsilon, uniforms, num_actions)
