"""`amn transfer`: random-init against AMN-init DQNs on a target game, same seeds and budget.

    amn transfer --game breakout --amn amn-policy=runs/amn_policy.safetensors \\
        --amn amn-feature=runs/amn_feature.safetensors --seeds 0 1 --steps 4000000 \\
        --out-dir runs/transfer_breakout

Writes curves.csv, curves.png, table.csv and table.md into --out-dir (see experiment.py).
Re-running the same command resumes unfinished runs and skips finished ones. Everything is
checked before the first run trains: the seeds, the AMN checkpoints and their labels (each
labels a folder), and --out-dir (created if missing; a file of the experiment's names there
is only replaced if the experiment wrote it).
`--max-wall-minutes` bounds the whole experiment's session (not each run): when it runs out,
the running DQN saves its state and the command stops with what has been evaluated so far.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from actor_mimic.common.limits import check_seed, check_steps
from actor_mimic.common.outputs import Output, check_folder, check_output
from actor_mimic.errors import UserError
from actor_mimic.transfer.cli import (
    add_environment_options,
    add_hyper_parameters,
    atari_config,
    hyper_parameter_overrides,
)
from actor_mimic.transfer.config import PRESETS, preset
from actor_mimic.transfer.experiment import (
    OUTPUT_FILES,
    TransferExperiment,
    check_amn,
    is_experiment_file,
    label_amns,
    run_experiment,
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--game", required=True, help="the target game, e.g. breakout")
    parser.add_argument("--amn", action="append", default=[], metavar="[NAME=]PATH",
                        help="an AMN checkpoint to initialise from (repeat for several variants; "
                             "none: only the random-init baseline, which can run while AMNs distill)")  # fmt: skip
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--block-size", type=int, default=1_000_000,
                        help="training steps per table column (the paper: 1M)")  # fmt: skip
    parser.add_argument("--preset", default="paper", choices=sorted(PRESETS))
    parser.add_argument("--fresh-head", action="store_true", help="AMN hidden layers, new output layer")
    parser.add_argument("--no-random", action="store_true", help="skip the random-init baseline")
    parser.add_argument("--no-progress", action="store_true")
    add_hyper_parameters(parser)
    add_environment_options(parser)


def run(args: argparse.Namespace) -> int:
    check_steps(args.block_size, "--block-size")
    for seed in args.seeds:
        check_seed(seed, "--seeds")
    if len(set(args.seeds)) != len(args.seeds):
        raise UserError(f"--seeds {args.seeds} repeats a seed; give distinct seeds")
    if args.no_random and not args.amn:
        raise UserError("--no-random without --amn leaves nothing to train; give an AMN with --amn PATH")
    atari = atari_config(args)
    config = preset(args.preset, **hyper_parameter_overrides(args))
    if config.eval_every > config.total_steps:
        raise UserError(f"--eval-every {config.eval_every} exceeds --steps {config.total_steps}: nothing would be evaluated")
    out_dir = check_folder(args.out_dir, "--out-dir", "experiment folder")
    amns = label_amns(args.amn)
    for label, path in amns.items():  # every AMN is checked before the first run trains
        check_amn(path, atari, f"--amn {label}={path}")
    for name in OUTPUT_FILES:  # re-running the experiment rewrites its own tables and plot
        check_output(out_dir / name, Output("experiment result", "--out-dir", is_ours=is_experiment_file), replace=True)
    experiment = TransferExperiment(
        atari=atari, config=config, amns=amns, seeds=list(args.seeds),
        out_dir=out_dir, block_size=args.block_size, fresh_head=args.fresh_head,
        include_random=not args.no_random,
    )  # fmt: skip
    table, complete = run_experiment(experiment, progress=not args.no_progress)
    if table:
        print((experiment.out_dir / "table.md").read_text(), end="")
        print(f"curves, plot and table written to {experiment.out_dir}")
    if not complete:
        print(f"the wall-clock limit (--max-wall-minutes {config.max_wall_minutes:g}) ended this session "
              "before every run finished; run the same command again to continue", flush=True)  # fmt: skip
    return 0
