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
accelerator this machine lacks) is a one-line error.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import warnings

import yaml

from actor_mimic.errors import UserError

DESCRIPTION = (
    "Train an Actor-Mimic Network from teacher stores (fit/validate/test: LightningCLI). "
    "Also: `amn distill export CKPT --out AMN.safetensors` writes the shared AMN checkpoint; "
    "`amn distill round ...` collects a student-acts round and resumes the fit on it."
)
LIGHTNING_SUBCOMMANDS = ("fit", "validate", "test")

# Environment variables by which Lightning's cluster environments (torchrun, SLURM, LSF, a
# hand-launched MASTER_ADDR/NODE_RANK job) learn the other nodes.
CLUSTER_VARIABLES = ("MASTER_ADDR", "NODE_RANK", "WORLD_SIZE", "SLURM_NTASKS", "LSB_JOBID", "TORCHELASTIC_RUN_ID")

# Unless trainer.logger is configured, logs go to <trainer.default_root_dir or runs>/distill/
# version_N/: TensorBoard events, metrics.csv, config.yaml, checkpoints/, amn.safetensors.
TRAINER_DEFAULTS = {"max_epochs": 1, "log_every_n_steps": 10}


def parse_fit_config(argv: list[str]) -> dict:
    """The resolved config of `amn distill fit ARGV` (config files, then overrides), checked
    like the command line checks it, as a plain dict (the `fit` section: model, data,
    trainer, ckpt_path, ...). Nothing is built, seeded or written."""
    with lightning_errors():
        try:
            run_lightning_cli(["fit", *argv], parse_only=True)
        except _Parsed as parsed:
            return parsed.config
    raise AssertionError("parse_only always raises _Parsed")  # pragma: no cover


def fit(config: dict) -> None:
    """Run `amn distill fit` on a config of `parse_fit_config`'s form."""
    with lightning_errors():
        run_lightning_cli({"subcommand": "fit", "fit": config})


def run_command(argv: list[str]) -> int:
    """`amn distill fit|validate|test ARGV`: the exit status (0, or --help's)."""
    with lightning_errors():
        try:
            run_lightning_cli(argv)
        except SystemExit as exit_:  # --help / --print_config exit 0 through argparse
            return int(exit_.code or 0)
    return 0


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


class _Parsed(Exception):
    """How a parse-only DistillCLI hands back its config: LightningCLI's constructor parses,
    seeds and builds everything in one go, and has no step that stops after parsing."""

    def __init__(self, config: dict):
        super().__init__("parsed")
        self.config = config


def run_lightning_cli(args: list[str] | dict, parse_only: bool = False):  # noqa: C901 - mccabe counts the nested DistillCLI's hooks, each short, as one function
    """Build (and, unless parse_only, run) the DistillCLI on command-line `args` or a parsed
    config `{"subcommand": "fit", "fit": {...}}`."""
    import torch
    from pytorch_lightning.callbacks import ModelCheckpoint
    from pytorch_lightning.cli import LightningCLI

    from actor_mimic.common.checkpoint import check_checkpoint_output
    from actor_mimic.common.limits import check_seed, check_workers
    from actor_mimic.common.outputs import check_folder
    from actor_mimic.distill.data import TeacherDataModule
    from actor_mimic.distill.export import ExportAMN, check_checkpoint_fits, check_lightning_checkpoint
    from actor_mimic.distill.module import ActorMimic

    class DistillCLI(LightningCLI):
        @staticmethod
        def subcommands() -> dict:
            return {name: spec for name, spec in LightningCLI.subcommands().items() if name in LIGHTNING_SUBCOMMANDS}

        def add_arguments_to_parser(self, parser) -> None:
            # The model's tasks come from the stores the data section names.
            parser.link_arguments("data.tasks", "model.tasks", apply_on="instantiate")
            # Always there, configurable: --checkpoint.every_n_train_steps, --export.path.
            parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
            parser.set_defaults({"checkpoint.save_last": True})
            parser.add_lightning_class_args(ExportAMN, "export")
            # On a shared or small CPU machine torch's default (one thread per core) can be
            # many times slower than 1 thread: idle OpenMP threads spin against other jobs.
            parser.add_argument("--torch_threads", type=int | None, default=None,
                                help="CPU threads torch may use (default: torch's choice)")  # fmt: skip

        def parse_arguments(self, parser, args) -> None:
            super().parse_arguments(parser, args)
            # Before LightningCLI reads --ckpt_path's hyperparameters, and for the run itself:
            # a local file of `amn distill`, loaded with weights_only=True whatever is asked.
            section = self.config.get(self.config.get("subcommand") or "", None)
            if section is not None:
                if section.get("ckpt_path") is not None:
                    section["ckpt_path"] = str(check_lightning_checkpoint(section["ckpt_path"], "--ckpt_path"))
                if "weights_only" in section:
                    if section["weights_only"] is False:
                        raise UserError("--weights_only false is refused: checkpoints are read without unpickling code")
                    section["weights_only"] = True
                seed = section.get("seed_everything")
                if not isinstance(seed, bool):
                    check_seed(seed, "seed_everything")
            if parse_only:  # the fit section as --print_config writes it: plain data
                document = yaml.safe_load(parser.dump(self.config, skip_none=False, format="yaml"))
                raise _Parsed(document["fit"])

        def before_instantiate_classes(self) -> None:
            threads = self._get(self.config, "torch_threads")
            if threads is not None:
                check_workers(threads, "torch_threads", low=1)
                torch.set_num_threads(threads)
            trainer = self._get(self.config, "trainer")
            devices = trainer.get("devices") if trainer is not None else None
            if isinstance(devices, int) or (isinstance(devices, str) and devices.isdigit()):
                # On CPUs each device is a process running this command again: bound them.
                check_workers(int(devices), "trainer.devices", low=-1)
            nodes = trainer.get("num_nodes") if trainer is not None else None
            if isinstance(nodes, int) and nodes > 1 and not any(name in os.environ for name in CLUSTER_VARIABLES):
                raise UserError(
                    f"trainer.num_nodes {nodes} outside a cluster job (none of {', '.join(CLUSTER_VARIABLES)} is "
                    "set): the run would wait for nodes that never come; launch it through your cluster"
                )
            root = trainer.get("default_root_dir") if trainer is not None else None
            if root is not None:
                check_folder(root, "--trainer.default_root_dir", "log folder")  # each run adds version_N
            export = self._get(self.config, "export")
            if export is not None and export.get("path"):
                check_checkpoint_output(export["path"], bool(export.get("overwrite")), "--export.path",
                                        "--export.overwrite true")  # fmt: skip

        def instantiate_trainer(self, **kwargs):
            ckpt_path = self._get(self.config, "ckpt_path")  # the model is built: does it fit?
            if ckpt_path is not None:
                check_checkpoint_fits(self.model, ckpt_path)
            trainer_config = self._get(self.config_init, "trainer", default={})
            if trainer_config.get("logger") in (None, True):  # not configured: ours
                kwargs["logger"] = default_loggers(trainer_config.get("default_root_dir") or "runs")
            return super().instantiate_trainer(**kwargs)

    # TensorBoard creates the shared log folder first; the CSV logger would warn about it.
    warnings.filterwarnings("ignore", message="Experiment logs directory .* exists and is not empty")
    # Lightning reports what it does ("Seed set to 0", "GPU available: ...") on stderr, where
    # it would precede every one-line error: it goes to stdout, with the rest of the report.
    for name in ("pytorch_lightning", "lightning_fabric"):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr:
                handler.setStream(sys.stdout)
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
    )


def default_loggers(root: str) -> list:
    """TensorBoard and CSV logs in one folder, <root>/distill/version_N.

    Each logger picks "the next free version_N" by itself; whichever created its folder first
    would push the other to N+1, so the CSV logger is given the TensorBoard logger's version.
    """
    from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger

    board = TensorBoardLogger(root, name="distill", default_hp_metric=False)
    return [board, CSVLogger(root, name="distill", version=board.version)]


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
