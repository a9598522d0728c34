"""Playing a network in the real game: the paper's test protocol, shared by every stage.

Protocol (Parisotto et al. 2016, following Mnih et al. 2015):

- the evaluated network acts epsilon-greedily with epsilon 0.05, the random action drawn
  uniformly from the game's valid actions (a logit teacher that samples, `acting="sample"`,
  draws its action from softmax over its valid outputs instead of the best one, with the same
  epsilon rule: PPO and A2C agents are evaluated so by their libraries);
- full games: a lost life is not a terminal (the shared Atari settings already say so), up to
  30 no-op actions after each reset;
- a test epoch is a budget of agent steps (125,000 per game in the paper);
- the score is the mean return of the episodes completed within the budget; only if none
  completed, the returns of the unfinished episodes are used instead (`partial=True`).

Alternatively `episodes=N` plays until N episodes have completed. The N episodes are shared out
across the parallel environments in advance (env i plays its own quota), so short episodes do
not crowd out long ones, which taking "the first N to finish" would do.

The network's outputs need not be the game's actions: `output_actions[j]` is the ALE action of
output j. An expert passes its action set; an AMN passes `range(18)`. Outputs whose action the
game does not have are masked out before the argmax.

`evaluate_random` scores a uniformly random policy the same way (epsilon 1 over the game's
actions): the baseline that says what a score is worth.

Everything is seeded: the environments (`reset(seed=seed)`), the epsilon draws and the random
actions (`numpy.random.default_rng(seed)`), so the same seed gives the same returns.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from actor_mimic.common.atari import AtariConfig, action_set, make_vector_env
from actor_mimic.common.policies import epsilon_greedy, epsilon_sample, greedy_env_actions, output_to_env_actions
from actor_mimic.common.rollout import EpisodeTracker
from actor_mimic.errors import UserError


@dataclass
class EvaluationResult:
    """Scores of one evaluation on one game.

    `returns` holds the returns of the completed episodes, in order of completion (by
    environment index within one step); when `partial` is True no episode completed and it
    holds the unfinished episodes' returns instead. `steps` counts agent steps played
    (steps that reset an environment are not agent steps and are not counted).
    """

    game: str
    mean: float
    std: float
    min: float
    max: float
    returns: list[float] = field(default_factory=list)
    num_episodes: int = 0
    steps: int = 0
    partial: bool = False
    epsilon: float = 0.05
    seed: int = 0
    num_envs: int = 8  # environments played in parallel: with a fixed budget, more of them end fewer episodes
    lengths: list[int] = field(default_factory=list)  # agent steps of each completed episode, as `returns`
    num_truncated: int = 0  # completed episodes the time limit cut (max_episode_frames), scored as they stood
    acting: str = "greedy"  # or "sample": drawn from softmax of the outputs (a logit teacher)

    def to_dict(self) -> dict:
        return asdict(self)


def evaluate(
    network: nn.Module,
    config: AtariConfig,
    output_actions: list[int],
    *,
    steps: int | None = 125_000,
    episodes: int | None = None,
    epsilon: float = 0.05,
    num_envs: int = 8,
    seed: int = 0,
    progress: bool = False,
    acting: str = "greedy",
) -> EvaluationResult:
    """Play `network` on `config.game` and score it (see the module docstring).

    network: maps uint8 frames (B, stack, H, W) to outputs (B, len(output_actions)).
    steps: agent-step budget over all environments together (None: no budget; then
        `episodes` must be given). The last round of parallel steps may overshoot it by up
        to num_envs - 1.
    episodes: stop once this many episodes have completed (None: play the budget).
    acting: "greedy" (the best valid output) or "sample" (from softmax over the valid outputs).
    """
    game_actions = list(action_set(config))
    valid, env_index = output_to_env_actions(list(output_actions), game_actions)
    _check_arguments(config, valid, steps, episodes, epsilon, num_envs, acting)

    # Never more environments than episodes asked for: each env has its own episode quota.
    num_envs = min(num_envs, episodes) if episodes else num_envs
    quota = _episode_quota(episodes, num_envs)
    rng = np.random.default_rng(seed)
    device = next(network.parameters()).device
    was_training = network.training
    network.eval()

    venv = make_vector_env(config, num_envs)
    bar = _progress_bar(progress, steps, episodes, config.game)
    returns: list[float] = []
    lengths: list[int] = []
    num_truncated = 0
    running = EpisodeTracker(num_envs)  # each env's running episode; autoresets are not agent steps
    finished = np.zeros(num_envs, dtype=np.int64)  # completed episodes per env
    played = 0
    try:
        frames, _ = venv.reset(seed=seed)
        while not _done(played, steps, finished, quota):
            with torch.no_grad():
                q_values = network(torch.from_numpy(frames).to(device))
            # Every env draws every step, resetting or not: the stream does not depend on
            # which envs happen to be resetting.
            if acting == "sample":
                actions = epsilon_sample(q_values, valid, env_index, epsilon, rng, len(game_actions))
            else:
                greedy = greedy_env_actions(q_values, valid, env_index)
                actions = epsilon_greedy(greedy, epsilon, rng, len(game_actions))

            frames, rewards, terminated, truncated, _ = venv.step(actions)
            playing, ended, ended_episodes = running.step(rewards, terminated, truncated)
            agent_steps = int(playing.sum())
            played += agent_steps
            for episode in ended_episodes:
                if quota is None or finished[episode.env] < quota[episode.env]:
                    returns.append(episode.episode_return)
                    lengths.append(episode.length)
                    num_truncated += episode.truncated
                finished[episode.env] += 1
            if bar is not None:
                bar.update(int(ended.sum()) if steps is None else agent_steps)
    finally:
        venv.close()
        if bar is not None:
            bar.close()
        network.train(was_training)

    partial = not returns
    scores = running.returns[~running.resetting].tolist() if partial else returns
    if not scores:  # every env ended on the very last step: those episodes completed
        scores = [0.0]
    values = np.asarray(scores, dtype=np.float64)
    return EvaluationResult(
        game=config.game,
        mean=float(values.mean()),
        std=float(values.std()),
        min=float(values.min()),
        max=float(values.max()),
        returns=[float(v) for v in scores],
        num_episodes=len(returns),
        steps=played,
        partial=partial,
        epsilon=epsilon,
        seed=seed,
        num_envs=num_envs,
        lengths=lengths,
        num_truncated=num_truncated,
        acting=acting,
    )


class UniformPolicy(nn.Module):
    """The same output for every frame, over `num_actions` actions. Played with epsilon 1
    (`evaluate_random`) every action is uniformly random; no network is run."""

    def __init__(self, num_actions: int):
        super().__init__()
        self.outputs = nn.Parameter(torch.zeros(num_actions), requires_grad=False)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.outputs.expand(len(frames), -1)


def evaluate_random(
    config: AtariConfig, *, steps: int | None = 125_000, episodes: int | None = None, num_envs: int = 8,
    seed: int = 0, progress: bool = False,
) -> EvaluationResult:  # fmt: skip
    """A uniformly random policy under the protocol: the same returns as any network played
    with epsilon 1 and the same seed (both random draws happen every step), without its cost."""
    actions = list(action_set(config))
    return evaluate(UniformPolicy(len(actions)), config, actions, steps=steps, episodes=episodes, epsilon=1.0,
                    num_envs=num_envs, seed=seed, progress=progress)  # fmt: skip


def _check_arguments(config, valid, steps, episodes, epsilon, num_envs, acting) -> None:
    if not valid.any():
        raise UserError(f"none of the network's output actions exists in {config.game}")
    if steps is None and episodes is None:
        raise UserError("give an evaluation budget: a number of steps or of episodes")
    if steps is not None and steps < 1:
        raise UserError(f"the evaluation budget must be at least 1 step, got {steps}")
    if episodes is not None and episodes < 1:
        raise UserError(f"the number of evaluation episodes must be at least 1, got {episodes}")
    if not 0.0 <= epsilon <= 1.0:
        raise UserError(f"epsilon must lie in [0, 1], got {epsilon}")
    if num_envs < 1:
        raise UserError(f"num_envs must be at least 1, got {num_envs}")
    if acting not in ("greedy", "sample"):
        raise UserError(f"acting must be greedy or sample, got {acting!r}")


def _episode_quota(episodes: int | None, num_envs: int) -> np.ndarray | None:
    """int64 (num_envs,): how many episodes each env contributes, summing to `episodes`."""
    if episodes is None:
        return None
    return np.array([episodes // num_envs + (i < episodes % num_envs) for i in range(num_envs)], dtype=np.int64)


def _done(played: int, steps: int | None, finished: np.ndarray, quota: np.ndarray | None) -> bool:
    if steps is not None and played >= steps:
        return True
    return quota is not None and bool(np.all(finished >= quota))


def _progress_bar(progress: bool, steps: int | None, episodes: int | None, game: str):
    if not progress:
        return None
    from tqdm import tqdm

    if steps is None:
        return tqdm(total=episodes, desc=f"evaluate {game}", unit="episode")
    return tqdm(total=steps, desc=f"evaluate {game}", unit="step")
