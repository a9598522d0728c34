"""`amn train-dqn`: train a DQN on one game, from scratch or from an AMN, and export an expert.

    amn train-dqn --game breakout --run-dir runs/breakout --preset cheap --steps 500000 \\
        --export experts/breakout.safetensors
    amn train-dqn --game breakout --run-dir runs/breakout --resume        # after a kill
    amn train-dqn --game breakout --run-dir runs/t --init amn.safetensors [--fresh-head]
    amn train-dqn --init-expert experts/breakout.safetensors --run-dir runs/breakout-2  # continue
    amn train-dqn --config breakout.yaml --seed 2     # settings from a file (n_step: 3), flags win

Every flag is a field: of `TrainOptions` (transfer/options.py), of `DQNConfig` (the
hyper-parameters, over the preset where given) or of `AtariConfig` (the environment's
dynamics); --config FILE.yaml takes the same settings, keyed by the flags in snake_case.

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
its scores and a random policy's next to it. SIGTERM saves the run at its next step and exits
143 without evaluating; --resume continues it.

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
from actor_mimic.common.checkpoint import check_checkpoint_output, load_checkpoint
from actor_mimic.common.outputs import Output, check_folder, check_output
from actor_mimic.common.settings import add_settings, build, chosen, given_fields
from actor_mimic.errors import UserError
from actor_mimic.transfer import run_state
from actor_mimic.transfer.config import DQNConfig, preset
from actor_mimic.transfer.export import export_expert, is_scores_file, write_scores
from actor_mimic.transfer.initialisation import fresh_network, network_from_amn, network_from_expert
from actor_mimic.transfer.learner import SESSION_SETTINGS, DQNLearner
from actor_mimic.transfer.logs import RUN_FILES
from actor_mimic.transfer.options import TrainOptions

ENVIRONMENT = "environment (defaults: the shared Atari settings; with --init-expert, the expert's)"
HYPER_PARAMETERS = "hyper-parameters (defaults: the paper preset's; those given override --preset)"
# A run SIGTERM stopped saved its state and exits 128 + 15, as a process that signal ends
# would (and as `amn collect` and `amn distill fit` do): a script chaining stages stops there.
STOPPED_BY_SIGTERM = 128 + signal.SIGTERM


def configure(parser: argparse.ArgumentParser) -> None:
    """A flag per field of TrainOptions, DQNConfig and AtariConfig's dynamics, and --config."""
    add_settings(parser, TrainOptions, (HYPER_PARAMETERS, DQNConfig), (ENVIRONMENT, AtariConfig))


def atari_config(game: str | None, environment: dict, recorded: AtariConfig | None = None) -> AtariConfig:
    """The Atari settings given (`environment`: field -> value) over `recorded` ones (an
    expert's) or the shared defaults."""
    game = game or (recorded.game if recorded else None)
    if not game:
        raise UserError("--game is required to start a run (e.g. --game breakout)")
    settings = recorded.to_dict() if recorded else {}
    settings.pop("game", None)
    return AtariConfig(game, **(settings | environment))


def run_folder(options: TrainOptions) -> str:
    """--run-dir: a required setting, which `build` refuses options without."""
    if options.run_dir is None:
        raise UserError("--run-dir is required")
    return options.run_dir


def check_outputs(options: TrainOptions, has_checkpoint: bool) -> None:
    """--run-dir and --export, checked before anything is built (common.outputs)."""
    run_dir = check_folder(options.run_dir, "--run-dir", "run folder")
    if not has_checkpoint and not options.resume:
        leftovers = sorted(name for name in RUN_FILES if (run_dir / name).exists())
        if leftovers:
            raise UserError(
                f"{run_dir} holds {', '.join(leftovers)} of a run that saved no checkpoint: pass --resume "
                "to start that run again (its logs are replaced), or choose another --run-dir"
            )
    if options.export is not None:
        export = check_checkpoint_output(options.export, options.overwrite, "--export")
        check_output(
            export.with_suffix(".json"), Output("score file", "--export", is_ours=is_scores_file), options.overwrite
        )


def _resume(options: TrainOptions, overrides: dict) -> DQNLearner:
    checkpoint = run_state.checkpoint_dir(run_folder(options))
    if checkpoint is None:
        raise UserError(f"{options.run_dir} holds no checkpoint to resume")
    saved = run_state.read_state(checkpoint)
    config = saved["config"]
    session = {k: v for k, v in overrides.items() if k in SESSION_SETTINGS}
    differ = sorted(k for k, v in overrides.items()
                    if k != "total_steps" and k not in session and config.get(k) != v)  # fmt: skip
    if differ:
        raise UserError(
            f"{options.run_dir}: {', '.join(differ)} differ from the saved run's settings; drop "
            "them to resume, or start a new --run-dir"
        )
    saved_preset = saved["provenance"].get("preset")
    if options.preset and saved_preset and options.preset != saved_preset:
        raise UserError(f"{options.run_dir}: this run uses --preset {saved_preset}, not {options.preset}")
    if options.game and AtariConfig(options.game).game != saved["atari"]["game"]:
        raise UserError(f"{options.run_dir}: this run plays {saved['atari']['game']}, not {options.game}")
    if overrides.get("total_steps", config["total_steps"]) < saved["step"]:
        raise UserError(f"--steps {overrides['total_steps']} is below the run's {saved['step']} steps done")
    print(f"resuming {options.run_dir} at step {saved['step']} (rebuilding the environments)", flush=True)
    return DQNLearner.resume(run_folder(options), progress=options.progress,
                             total_steps=overrides.get("total_steps"), session=session)  # fmt: skip


def _continue_expert(expert: str, options: TrainOptions, overrides: dict, environment: dict) -> DQNLearner:
    """A new run that warm-starts from the expert checkpoint `expert` (--init-expert)."""
    if options.init or options.fresh_head:
        raise UserError("--init-expert continues an expert; it cannot be combined with --init or --fresh-head")
    checkpoint = load_checkpoint(expert)
    atari = atari_config(options.game, environment, checkpoint.metadata.atari_config())
    init = network_from_expert(checkpoint, atari)
    provenance = checkpoint.metadata.provenance or {}
    recorded = provenance.get("dqn_config")
    options.preset = options.preset or provenance.get("preset") or "paper"
    if recorded and options.preset == provenance.get("preset"):
        config = DQNConfig.from_dict({**recorded, **overrides})
    else:
        config = preset(options.preset, **overrides)
    # A trained policy refills the replay memory, so exploration starts where it ended, and
    # new seeds keep this run's episodes from repeating the earlier runs' ones.
    earlier_runs = max(1, len(init.provenance["prior_training"].get("segments", [])))
    if "epsilon_start" not in overrides:
        config = dataclasses.replace(config, epsilon_start=config.epsilon_end)
    if "seed" not in overrides:
        config = dataclasses.replace(config, seed=config.seed + earlier_runs)
    init.provenance["preset"] = options.preset
    return DQNLearner(atari, config, init, run_folder(options), progress=options.progress)


def _start(options: TrainOptions, overrides: dict, environment: dict) -> DQNLearner:
    if options.init_expert:
        return _continue_expert(options.init_expert, options, overrides, environment)
    atari = atari_config(options.game, environment)
    options.preset = options.preset or "paper"
    config = preset(options.preset, **overrides)
    if options.fresh_head and not options.init:
        raise UserError("--fresh-head only applies with --init AMN_CHECKPOINT")
    if options.init:
        init = network_from_amn(options.init, atari, fresh_head=options.fresh_head, seed=config.seed)
    else:
        init = fresh_network(atari, options.architecture, seed=config.seed)
    init.provenance["preset"] = options.preset
    return DQNLearner(atari, config, init, run_folder(options), progress=options.progress)


def run(args: argparse.Namespace) -> int:
    given = chosen(args)  # the --config file's settings, overridden by the flags typed
    options = build(TrainOptions, given)
    overrides = given_fields(DQNConfig, given)  # over the preset (or the expert's recorded settings)
    environment = given_fields(AtariConfig, given)  # over the shared Atari settings (or the expert's)
    has_checkpoint = run_state.checkpoint_dir(options.run_dir) is not None if options.run_dir else False
    if has_checkpoint and not options.resume:
        raise UserError(
            f"{options.run_dir} already holds a run: pass --resume to continue it, or choose another --run-dir"
        )
    check_outputs(options, has_checkpoint)
    if has_checkpoint:
        if options.init or options.fresh_head or options.init_expert:
            raise UserError(
                "--init, --init-expert and --fresh-head only apply when a run starts; drop them with --resume"
            )
        learner = _resume(options, overrides)
    else:
        learner = _start(options, overrides, environment)

    def request_stop(signum, frame):  # save a checkpoint at the next step, then leave
        learner.stop_requested = True

    signal.signal(signal.SIGTERM, request_stop)
    try:
        finished = learner.run()
        if not finished and learner.stop_requested:
            print(f"stopped at step {learner.step}; continue with --resume", flush=True)
            return STOPPED_BY_SIGTERM
        finish(learner, options)
    finally:
        learner.close()
    return 0


def finish(learner: DQNLearner, options: TrainOptions) -> None:
    """Evaluate the expert and a random policy with the shared protocol; export both."""
    from actor_mimic.common.evaluation import evaluate

    c, atari = learner.config, learner.atari
    print(f"training done at step {learner.step}; evaluating over {options.final_eval_steps} steps", flush=True)

    def score(epsilon: float) -> dict:  # the shared protocol; epsilon 1 plays at random
        return evaluate(
            learner.expert(), atari, list(action_set(atari)),
            steps=options.final_eval_steps, epsilon=epsilon, num_envs=c.eval_num_envs, seed=c.seed + 2,
        ).to_dict()  # fmt: skip

    expert_result, random_result = score(c.eval_epsilon), score(1.0)
    # The run folder's own expert is replaced by each finish (a resumed run may extend it);
    # --export only with --overwrite, as checked when the command started.
    targets = [(Path(run_folder(options)) / "expert.safetensors", True)]
    targets += [(Path(options.export), options.overwrite)] if options.export else []
    for path, overwrite in targets:
        export_expert(learner, path, expert_result, options.export_dtype, overwrite=overwrite)
        write_scores(path.with_suffix(".json"), learner, expert_result, random_result)
    summary = {"game": atari.game, "steps": learner.step, "expert_mean": round(expert_result["mean"], 2),
               "random_mean": round(random_result["mean"], 2), "written": [str(p) for p, _ in targets]}  # fmt: skip
    print(json.dumps(summary), flush=True)
