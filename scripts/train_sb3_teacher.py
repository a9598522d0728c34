"""Train a policy-gradient Atari teacher with Stable-Baselines3, the way its RL Zoo does.

This is how the project made its non-DQN teacher (experts/asterix.*): a public library's
agent, trained with that library's own Atari protocol (v4 NoFrameskip, AtariWrapper: 30
no-ops, FIRE at reset, a lost life ends the training episode, clipped rewards, 4-frame
stacks), then imported with `amn checkpoint import-sb3` like any agent a user brings.

    python scripts/train_sb3_teacher.py --game Asterix --algo ppo --steps 1000000 \
        --out-dir runs/teachers/asterix-ppo --max-wall-minutes 150

Writes to --out-dir: `model.zip` (SB3's own format, saved every --save-minutes and at the
end), `curve.csv` (every finished game: agent steps, score, length; Monitor records whole
games, unclipped), `run.json` (settings, steps done, wall time). The same command continues
a run that stopped (it reads only the model.zip it wrote itself). Needs the `sb3` extra.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

# The RL Zoo's Atari hyperparameters (hyperparams/ppo.yml, a2c.yml): 8 (PPO) or 16 (A2C)
# environments, linear schedules for PPO's learning rate and clip range.
ZOO = {
    "ppo": {
        "n_envs": 8,
        "kwargs": {"n_steps": 128, "n_epochs": 4, "batch_size": 256, "vf_coef": 0.5, "ent_coef": 0.01},
        "learning_rate": 2.5e-4,
        "clip_range": 0.1,
    },
    "a2c": {"n_envs": 16, "kwargs": {"ent_coef": 0.01, "vf_coef": 0.25}, "learning_rate": 7e-4},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--game", default="Asterix", help="Atari game, as in <Game>NoFrameskip-v4")
    parser.add_argument("--algo", choices=sorted(ZOO), default="ppo")
    parser.add_argument("--steps", type=int, default=1_000_000, help="agent steps (4 frames each)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument(
        "--max-wall-minutes", type=float, default=0.0, help="stop (and save) after this long; 0: no limit"
    )
    parser.add_argument("--save-minutes", type=float, default=10.0)
    parser.add_argument("--torch-threads", type=int, default=1)
    args = parser.parse_args()

    import ale_py
    import gymnasium
    import torch
    from stable_baselines3 import A2C, PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_atari_env
    from stable_baselines3.common.vec_env import VecFrameStack

    torch.set_num_threads(args.torch_threads)
    gymnasium.register_envs(ale_py)
    zoo = ZOO[args.algo]
    env = VecFrameStack(make_atari_env(f"{args.game}NoFrameskip-v4", n_envs=zoo["n_envs"], seed=args.seed), 4)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    model_path = args.out_dir / "model.zip"
    curve_path = args.out_dir / "curve.csv"
    algo = {"ppo": PPO, "a2c": A2C}[args.algo]

    def linear(start: float):
        return lambda progress_remaining: progress_remaining * start

    if model_path.exists():
        model = algo.load(model_path, env=env, device="cpu")  # the run's own file
        print(f"continuing {model_path} at {model.num_timesteps} steps")
    else:
        extra = {"clip_range": linear(zoo["clip_range"])} if "clip_range" in zoo else {}
        model = algo(
            "CnnPolicy", env, learning_rate=linear(zoo["learning_rate"]), seed=args.seed, device="cpu",
            verbose=0, **zoo["kwargs"], **extra,
        )  # fmt: skip
        with curve_path.open("w", newline="") as handle:
            csv.writer(handle).writerow(["steps", "score", "length"])
    started = time.monotonic()
    first_step = model.num_timesteps
    run_json = args.out_dir / "run.json"  # earlier sessions' records (this one's is rewritten at each save)
    earlier_sessions = json.loads(run_json.read_text()).get("sessions", []) if run_json.exists() else []
    earlier_sessions = [s for s in earlier_sessions if s["to"] <= first_step and s["from"] < first_step]

    def save() -> None:
        partial = args.out_dir / "model.partial.zip"
        model.save(partial)
        partial.replace(model_path)
        state = {
            "game": args.game, "algo": args.algo, "seed": args.seed, "target_steps": args.steps,
            "steps": model.num_timesteps, "n_envs": zoo["n_envs"], "hyperparameters": zoo["kwargs"],
            "learning_rate": zoo["learning_rate"], "clip_range": zoo.get("clip_range"),
            "env": f"{args.game}NoFrameskip-v4 + AtariWrapper (SB3 defaults) + VecFrameStack(4)",
            "stable_baselines3": __import__("stable_baselines3").__version__,
        }  # fmt: skip
        this_session = {"from": first_step, "to": model.num_timesteps, "seconds": round(time.monotonic() - started)}
        state["sessions"] = [*earlier_sessions, this_session]
        (args.out_dir / "run.json").write_text(json.dumps(state, indent=2) + "\n")

    class Log(BaseCallback):
        """Appends each finished game to curve.csv; saves periodically; stops at the wall limit."""

        last_save = time.monotonic()

        def _on_step(self) -> bool:
            rows = [
                (self.num_timesteps, info["episode"]["r"], info["episode"]["l"])
                for info in self.locals["infos"]
                if "episode" in info
            ]
            if rows:
                with curve_path.open("a", newline="") as handle:
                    csv.writer(handle).writerows(rows)
            now = time.monotonic()
            if now - self.last_save > args.save_minutes * 60:
                save()
                self.last_save = now
            return not (args.max_wall_minutes and now - started > args.max_wall_minutes * 60)

    remaining = args.steps - model.num_timesteps
    if remaining > 0:
        model.learn(total_timesteps=remaining, callback=Log(), reset_num_timesteps=False)
    save()
    print(f"saved {model_path} at {model.num_timesteps} steps after {(time.monotonic() - started) / 60:.1f} min")


if __name__ == "__main__":
    main()
