"""`amn train-dqn`: train a DQN on one game, from scratch or from an AMN, and export an expert.

    amn train-dqn --game breakout --run-dir runs/breakout --preset cheap --steps 500000 \\
        --export experts/breakout.safetensors
    amn train-dqn --game breakout --run-dir runs/breakout --resume        # after a kill
    amn train-dqn --game breakout --run-dir runs/t --init amn.safetensors [--fresh-head]
    amn train-dqn --init-expert experts/breakout.safetensors --run-dir runs/breakout-2  # continue

`--init-expert` continues a shipped expert on a machine that lacks its run directory: the
network is the expert's, the Atari and DQN settings are the ones it recorded (flags and
`--preset` override them), exploration starts at the final epsilon, the seed moves on by one
per earlier run, and `--steps` counts this run's steps. The exported summary covers the whole
training. What a warm start loses against `--resume`: `initialisation.network_from_expert`.

`--resume` continues the run in --run-dir at its saved step (or starts it if it has no
checkpoint yet), so the same command can be re-run until the budget is done. Settings given
on the command line must then agree with the run's saved ones, except --steps (may grow),
--max-wall-minutes and --checkpoint-minutes (they only decide when this session stops/saves).
When the budget is reached (or --max-wall-minutes runs out) the expert is evaluated with the
shared protocol and written to <run-dir>/expert.safetensors and to --export, with a JSON of
its scores and a random policy's next to it.

Outputs (`actor_mimic.common.outputs`), checked before anything starts: --run-dir is created
if missing and may hold other files; a run is only started where no run's files are (or with
--resume); --export is written only where no file is, or over an actor-mimic checkpoint with
--overwrite.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
from pathlib import Path

from actor_mimic.common.atari import AtariConfig, action_set
from actor_mimic.common.checkpoint import check_checkpoint_output
from actor_mimic.common.limits import check_steps
from actor_mimic.common.outputs import Output, check_folder, check_output
from actor_mimic.errors import UserError
from actor_mimic.transfer import run_state
from actor_mimic.common.checkpoint import load_checkpoint
from actor_mimic.transfer.config import PRESETS, DQNConfig, preset
from actor_mimic.transfer.export import DTYPES, export_expert, is_scores_file, write_scores
from actor_mimic.transfer.initialisation import fresh_network, network_from_amn, network_from_expert
from actor_mimic.transfer.learner import SESSION_SETTINGS, DQNLearner
from actor_mimic.transfer.logs import RUN_FILES

# flag -> DQNConfig field; all default to None so only what the user typed overrides the preset.
HYPER_PARAMETERS = {
    "steps": ("total_steps", int), "num_envs": ("num_envs", int), "env_threads": ("env_threads", int),
    "torch_threads": ("torch_threads", int), "discount": ("discount", float),
    "n_step": ("n_step", int), "optimizer": ("optimizer", str), "learning_rate": ("learning_rate", float),
    "batch_size": ("batch_size", int), "train_every": ("train_every", int),
    "target_update": ("target_update_updates", int), "learning_starts": ("learning_starts", int),
    "replay_capacity": ("replay_capacity", int), "epsilon_start": ("epsilon_start", float),
    "epsilon_end": ("epsilon_end", float), "epsilon_decay_steps": ("epsilon_decay_steps", int),
    "max_grad_norm": ("max_grad_norm", float), "eval_every": ("eval_every", int),
    "eval_steps": ("eval_steps", int), "eval_num_envs": ("eval_num_envs", int),
    "checkpoint_minutes": ("checkpoint_every_minutes", float),
    "max_wall_minutes": ("max_wall_minutes", float),
}  # fmt: skip


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--game", help="Atari game, e.g. breakout (not needed with --resume)")
    parser.add_argument("--run-dir", required=True, help="where checkpoints and logs go")
    parser.add_argument("--resume", action="store_true", help="continue the run in --run-dir")
    parser.add_argument("--preset", choices=sorted(PRESETS), help="base settings (default: paper)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--init", metavar="AMN_CHECKPOINT", help="initialise from an AMN")
    parser.add_argument("--fresh-head", action="store_true", help="with --init: new output layer")
    parser.add_argument("--init-expert", metavar="EXPERT_CHECKPOINT",
                        help="continue training this expert (its game and settings unless flags say otherwise)")
    parser.add_argument("--architecture", default="nature_dqn", help="for a fresh network")
    parser.add_argument("--export", metavar="PATH", help="also write the expert here (.safetensors), "
                        "with its scores in PATH.json; checked before training starts")  # fmt: skip
    parser.add_argument("--overwrite", action="store_true",
                        help="replace --export (and its .json) if it holds an actor-mimic checkpoint")  # fmt: skip
    parser.add_argument("--export-dtype", default="float16", choices=sorted(DTYPES))
    parser.add_argument("--final-eval-steps", type=int, default=125_000)
    parser.add_argument("--no-progress", action="store_true")
    add_hyper_parameters(parser)
    add_environment_options(parser)

HELP = {
    "steps": "training budget in agent steps (4 emulator frames each)",
    "num_envs": "environments stepped in lockstep", "train_every": "one update per this many agent steps",
    "target_update": "sync the target network every this many updates",
    "learning_starts": "agent steps of play before the first update",
    "replay_capacity": "replay memory size in agent steps", "optimizer": "rmsprop or adam",
    "eval_every": "evaluate every this many agent steps", "eval_steps": "agent steps per evaluation",
    "checkpoint_minutes": "save the learner every this many wall-clock minutes",
    "max_wall_minutes": "stop (save, evaluate, export) after this many minutes; 0: no limit",
}  # fmt: skip


def add_hyper_parameters(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("hyper-parameters (override the preset; see config.py)")
    for flag, (_, kind) in HYPER_PARAMETERS.items():
        group.add_argument("--" + flag.replace("_", "-"), type=kind, default=None, help=HELP.get(flag))
    group.add_argument("--double-dqn", action=argparse.BooleanOptionalAction, default=None)
    group.add_argument("--clip-rewards", action=argparse.BooleanOptionalAction, default=None)


def add_environment_options(parser: argparse.ArgumentParser) -> None:
    env = parser.add_argument_group("environment (defaults: the shared Atari settings)")
    env.add_argument("--noop-max", type=int, default=None)
    env.add_argument("--sticky-actions", type=float, default=None, help="repeat_action_probability")
    env.add_argument("--max-episode-frames", type=int, default=None)


def hyper_parameter_overrides(args: argparse.Namespace) -> dict:
    """DQNConfig fields the user gave on the command line."""
    chosen = {field: getattr(args, flag) for flag, (field, _) in HYPER_PARAMETERS.items()
              if getattr(args, flag) is not None}  # fmt: skip
    for name in ("double_dqn", "clip_rewards", "seed"):
        if getattr(args, name, None) is not None:
            chosen[name] = getattr(args, name)
    return chosen


def atari_config(args: argparse.Namespace, recorded: AtariConfig | None = None) -> AtariConfig:
    """The flags' Atari settings over `recorded` ones (an expert's) or the shared defaults."""
    game = args.game or (recorded.game if recorded else None)
    if not game:
        raise UserError("--game is required to start a run (e.g. --game breakout)")
    settings = recorded.to_dict() if recorded else {}
    settings.pop("game", None)
    flags = {"noop_max": args.noop_max, "repeat_action_probability": args.sticky_actions,
             "max_episode_frames": args.max_episode_frames}  # fmt: skip
    settings.update({k: v for k, v in flags.items() if v is not None})
    return AtariConfig(game, **settings)


def check_outputs(args: argparse.Namespace, has_checkpoint: bool) -> None:
    """--run-dir and --export, checked before anything is built (common.outputs)."""
    run_dir = check_folder(args.run_dir, "--run-dir", "run folder")
    if not has_checkpoint and not args.resume:
        leftovers = sorted(name for name in RUN_FILES if (run_dir / name).exists())
        if leftovers:
            raise UserError(
                f"{run_dir} holds {', '.join(leftovers)} of a run that saved no checkpoint: pass --resume "
                "to start that run again (its logs are replaced), or choose another --run-dir"
            )
    if args.export is not None:
        export = check_checkpoint_output(args.export, args.overwrite, "--export")
        check_output(export.with_suffix(".json"), Output("score file", "--export", is_ours=is_scores_file), args.overwrite)


def _resume(args: argparse.Namespace, overrides: dict) -> DQNLearner:
    saved = run_state.read_state(run_state.checkpoint_dir(args.run_dir))
    config = saved["config"]
    session = {k: v for k, v in overrides.items() if k in SESSION_SETTINGS}
    differ = sorted(k for k, v in overrides.items()
                    if k != "total_steps" and k not in session and config.get(k) != v)  # fmt: skip
    if differ:
        raise UserError(
            f"{args.run_dir}: {', '.join(differ)} differ from the saved run's settings; drop "
            "them to resume, or start a new --run-dir"
        )
    saved_preset = saved["provenance"].get("preset")
    if args.preset and saved_preset and args.preset != saved_preset:
        raise UserError(f"{args.run_dir}: this run uses --preset {saved_preset}, not {args.preset}")
    if args.game and AtariConfig(args.game).game != saved["atari"]["game"]:
        raise UserError(f"{args.run_dir}: this run plays {saved['atari']['game']}, not {args.game}")
    if overrides.get("total_steps", config["total_steps"]) < saved["step"]:
        raise UserError(f"--steps {overrides['total_steps']} is below the run's {saved['step']} steps done")
    print(f"resuming {args.run_dir} at step {saved['step']} (rebuilding the environments)", flush=True)
    return DQNLearner.resume(args.run_dir, progress=not args.no_progress,
                             total_steps=overrides.get("total_steps"), session=session)  # fmt: skip


def _continue_expert(args: argparse.Namespace, overrides: dict) -> DQNLearner:
    """A new run that warm-starts from the expert checkpoint `args.init_expert`."""
    if args.init or args.fresh_head:
        raise UserError("--init-expert continues an expert; it cannot be combined with --init or --fresh-head")
    checkpoint = load_checkpoint(args.init_expert)
    atari = atari_config(args, checkpoint.metadata.atari_config())
    init = network_from_expert(checkpoint, atari)
    provenance = checkpoint.metadata.provenance or {}
    recorded = provenance.get("dqn_config")
    args.preset = args.preset or provenance.get("preset") or "paper"
    if recorded and args.preset == provenance.get("preset"):
        config = DQNConfig.from_dict({**recorded, **overrides})
    else:
        config = preset(args.preset, **overrides)
    # A trained policy refills the replay memory, so exploration starts where it ended, and
    # new seeds keep this run's episodes from repeating the earlier runs' ones.
    earlier_runs = max(1, len(init.provenance["prior_training"].get("segments", [])))
    continued = {"epsilon_start": config.epsilon_end, "seed": config.seed + earlier_runs}
    config = dataclasses.replace(config, **{k: v for k, v in continued.items() if k not in overrides})
    init.provenance["preset"] = args.preset
    return DQNLearner(atari, config, init, args.run_dir, progress=not args.no_progress)


def _start(args: argparse.Namespace, overrides: dict) -> DQNLearner:
    if args.init_expert:
        return _continue_expert(args, overrides)
    atari = atari_config(args)
    args.preset = args.preset or "paper"
    config = preset(args.preset, **overrides)
    if args.fresh_head and not args.init:
        raise UserError("--fresh-head only applies with --init AMN_CHECKPOINT")
    if args.init:
        init = network_from_amn(args.init, atari, fresh_head=args.fresh_head, seed=config.seed)
    else:
        init = fresh_network(atari, args.architecture, seed=config.seed)
    init.provenance["preset"] = args.preset
    return DQNLearner(atari, config, init, args.run_dir, progress=not args.no_progress)


def run(args: argparse.Namespace) -> int:
    check_steps(args.final_eval_steps, "--final-eval-steps")
    overrides = hyper_parameter_overrides(args)
    has_checkpoint = run_state.checkpoint_dir(args.run_dir) is not None if args.run_dir else False
    if has_checkpoint and not args.resume:
        raise UserError(f"{args.run_dir} already holds a run: pass --resume to continue it, or choose another --run-dir")
    check_outputs(args, has_checkpoint)
    if has_checkpoint:
        if args.init or args.fresh_head or args.init_expert:
            raise UserError("--init, --init-expert and --fresh-head only apply when a run starts; drop them with --resume")
        learner = _resume(args, overrides)
    else:
        learner = _start(args, overrides)

    def request_stop(signum, frame):  # save a checkpoint at the next step, then leave
        learner.stop_requested = True

    signal.signal(signal.SIGTERM, request_stop)
    try:
        finished = learner.run()
        if not finished and learner.stop_requested:
            print(f"stopped at step {learner.step}; continue with --resume", flush=True)
            return 0
        finish(learner, args)
    finally:
        learner.close()
    return 0


def finish(learner: DQNLearner, args: argparse.Namespace) -> None:
    """Evaluate the expert and a random policy with the shared protocol; export both."""
    from actor_mimic.common.evaluation import evaluate

    c, atari = learner.config, learner.atari
    print(f"training done at step {learner.step}; evaluating over {args.final_eval_steps} steps", flush=True)
    protocol = dict(steps=args.final_eval_steps, epsilon=c.eval_epsilon, num_envs=c.eval_num_envs, seed=c.seed + 2)
    expert_result = evaluate(learner.expert(), atari, list(action_set(atari)), **protocol).to_dict()
    random_protocol = protocol | {"epsilon": 1.0}
    random_result = evaluate(learner.expert(), atari, list(action_set(atari)), **random_protocol).to_dict()
    # The run folder's own expert is replaced by each finish (a resumed run may extend it);
    # --export only with --overwrite, as checked when the command started.
    targets = [(Path(args.run_dir) / "expert.safetensors", True)]
    targets += [(Path(args.export), args.overwrite)] if args.export else []
    for path, overwrite in targets:
        export_expert(learner, path, expert_result, args.export_dtype, overwrite=overwrite)
        write_scores(path.with_suffix(".json"), learner, expert_result, random_result)
    targets = [path for path, _ in targets]
    summary = {"game": atari.game, "steps": learner.step, "expert_mean": round(expert_result["mean"], 2),
               "random_mean": round(random_result["mean"], 2), "written": [str(p) for p in targets]}  # fmt: skip
    print(json.dumps(summary), flush=True)
