"""DistillCLI: the LightningCLI behind `amn distill fit/validate/test` (fit.py runs it).

Its hooks add what plain LightningCLI lacks: the model's tasks linked from the data, the
checkpoint and export callbacks always there, --torch_threads; and checks made before anything
is built: --ckpt_path is a local checkpoint of `amn distill` read with weights_only=True,
the seed, the device and node counts, and the log and export paths. Importing this module
loads torch and Lightning, so fit.py imports it only when a command runs.
"""

from __future__ import annotations

import os
from typing import Any

import torch
import yaml
from pytorch_lightning.callbacks import ProgressBar, RichProgressBar
from pytorch_lightning.callbacks.progress.rich_progress import _RICH_AVAILABLE
from pytorch_lightning.cli import LightningCLI

from actor_mimic.common.checkpoint import check_checkpoint_output
from actor_mimic.common.limits import check_seed, check_workers
from actor_mimic.common.outputs import check_folder
from actor_mimic.distill.export import ExportAMN, check_checkpoint_fits, check_lightning_checkpoint
from actor_mimic.distill.stopping import ResumableCheckpoint
from actor_mimic.errors import UserError

LIGHTNING_SUBCOMMANDS = ("fit", "validate", "test")

# Environment variables by which Lightning's cluster environments (torchrun, SLURM, LSF, a
# hand-launched MASTER_ADDR/NODE_RANK job) learn the other nodes.
CLUSTER_VARIABLES = ("MASTER_ADDR", "NODE_RANK", "WORLD_SIZE", "SLURM_NTASKS", "LSB_JOBID", "TORCHELASTIC_RUN_ID")


class ParsedConfig(Exception):
    """How a parse-only DistillCLI hands back its config: LightningCLI's constructor parses,
    seeds and builds everything in one go, and has no step that stops after parsing."""

    def __init__(self, config: dict):
        super().__init__("parsed")
        self.config = config


class DistillCLI(LightningCLI):
    """LightningCLI with `amn distill`'s arguments, checks and loggers. `parse_only`: stop
    once the config is parsed and checked, raising ParsedConfig with it."""

    def __init__(self, *args: Any, parse_only: bool = False, **kwargs: Any) -> None:
        self.parse_only = parse_only  # before LightningCLI's constructor, which runs everything
        super().__init__(*args, **kwargs)

    @staticmethod
    def subcommands() -> dict:
        return {name: spec for name, spec in LightningCLI.subcommands().items() if name in LIGHTNING_SUBCOMMANDS}

    def add_arguments_to_parser(self, parser) -> None:
        # The model's tasks come from the stores the data section names.
        parser.link_arguments("data.tasks", "model.tasks", apply_on="instantiate")
        # Always there, configurable: --checkpoint.every_n_train_steps, --export.path. A
        # SIGTERM saves last.ckpt where the fit stopped (stopping.py).
        parser.add_lightning_class_args(ResumableCheckpoint, "checkpoint")
        parser.set_defaults({"checkpoint.save_last": True, "checkpoint.save_on_exception": True})
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
        if self.parse_only:  # the fit section as --print_config writes it: plain data
            document = yaml.safe_load(parser.dump(self.config, skip_none=False, format="yaml"))
            raise ParsedConfig(document["fit"])

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
        # One frame stack through the AMN: the model summary then shows its FLOPs and the
        # input and output sizes (without it, it prints "Total FLOPs: 0").
        shape = self.model.tasks.preprocessing
        stack, screen = int(shape.get("stack_size", 4)), int(shape.get("screen_size", 84))
        self.model.example_input_array = torch.zeros(1, stack, screen, screen, dtype=torch.uint8)
        trainer_config = self._get(self.config_init, "trainer", default={})
        if trainer_config.get("logger") in (None, True):  # not configured: ours
            kwargs["logger"] = default_loggers(trainer_config.get("default_root_dir") or "runs")
        callbacks = trainer_config.get("callbacks") or []
        callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
        if (_RICH_AVAILABLE and trainer_config.get("enable_progress_bar") is not False
                and not any(isinstance(callback, ProgressBar) for callback in callbacks)):  # fmt: skip
            kwargs["callbacks"] = [*callbacks, StepsProgressBar()]  # in place of Lightning's default bar
        return super().instantiate_trainer(**kwargs)


class StepsProgressBar(RichProgressBar):
    """Lightning's default (rich) progress bar, titled "Epoch 7" rather than "Epoch 7/-2" when
    the fit is bounded by trainer.max_steps alone (max_epochs -1, as `amn distill` fits are)."""

    def _get_train_description(self, current_epoch: int) -> str:
        if self.trainer.max_epochs != -1:
            return super()._get_train_description(current_epoch)
        return f"{f'Epoch {current_epoch}':{len(self.validation_description)}}"  # padded as Lightning pads it


def default_loggers(root: str) -> list:
    """TensorBoard and CSV logs in one folder, <root>/distill/version_N.

    Each logger picks "the next free version_N" by itself; whichever created its folder first
    would push the other to N+1, so the CSV logger is given the TensorBoard logger's version.
    """
    from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger

    board = TensorBoardLogger(root, name="distill", default_hp_metric=False)
    return [board, CSVLogger(root, name="distill", version=board.version)]
