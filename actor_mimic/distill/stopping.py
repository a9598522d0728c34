"""Stopping a fit on SIGTERM with a checkpoint to continue from.

Lightning notes a SIGTERM at once but, outside a distributed run, acts on it only when an
epoch ends, and a fit's epoch can be thousands of updates (minutes on a CPU); then it
raises without saving. `ResumableCheckpoint`, the fit's checkpoint callback, stops after
the update or validation batch under way and saves `last.ckpt` there, so `kill PID` on a
detached fit loses at most one update, and the fit continues with `--ckpt_path` that file.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.trainer.states import TrainerFn
from pytorch_lightning.utilities.exceptions import SIGTERMException


class FitStopped(SIGTERMException):
    """A fit stopped by SIGTERM at `step` updates; `checkpoint` is the file saved there (None
    until the checkpoint callback has saved it)."""

    def __init__(self, step: int):
        super().__init__(f"stopped by SIGTERM at step {step}")
        self.step = step
        self.checkpoint: str | None = None


class ResumableCheckpoint(ModelCheckpoint):
    """Lightning's ModelCheckpoint (same arguments, `--checkpoint.*`) that also ends a fit
    promptly on SIGTERM, saving where it stopped when `save_on_exception` is on (the CLI's
    default)."""

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any, **kwargs: Any) -> None:
        super().on_train_batch_end(trainer, pl_module, *args, **kwargs)
        self._stop_if_asked(trainer)

    def on_validation_batch_end(self, trainer: pl.Trainer, *args: Any, **kwargs: Any) -> None:
        self._stop_if_asked(trainer)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        if trainer.state.fn != TrainerFn.FITTING:  # `validate`/`test` train nothing: nothing to save
            return
        super().on_exception(trainer, pl_module, exception)
        if isinstance(exception, FitStopped):
            exception.checkpoint = self.last_model_path or self.best_model_path or None

    @staticmethod
    def _stop_if_asked(trainer: pl.Trainer) -> None:
        if trainer.received_sigterm and trainer.state.fn == TrainerFn.FITTING and not trainer.sanity_checking:
            raise FitStopped(trainer.global_step)
