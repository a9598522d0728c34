"""Plot each shipped expert's learning curve next to its JSON: experts/<game>.png.

    python scripts/plot_experts.py                  # every experts/*.json
    python scripts/plot_experts.py experts/pong.json

Everything comes from the JSON that `amn train-dqn` writes next to an exported expert, so the
plot can be redrawn on a machine without the run directory: the training episodes' returns
(exploring policy, binned), the periodic evaluations, the final evaluation with its standard
error, and a random policy scored with the same protocol.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def standard_error(result: dict) -> float:
    return result["std"] / math.sqrt(max(result["num_episodes"], 1))


def plot_expert(document: dict, out: Path) -> Path:
    training, expert, random_policy = document["training"], document["expert"], document["random_policy"]
    game = document["game"]
    fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=100)
    if training.get("training_curve"):
        steps, returns, _ = zip(*training["training_curve"])
        ax.plot(steps, returns, color="tab:blue", alpha=0.45, label="training episodes (exploring)")
    if training.get("evaluation_curve"):
        steps, means = zip(*training["evaluation_curve"])
        ax.plot(steps, means, "o-", color="tab:blue", label="evaluation (epsilon 0.05)")
    final_step = training["agent_steps"]
    ax.errorbar([final_step], [expert["mean"]], yerr=[standard_error(expert)], fmt="s", color="black",
                capsize=4, label=f"final: {expert['mean']:.1f} ± {standard_error(expert):.1f} (s.e.)")  # fmt: skip
    ax.axhline(random_policy["mean"], color="tab:red", linestyle="--",
               label=f"random policy: {random_policy['mean']:.1f}")  # fmt: skip
    for segment_end in _segment_boundaries(training)[:-1]:
        ax.axvline(segment_end, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("agent steps (4 frames each)")
    ax.set_ylabel("episode return (raw score)")
    ax.set_title(f"{game}: {final_step:,} agent steps, {training['wall_hours']:.1f} h on a 2-core CPU")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out


def _segment_boundaries(training: dict) -> list[int]:
    """Agent steps at which each training run (segment) ended: dotted lines between them."""
    ends, total = [], 0
    for segment in training.get("segments", []):
        total += segment["agent_steps"]
        ends.append(total)
    return ends


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", nargs="*", type=Path, help="expert JSON files (default: experts/*.json)")
    args = parser.parse_args()
    paths = args.json or sorted(Path("experts").glob("*.json"))
    for path in paths:
        print(plot_expert(json.loads(path.read_text()), path.with_suffix(".png")))


if __name__ == "__main__":
    main()
