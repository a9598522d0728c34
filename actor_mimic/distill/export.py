"""From a trained Lightning module to the shared AMN checkpoint, and back out of a Lightning one.

Lightning's own `.ckpt` files are pickles: fine for resuming one's own run, never to be passed
around. What travels is the export: one `.safetensors` file in the shared checkpoint format
(`actor_mimic.common.checkpoint`), kind "amn", 18 outputs, the games and their action sets,
the stores' Atari settings, and the provenance (stores with their experts' sha256 and round
labels, beta, tau, steps trained). Evaluation and transfer load it with `load_checkpoint`,
without Lightning. The feature-regression transforms f_i are training machinery and are not
exported; the AMN alone is what plays and what initialises a transfer DQN.
"""

from __future__ import annotations

import inspect
import pickle
from pathlib import Path

import pytorch_lightning as pl
import torch

from actor_mimic import __version__
from actor_mimic.common.atari import NUM_ALE_ACTIONS
from actor_mimic.common.checkpoint import CheckpointMetadata, check_checkpoint_output, save_checkpoint
from actor_mimic.distill.module import ActorMimic
from actor_mimic.errors import UserError

EXPORT_NAME = "amn.safetensors"


def amn_metadata(model: ActorMimic, extra_provenance: dict | None = None) -> CheckpointMetadata:
    """The shared-checkpoint metadata of the AMN inside `model`."""
    tasks, hparams = model.tasks, model.hparams
    provenance = {
        "source": "amn distill",
        "trained": model.global_step > 0,
        "actor_mimic": __version__,
        "global_step": int(model.global_step),
        "epoch": int(model.current_epoch),
        "tau": float(hparams["tau"]),
        "logit_tau": float(hparams.get("logit_tau", 1.0)),
        "teacher_outputs": {task.game: task.outputs for task in tasks.games},
        "beta": float(hparams["beta"]),
        "feature_transform": hparams["feature_transform"] if hparams["beta"] > 0 else None,
        "hidden_layer": hparams["hidden_layer"],
        "expert_hidden_sizes": {task.game: task.hidden_size for task in tasks.games},
        "stores": tasks.to_dict()["stores"],
        **(extra_provenance or {}),
    }
    return CheckpointMetadata(
        kind="amn",
        architecture=hparams["architecture"],
        num_actions=NUM_ALE_ACTIONS,
        games=tasks.names,
        action_sets={task.game: list(task.action_set) for task in tasks.games},
        atari=dict(tasks.atari),
        provenance=provenance,
        atari_by_game={task.game: dict(task.atari) for task in tasks.games if task.atari},
    )


def export_amn(
    model: ActorMimic, path: str | Path, extra_provenance: dict | None = None, overwrite: bool = False
) -> Path:
    """Write the AMN of `model` as a shared `.safetensors` checkpoint (an existing checkpoint
    at `path` is replaced only with `overwrite`)."""
    return save_checkpoint(path, model.amn, amn_metadata(model, extra_provenance), overwrite=overwrite)


def check_lightning_checkpoint(path, flag: str = "checkpoint") -> Path:
    """A Lightning checkpoint of `amn distill` that may be read: a local file (URLs are
    refused: Lightning would download and unpickle them with weights_only=False) that loads
    with weights_only=True and has what a resume reads, of the right types: Lightning's
    version, the step and epoch counters, tensors by name, hyperparameters naming the games."""
    document = _read_lightning_checkpoint(path, flag)
    if not isinstance(document, dict) or not isinstance(document.get("pytorch-lightning_version"), str):
        raise UserError(f"{flag} {path}: not a checkpoint written by Lightning (`amn distill fit` writes them)")
    state, hparams = document.get("state_dict"), document.get("hyper_parameters")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError(f"{flag} {path}: not a checkpoint of `amn distill` (no state_dict of tensors)")
    tasks = hparams.get("tasks") if isinstance(hparams, dict) else None
    if not isinstance(tasks, dict) or not isinstance(tasks.get("games"), list) or not tasks["games"]:
        raise UserError(f"{flag} {path}: not a checkpoint of `amn distill` (its hyperparameters name no games)")
    for counter in ("global_step", "epoch"):
        value = document.get(counter)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise UserError(f"{flag} {path}: its {counter} {value!r} is not a count; the file is damaged")
    return Path(path)


def check_checkpoint_fits(model: torch.nn.Module, path, flag: str = "--ckpt_path") -> None:
    """The checkpoint's weights have the names and shapes of `model` (built from this run's
    config): resuming onto other games or another architecture is a one-line error, not a
    size mismatch deep inside Lightning."""
    state = _read_lightning_checkpoint(path, flag)["state_dict"]
    own = {k: v for k, v in model.state_dict().items() if not k.startswith("metrics.")}
    theirs = {k: v for k, v in state.items() if not k.startswith("metrics.")}
    missing, unexpected = sorted(set(own) - set(theirs)), sorted(set(theirs) - set(own))
    wrong = sorted(k for k in set(own) & set(theirs) if own[k].shape != theirs[k].shape)
    if missing or unexpected or wrong:
        raise UserError(
            f"{flag} {path} does not fit the model of this config (missing {missing[:2]}, unexpected "
            f"{unexpected[:2]}, other shapes {wrong[:2]}): it was trained on other games, experts or "
            "architecture; resume with the config it was trained with"
        )


def _read_lightning_checkpoint(path: str | Path, flag: str = "checkpoint") -> dict:
    """The checkpoint's contents, without unpickling code: `weights_only=True` restricts
    torch.load to tensors and plain containers; a checkpoint that needs more is refused."""
    text = str(path)
    if not text.strip():
        raise UserError(f"{flag} is empty: give the Lightning checkpoint (.ckpt) file")
    if "://" in text:
        raise UserError(
            f"{flag} {text} is a URL: Lightning checkpoints are pickles and are only read from local "
            "files; download it, check where it comes from, and pass the file"
        )
    path = Path(text)
    if path.is_dir():
        raise UserError(f"{flag} {path} is a folder, not a Lightning checkpoint (.ckpt) file")
    if not path.is_file():
        raise UserError(f"{flag} {path}: Lightning checkpoint does not exist")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # what weights_only refuses: objects only code can rebuild
        raise UserError(
            f"{path}: not a loadable Lightning checkpoint (it holds objects that only unpickling "
            "code could rebuild, and actor-mimic never runs code from a file)"
        ) from None
    except Exception as error:  # torch raises RuntimeError, EOFError, ... for other bad files
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(f"{path}: not a loadable Lightning checkpoint ({first_line})") from None


def load_lightning_checkpoint_step(path: str | Path) -> int:
    """The optimiser steps a Lightning checkpoint has trained."""
    step = _read_lightning_checkpoint(path).get("global_step", 0)
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise UserError(f"{path}: its global_step {step!r} is not a step count")
    return step


def load_lightning_checkpoint(path: str | Path) -> ActorMimic:
    """Rebuild the module from one's own Lightning checkpoint (see _read_lightning_checkpoint)."""
    path = check_lightning_checkpoint(path)
    return _module_from(_read_lightning_checkpoint(path), path)


def _module_from(document: dict, path: Path) -> ActorMimic:
    """The ActorMimic a checkpoint's hyperparameters describe, with its weights."""
    # LightningCLI adds its own bookkeeping keys (e.g. `_instantiator`); keep the model's.
    accepted = inspect.signature(ActorMimic.__init__).parameters
    try:
        model = ActorMimic(**{k: v for k, v in document["hyper_parameters"].items() if k in accepted})
    except (TypeError, KeyError, ValueError) as error:
        raise UserError(f"{path}: its hyperparameters do not describe an AMN ({error})") from None
    missing, unexpected = model.load_state_dict(document["state_dict"], strict=False)
    wrong = [k for k in missing + unexpected if not k.startswith("metrics.")]
    if wrong:
        raise UserError(f"{path}: weights do not fit the model its hyperparameters describe ({wrong[:3]})")
    return model


def export_lightning_checkpoint(ckpt_path: str | Path, out: str | Path, overwrite: bool = False) -> Path:
    """`amn distill export`: Lightning checkpoint -> shared AMN checkpoint. `out` is checked
    before the checkpoint is read."""
    check_checkpoint_output(out, overwrite)
    path = check_lightning_checkpoint(ckpt_path)
    document = _read_lightning_checkpoint(path)
    model = _module_from(document, path)
    # Lightning keeps the step and epoch counters outside the module: the provenance takes
    # them from the file (check_lightning_checkpoint made sure they are counts).
    step, epoch = document["global_step"], document["epoch"]
    extra = {"global_step": step, "epoch": epoch, "trained": step > 0, "lightning_checkpoint": path.name}
    return export_amn(model, out, extra, overwrite=overwrite)


class ExportAMN(pl.Callback):
    """Exports the AMN when fit ends (and so after every resumed fit, too).

    path: where to write; default `<the run's log directory>/amn.safetensors`.
    overwrite: replace an existing checkpoint at `path` (checked before training starts).
    """

    def __init__(self, path: str | None = None, overwrite: bool = False):
        self.path = path
        self.overwrite = overwrite

    def target(self, trainer: pl.Trainer) -> Path:
        if self.path:
            return Path(self.path)
        return Path(trainer.log_dir or trainer.default_root_dir) / EXPORT_NAME

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Refuse an export path that is taken now, not after hours of training."""
        target = self.target(trainer)  # on every rank: trainer.log_dir is a collective under DDP
        if trainer.is_global_zero:
            check_checkpoint_output(target, self.overwrite, "--export.path", "--export.overwrite true")

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not isinstance(pl_module, ActorMimic):
            raise TypeError(f"ExportAMN exports an ActorMimic model, not a {type(pl_module).__name__}")
        target = self.target(trainer)  # on every rank: trainer.log_dir is a collective under DDP
        if trainer.is_global_zero:  # one writer
            path = export_amn(pl_module, target, overwrite=self.overwrite)
            print(f"exported the AMN ({', '.join(pl_module.games)}) to {path}")
