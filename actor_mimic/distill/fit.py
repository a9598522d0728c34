"""`amn distill fit/validate/test` (LightningCLI), and the fit as Python functions.

    config = parse_fit_config(["--config", "distill.yaml", "--trainer.max_steps", "500"])
    config["data"]["games"][0]["stores"].append("pong-r1.zarr")
    fit(config)

`parse_fit_config` resolves config files and overrides exactly as the command line does, and
returns the plain dict `amn distill fit ... --print_config` would print (JSON-able: it can be
changed, written as YAML, fitted again). `fit(config)` runs what `amn distill fit --config
THAT.yaml` runs, with every check. Errors are one-line `UserError`s (`lightning_errors`).

The model's `tasks` (games, action sets, expert sizes, Atari settings, store provenance) are
not configured by hand: they are read from the stores named in `data.games`. A fit ends by
exporting the AMN to `<log dir>/amn.safetensors` (callback `ExportAMN`).

Checked before anything runs: `--ckpt_path` must be a local Lightning checkpoint of `amn
distill` (URLs are refused, and it is always read with weights_only=True: a checkpoint that
would run code when unpickled is refused, not run); `--export.path` must be free (or hold a
checkpoint, with `--export.overwrite true`); a trainer setting Lightning rejects (an
accelerator this machine lacks) is a one-line error. The CLI class that checks them is
`DistillCLI` (lightning_cli.py).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import re
import signal
import sys
import warnings

from actor_mimic.errors import UserError

DESCRIPTION = (
    "Train an Actor-Mimic Network from teacher stores (fit/validate/test: LightningCLI). "
    "Also: `amn distill export CKPT --out AMN.safetensors` writes the shared AMN checkpoint; "
    "`amn distill round ...` collects a student-acts round and resumes the fit on it."
)
# Unless trainer.logger is configured, logs go to <trainer.default_root_dir or runs>/distill/
# version_N/: TensorBoard events, metrics.csv, config.yaml, checkpoints/, amn.safetensors.
TRAINER_DEFAULTS = {"max_epochs": 1, "log_every_n_steps": 10}


def parse_fit_config(argv: list[str]) -> dict:
    """The resolved config of `amn distill fit ARGV` (config files, then overrides), checked
    like the command line checks it, as a plain dict (the `fit` section: model, data,
    trainer, ckpt_path, ...). Nothing is built, seeded or written."""
    from actor_mimic.distill.lightning_cli import ParsedConfig

    with lightning_errors():
        try:
            run_lightning_cli(["fit", *argv], parse_only=True)
        except ParsedConfig as parsed:
            return parsed.config
    raise AssertionError("parse_only always raises ParsedConfig")  # pragma: no cover


def fit(config: dict) -> int:
    """Run `amn distill fit` on a config of `parse_fit_config`'s form: 0 when it ran to the
    end, 143 when SIGTERM stopped it (reported on stderr, with the checkpoint to continue)."""
    from pytorch_lightning.utilities.exceptions import SIGTERMException

    with lightning_errors():
        try:
            run_lightning_cli({"subcommand": "fit", "fit": config})
        except SIGTERMException as stop:
            return report_stop(stop)
    return 0


def run_command(argv: list[str]) -> int:
    """`amn distill fit|validate|test ARGV`: the exit status (0, --help's, or 143 after a
    SIGTERM)."""
    from pytorch_lightning.utilities.exceptions import SIGTERMException

    with lightning_errors():
        try:
            run_lightning_cli(argv)
        except SIGTERMException as stop:  # a SystemExit too: caught first
            return report_stop(stop)
        except SystemExit as exit_:  # --help / --print_config exit 0 through argparse
            return int(exit_.code or 0)
    return 0


def report_stop(stop: BaseException) -> int:
    """Say where a SIGTERM left the run and how to continue it; the exit status, 128 + 15
    like a process SIGTERM ends, so a script that chains stages does not go on."""
    from actor_mimic.distill.stopping import FitStopped

    if isinstance(stop, FitStopped) and stop.checkpoint:
        print(f"amn distill: stopped by SIGTERM at step {stop.step}; saved {stop.checkpoint}. Continue with "
              f"the same command and --ckpt_path {stop.checkpoint}", file=sys.stderr)  # fmt: skip
    else:
        print("amn distill: stopped by SIGTERM", file=sys.stderr)
    return 128 + signal.SIGTERM


@contextlib.contextmanager
def lightning_errors():
    """jsonargparse's and Lightning's errors for a bad config, as one-line UserErrors."""
    # LightningCLI warns whenever sys.argv holds arguments too ("amn distill ..."). sys.argv
    # itself must stay: Lightning's DDP launcher reruns it in each new process.
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter")
    from lightning_fabric.utilities.exceptions import MisconfigurationException

    try:
        yield
    except argparse.ArgumentError as error:
        raise UserError(_one_line(str(error))) from None
    except MisconfigurationException as error:  # Lightning's word for a bad trainer setting
        raise UserError(f"{_first_line(error)} (see `amn distill fit --help`)") from None


def run_lightning_cli(args: list[str] | dict, parse_only: bool = False):
    """Build (and, unless parse_only, run) the DistillCLI on command-line `args` or a parsed
    config `{"subcommand": "fit", "fit": {...}}`."""
    from actor_mimic.distill.data import TeacherDataModule
    from actor_mimic.distill.lightning_cli import LIGHTNING_SUBCOMMANDS, DistillCLI
    from actor_mimic.distill.module import ActorMimic

    # TensorBoard creates the shared log folder first; the CSV logger would warn about it.
    warnings.filterwarnings("ignore", message="Experiment logs directory .* exists and is not empty")
    # Lightning cannot tell that TeacherDataModule resumes its loader mid-epoch (from the
    # restored step count, data.py), and would warn that a mid-epoch resume is unreliable.
    warnings.filterwarnings("ignore", message="You're resuming from a checkpoint that ended before the epoch ended")
    # Nor that the loader's workers each serve their own share, so its length is exact.
    warnings.filterwarnings("ignore", message="Your `IterableDataset` has `__len__` defined")
    # Lightning 2.6 calls a torch.utils._pytree API that torch deprecates: not ours to act on.
    warnings.filterwarnings("ignore", message=re.escape("`isinstance(treespec, LeafSpec)` is deprecated"))
    # Lightning reports what it does ("Seed set to 0", "GPU available: ...") on stderr, where
    # it would precede every one-line error: it goes to stdout, with the rest of the report,
    # without its advertisements ("Tip: ... try installing litlogger").
    for name in ("pytorch_lightning", "lightning_fabric"):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr:
                handler.setStream(sys.stdout)
                handler.addFilter(lambda record: not str(record.msg).startswith("💡 Tip:"))
    return DistillCLI(
        ActorMimic,
        TeacherDataModule,
        args=args,
        seed_everything_default=0,
        trainer_defaults=TRAINER_DEFAULTS,
        save_config_kwargs={"overwrite": True},
        parser_kwargs={name: {"exit_on_error": False} for name in LIGHTNING_SUBCOMMANDS}
        | {"exit_on_error": False, "prog": "amn distill", "description": DESCRIPTION},
        auto_configure_optimizers=False,
        parse_only=parse_only,
    )


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _one_line(message: str) -> str:
    """jsonargparse explains a bad key over several lines; keep the line that names it."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    if not lines:
        return "invalid arguments: see `amn distill fit --help`"
    head = lines[0]
    if head.endswith(":") and len(lines) > 1:  # 'Parser key "model.tau":' then the reason
        head = f"{head} {lines[1].lstrip('- ')}"
    if len(head) > 300:
        head = head[:297] + "..."
    return f"{head.rstrip(':')} (see `amn distill fit --help` or --print_config for the valid keys)"
