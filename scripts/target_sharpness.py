"""How sharp the policy targets of teacher stores are at a few temperatures.

    python scripts/target_sharpness.py runs/results/stores/*.zarr [--tau 1 0.1 0.01] [--steps 20000]

Distillation's policy target for a state is softmax(Q_E / tau) over the game's actions (or
softmax(logits_E / tau) for a policy-gradient teacher; distill/losses.py). When the Q-values of
a state differ by much less than tau, that target is nearly uniform, and the cross-entropy
then makes the AMN's logits regress the Q-values up to a constant rather than copy a sharp
policy. For each store and tau this prints, over the store's first --steps steps, the median
of: the target's entropy as a share of log(number of actions) (1: uniform, 0: one action),
and the target's probability of the teacher's best action; and once per store, the median
gap between the two best outputs.
"""

from __future__ import annotations

import argparse
import math
import sys

import numpy as np
import torch

from actor_mimic.datasets import TeacherDataset
from actor_mimic.distill.losses import expert_policy
from actor_mimic.errors import UserError


def sharpness(outputs: np.ndarray, tau: float) -> tuple[float, float]:
    """(median entropy / log(A), median probability of the best action) of softmax(outputs / tau).

    outputs: float (N, A) a teacher's Q-values or logits over its game's A actions.
    """
    values = torch.from_numpy(outputs.astype(np.float64))
    policy = expert_policy(values, torch.ones_like(values, dtype=torch.bool), tau)
    entropy = -(policy * policy.clamp_min(1e-300).log()).sum(dim=-1)
    best = policy.gather(1, values.argmax(dim=-1, keepdim=True)).squeeze(1)
    return float(entropy.median()) / math.log(outputs.shape[1]), float(best.median())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stores", nargs="+", help="teacher stores (Zarr or HDF5)")
    parser.add_argument("--tau", type=float, nargs="+", default=[1.0, 0.1, 0.01], help="temperatures")
    parser.add_argument("--steps", type=int, default=20_000, help="steps read per store (its first ones)")
    args = parser.parse_args(argv)
    if args.steps < 1 or any(tau <= 0 for tau in args.tau):
        parser.error("--steps and every --tau must be positive")
    for path in args.stores:
        try:
            shard = TeacherDataset(path).shards[0]
        except UserError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        outputs = shard.values("q_values", 0, min(args.steps, shard.num_steps))
        ordered = np.sort(outputs, axis=1)
        kind = shard.attrs.get("teacher_outputs", "q_values")
        print(f"{path}: {shard.game}, {outputs.shape[1]} actions, {len(outputs):,} steps of {kind}; "
              f"median gap between the two best {np.median(ordered[:, -1] - ordered[:, -2]):.3g}")  # fmt: skip
        for tau in args.tau:
            entropy, best = sharpness(outputs, tau)
            print(f"  tau {tau:g}: entropy {entropy:.2f} of uniform's, best action's probability {best:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
