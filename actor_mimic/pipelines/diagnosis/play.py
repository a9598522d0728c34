"""The student plays a game while its teacher labels every state it reaches.

The student acts as in `amn evaluate` (epsilon-greedy over the game's actions, epsilon 0.05 by
default, full games, no-op starts, ale-py's vector env, seeded), so the states are the ones
behind its evaluation score. At every agent step both networks see the same frame stack; the
step is recorded with both outputs, the action taken, the reward, the score so far and the
lives counter. When the counter drops (a lost life), the last `before_death` states of that
episode, the fatal one included, are kept with their frame stacks: what the student saw and
did before it died.

Without a teacher the student's own outputs are still recorded (a DQN on a game that has no
expert): its deaths and probabilities, without agreement.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
import torch

from actor_mimic.common.atari import AtariConfig, action_set, make_vector_env
from actor_mimic.common.policies import epsilon_greedy
from actor_mimic.common.rollout import EpisodeTracker
from actor_mimic.pipelines.diagnosis.labels import Policy


@dataclass
class Death:
    """One lost life: the step it was lost at and the states before it, oldest first."""

    index: int  # the fatal step's row in `GamePlay.steps`
    episode: int
    env: int
    episode_step: int  # agent steps of the episode before the fatal step
    score: float  # the episode's return before the fatal step
    lives_before: int
    lives_after: int
    rows: np.ndarray  # int64 (n,) rows of `GamePlay.steps`, n <= before_death, the fatal one last
    stacks: np.ndarray  # uint8 (n, K, H, W) the frame stacks at those rows


@dataclass
class GamePlay:
    """Every agent step the student played on one game, in order of play (envs interleaved).

    steps holds one array per field, each of length T:
        student_outputs float32 (T, A)  over the game's actions, in action-set order
        teacher_outputs float32 (T, A)  (absent without a teacher)
        actions         int64   the action taken (an index into the game's actions)
        rewards         float32 raw reward of the step
        scores          float64 the episode's return before the step
        episode_steps   int64   agent steps of the episode before the step
        episodes        int64   the episode's number (0..num_envs-1 first, then in order of start)
        envs            int64
        lives           int64   the lives counter before the step
        life_lost       bool    the counter dropped during the step
    episodes: one dict per episode played (complete or cut by the budget).
    """

    game: str
    action_set: list[int]
    steps: dict[str, np.ndarray]
    deaths: list[Death] = field(default_factory=list)
    episodes: list[dict] = field(default_factory=list)


def play_labelled(
    student: Policy,
    teacher: Policy | None,
    config: AtariConfig,
    *,
    steps: int | None = 10_000,
    episodes: int | None = None,
    epsilon: float = 0.05,
    num_envs: int = 8,
    seed: int = 0,
    before_death: int = 32,
    progress: bool = False,
) -> GamePlay:
    """Play `student` on `config.game` for `steps` agent steps (or `episodes` whole episodes,
    shared out across the envs in advance as `amn evaluate` does), `teacher` labelling."""
    num_envs = min(num_envs, episodes) if episodes else num_envs
    quota = None if episodes is None else [episodes // num_envs + (i < episodes % num_envs) for i in range(num_envs)]
    game_actions = list(action_set(config))
    rng = np.random.default_rng(seed)
    device = next(student.network.parameters()).device
    venv = make_vector_env(config, num_envs)
    bar = _progress_bar(progress, steps if episodes is None else episodes, config.game, episodes is not None)
    tracker = EpisodeTracker(num_envs)
    episode_of = np.arange(num_envs, dtype=np.int64)
    next_episode: int = num_envs
    finished = np.zeros(num_envs, dtype=np.int64)
    lost = np.zeros(num_envs, dtype=np.int64)  # lives lost in each env's running episode
    windows: list[deque] = [deque(maxlen=before_death) for _ in range(num_envs)]
    columns: dict[str, list[np.ndarray]] = {}
    play = GamePlay(config.game, game_actions, {})
    recorded = 0
    try:
        frames, info = venv.reset(seed=seed)
        lives = np.asarray(info["lives"], dtype=np.int64)
        while not _done(recorded, steps, finished, quota):
            observed = torch.from_numpy(frames).to(device)
            student_outputs = student.outputs_at(observed)
            # Every env draws every step, as in the evaluation: the random stream does not
            # depend on which envs are resetting.
            actions = epsilon_greedy(student_outputs.argmax(axis=1), epsilon, rng, len(game_actions))
            teacher_outputs = teacher.outputs_at(observed) if teacher is not None else None
            scores, lengths = tracker.returns.copy(), tracker.lengths.copy()
            next_frames, rewards, terminated, truncated, info = venv.step(actions)
            playing, ended, ended_episodes = tracker.step(rewards, terminated, truncated)
            new_lives = np.asarray(info["lives"], dtype=np.int64)
            life_lost = playing & (new_lives < lives)
            counted = playing & (np.ones(num_envs, bool) if quota is None else finished < np.asarray(quota))
            chosen = np.flatnonzero(counted)
            step_rows = recorded + np.arange(len(chosen))
            for name, values in (
                ("student_outputs", student_outputs), ("teacher_outputs", teacher_outputs), ("actions", actions),
                ("rewards", rewards.astype(np.float32)), ("scores", scores), ("episode_steps", lengths),
                ("episodes", episode_of), ("envs", np.arange(num_envs, dtype=np.int64)), ("lives", lives),
                ("life_lost", life_lost),
            ):  # fmt: skip
                if values is not None:
                    columns.setdefault(name, []).append(np.asarray(values)[chosen])
            for row, env in zip(step_rows.tolist(), chosen.tolist()):
                windows[env].append((row, frames[env].copy()))
                if life_lost[env]:
                    play.deaths.append(_death(windows[env], env, episode_of, lengths, scores, lives, new_lives))
                    lost[env] += 1
            recorded += len(chosen)
            for episode in ended_episodes:
                if counted[episode.env]:
                    play.episodes.append(_episode(episode_of[episode.env], episode.env, episode.episode_return,
                                                  episode.length, True, episode.truncated,
                                                  lost[episode.env]))  # fmt: skip
                finished[episode.env] += 1
                episode_of[episode.env], next_episode = next_episode, next_episode + 1
                lost[episode.env] = 0
                windows[episode.env].clear()
            if bar is not None:
                bar.update(int(ended.sum()) if episodes is not None else len(chosen))
            frames, lives = next_frames, new_lives
        for cut in range(num_envs):  # the episodes the budget cut
            if tracker.lengths[cut] > 0 and (quota is None or finished[cut] < quota[cut]):
                play.episodes.append(_episode(episode_of[cut], cut, float(tracker.returns[cut]),
                                              int(tracker.lengths[cut]), False, False, lost[cut]))  # fmt: skip
    finally:
        venv.close()
        if bar is not None:
            bar.close()
    play.steps = {name: np.concatenate(parts) for name, parts in columns.items()}
    play.episodes.sort(key=lambda row: row["episode"])
    return play


def _death(window: deque, env: int, episode_of, lengths, scores, lives, new_lives) -> Death:
    rows = np.array([row for row, _ in window], dtype=np.int64)
    return Death(
        index=int(rows[-1]), episode=int(episode_of[env]), env=int(env), episode_step=int(lengths[env]),
        score=float(scores[env]), lives_before=int(lives[env]), lives_after=int(new_lives[env]),
        rows=rows, stacks=np.stack([stack for _, stack in window]),
    )  # fmt: skip


def _episode(episode, env, episode_return, length, complete, truncated, lives_lost) -> dict:
    return {"episode": int(episode), "env": int(env), "return": float(episode_return), "length": int(length),
            "complete": bool(complete), "truncated": bool(truncated), "lives_lost": int(lives_lost)}  # fmt: skip


def _done(recorded: int, steps: int | None, finished: np.ndarray, quota: list[int] | None) -> bool:
    if quota is not None:
        return bool(np.all(finished >= np.asarray(quota)))
    return steps is not None and recorded >= steps


def _progress_bar(progress: bool, total: int | None, game: str, by_episode: bool):
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=f"diagnose {game}", unit="episode" if by_episode else "step")
