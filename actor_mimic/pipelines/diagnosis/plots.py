"""The plots of a diagnosis, for people who would rather look than read (matplotlib, files only).

agreement.png   per game: agreement and KL against the episode's step and against the
                score, with the lives lost in each bin as grey bars (right axis)
q_values.png    a DQN's first updates: each action's mean Q-value, which action is greedy
                on the probe states, and the episodes' lengths (dqn_start.py)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from actor_mimic.common.outputs import atomic_output


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _centres(rows: list[dict]) -> np.ndarray:
    return np.array([(row["low"] + row["high"]) / 2 for row in rows], dtype=np.float64)


def _values(rows: list[dict], key: str) -> np.ndarray:
    return np.array([np.nan if row[key] is None else row[key] for row in rows], dtype=np.float64)


def plot_agreement(path: Path, game: str, by_step: list[dict], by_score: list[dict]) -> Path:
    plt = _pyplot()
    figure, axes = plt.subplots(2, 2, figsize=(11, 7), squeeze=False)
    panels = [(by_step, "agreement", "episode step"), (by_step, "kl", "episode step"),
              (by_score, "agreement", "score so far"), (by_score, "kl", "score so far")]  # fmt: skip
    for ax, (rows, key, xlabel) in zip(axes.flat, panels):
        x = _centres(rows)
        width = rows[0]["high"] - rows[0]["low"]
        deaths = ax.twinx()
        deaths.bar(x, [row["lives_lost"] for row in rows], width=width * 0.9, color="0.85", zorder=0)
        deaths.set_ylabel("lives lost", color="0.5")
        ax.set_zorder(deaths.get_zorder() + 1)
        ax.patch.set_visible(False)
        values = _values(rows, key)
        if np.isfinite(values).any():
            ax.plot(x, values, marker="o", color="tab:blue" if key == "agreement" else "tab:red")
        ax.set_xlabel(xlabel)
        ax.set_ylabel({"agreement": "greedy agreement", "kl": "KL(teacher || student)"}[key])
        if key == "agreement":
            ax.set_ylim(-0.02, 1.02)
    figure.suptitle(f"{game}: the student's own states, labelled by the teacher (bins of states)")
    figure.tight_layout()
    with atomic_output(path) as temporary:
        figure.savefig(temporary, dpi=90, format="png")
    plt.close(figure)
    return path


def plot_q_values(path: Path, title: str, updates: np.ndarray, q_means: np.ndarray, greedy_shares: np.ndarray,
                  names: list[str], episodes: list[tuple[float, float]]) -> Path:  # fmt: skip
    """updates (R,), q_means and greedy_shares (R, A); episodes: (step, length) of each one."""
    plt = _pyplot()
    figure, axes = plt.subplots(3, 1, figsize=(10, 10))
    colours = plt.get_cmap("tab20")(np.linspace(0, 1, max(len(names), 2)))
    for a, name in enumerate(names):
        axes[0].plot(updates, q_means[:, a], color=colours[a], label=name)
    axes[0].set_ylabel("mean Q over the probe states")
    axes[0].legend(fontsize=7, ncol=min(6, len(names)))
    axes[1].stackplot(updates, greedy_shares.T, colors=colours[: len(names)], labels=names)
    axes[1].set_ylabel("greedy on this share of the probe states")
    axes[1].set_ylim(0, 1)
    for ax in axes[:2]:
        ax.set_xlabel("updates")
    if episodes:
        steps, lengths = zip(*episodes)
        axes[2].plot(steps, lengths, ".", markersize=3)
    axes[2].set_xlabel("agent step the episode ended at")
    axes[2].set_ylabel("episode length (agent steps)")
    figure.suptitle(title)
    figure.tight_layout()
    with atomic_output(path) as temporary:
        figure.savefig(temporary, dpi=90, format="png")
    plt.close(figure)
    return path
