"""`amn transfer`: random-init against AMN-init DQNs on a target game, same seeds and budget.

    amn transfer --game breakout --amn amn-policy=runs/amn_policy.safetensors \\
        --amn amn-feature=runs/amn_feature.safetensors --seeds 0 1 --steps 4000000 \\
        --out-dir runs/transfer_breakout

Writes curves.csv, curves.png, table.csv and table.md into --out-dir (see experiment.py).
Re-running the same command resumes unfinished runs and skips finished ones. Everything is
checked before the first run trains: the seeds, the AMN checkpoints and their labels (each
labels a folder), and --out-dir (created if missing; a file of the experiment's names there
is only replaced if the experiment wrote it).
Every flag is a field of `TransferOptions` (transfer/options.py), `DQNConfig` or `AtariConfig`,
as for `amn train-dqn`; --config FILE.yaml takes the same settings, flags override it.
`--max-wall-minutes` bounds the whole experiment's session (not each run): when it runs out,
the running DQN saves its state and the command stops with what has been evaluated so far.
SIGTERM does the same (`kill PID` on a detached experiment loses nothing) and exits 143, like
`amn collect` and `amn distill fit`, so that a script chaining stages stops there.
"""

from __future__ import annotations

import argparse
import signal

from actor_mimic.common.atari import AtariConfig
from actor_mimic.common.outputs import Output, check_folder, check_output
from actor_mimic.common.settings import add_settings, build, chosen, given_fields
from actor_mimic.errors import UserError
from actor_mimic.transfer.config import DQNConfig, preset
from actor_mimic.transfer.experiment import (
    OUTPUT_FILES,
    StopRequest,
    TransferExperiment,
    check_amn,
    is_experiment_file,
    label_amns,
    run_experiment,
)
from actor_mimic.transfer.options import TransferOptions
from actor_mimic.transfer.train_dqn_cli import ENVIRONMENT, HYPER_PARAMETERS, STOPPED_BY_SIGTERM, atari_config


def configure(parser: argparse.ArgumentParser) -> None:
    """A flag per field of TransferOptions, DQNConfig (but its seed: --seeds) and AtariConfig's
    dynamics, and --config."""
    add_settings(parser, TransferOptions, (HYPER_PARAMETERS, DQNConfig, ("seed",)), (ENVIRONMENT, AtariConfig))


def run(args: argparse.Namespace) -> int:
    given = chosen(args)  # the --config file's settings, overridden by the flags typed
    options = build(TransferOptions, given)
    atari = atari_config(options.game, given_fields(AtariConfig, given))
    config = preset(options.preset, **given_fields(DQNConfig, given))
    if config.eval_every > config.total_steps:
        raise UserError(
            f"--eval-every {config.eval_every} exceeds --steps {config.total_steps}: nothing would be evaluated"
        )
    out_dir = check_folder(options.out_dir, "--out-dir", "experiment folder")
    amns = label_amns(options.amn)
    for label, path in amns.items():  # every AMN is checked before the first run trains
        check_amn(path, atari, f"--amn {label}={path}")
    for name in OUTPUT_FILES:  # re-running the experiment rewrites its own tables and plot
        check_output(out_dir / name, Output("experiment result", "--out-dir", is_ours=is_experiment_file), replace=True)
    experiment = TransferExperiment(
        atari=atari, config=config, amns=amns, seeds=list(options.seeds),
        out_dir=out_dir, block_size=options.block_size, fresh_head=options.fresh_head,
        include_random=options.include_random,
    )  # fmt: skip
    stop = StopRequest()
    previous_handler = signal.signal(signal.SIGTERM, stop)
    try:
        table, complete = run_experiment(experiment, progress=options.progress, stop=stop)
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
    if table:
        print((experiment.out_dir / "table.md").read_text(), end="")
        print(f"curves, plot and table written to {experiment.out_dir}")
    if stop.requested:
        print("stopped by SIGTERM: every run saved its state; run the same command again to continue", flush=True)
        return STOPPED_BY_SIGTERM
    if not complete:
        print(f"the wall-clock limit (--max-wall-minutes {config.max_wall_minutes:g}) ended this session "
              "before every run finished; run the same command again to continue", flush=True)  # fmt: skip
    return 0
