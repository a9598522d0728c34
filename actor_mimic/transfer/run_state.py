"""The checkpointing part of a DQN run: saving and restoring its whole state, atomically,
without pickle. `Checkpointer` decides when (every `checkpoint_every_minutes` of wall-clock);
each part of the run gives its share of `state.json` (`get_state`) and takes it back
(`set_state`); the functions below write and read the files.

A checkpoint is a directory `<run_dir>/checkpoint/`:

    state.json            settings, counters, output indices, provenance, numpy RNG state, logs
    online.safetensors    the online network;   target.safetensors  the target network
    optimizer.pt          the optimiser's state dict (tensors and numbers only; read back with
                          torch.load(weights_only=True), which refuses anything else)
    torch_rng.safetensors torch's CPU random generator state
    actions.npy           int64 (vector_steps, num_envs) every action sent to the environments
    replay_*.npy, replay.json   the replay memory (see replay.py)

The C++ environments cannot be serialised, so a resume rebuilds them exactly: same seed, then
every recorded action again (the environments are deterministic given both). That costs
environment time only (thousands of steps per second) and makes a resumed run continue
bit-for-bit like an uninterrupted one.

Atomicity (`common.outputs.atomic_output`): everything is written to `checkpoint.partial/`,
the old checkpoint is renamed `checkpoint.old/`, the new one renamed into place, then the old
one deleted. A kill at any moment leaves either `checkpoint/` or `checkpoint.old/` complete;
`checkpoint_dir` finds it. `state.json` is read strictly (`read_state`).
"""

from __future__ import annotations

import json
import pickle
import time
from pathlib import Path
from typing import cast

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from actor_mimic.common.outputs import atomic_output
from actor_mimic.errors import UserError

CHECKPOINT = "checkpoint"


class Checkpointer:
    """Saves `run_dir`'s checkpoint when asked, and says when a periodic save is due."""

    def __init__(self, run_dir: str | Path, every_minutes: float):
        self.run_dir, self.every_minutes = Path(run_dir), every_minutes
        self.last_save = time.monotonic()

    def restart_clock(self) -> None:
        """A session starts: the next periodic save is `every_minutes` from now."""
        self.last_save = time.monotonic()

    def due(self) -> bool:
        return time.monotonic() - self.last_save >= 60 * self.every_minutes

    def save(self, state: dict, online, target, optimizer, actions: np.ndarray, replay) -> Path:
        path = write_checkpoint(self.run_dir, state, online, target, optimizer, actions, replay)
        self.last_save = time.monotonic()
        return path


def checkpoint_dir(run_dir: str | Path) -> Path | None:
    """The complete checkpoint of `run_dir`, or None if it has none."""
    run_dir = Path(run_dir)
    for name in (CHECKPOINT, CHECKPOINT + ".old"):
        candidate = run_dir / name
        if (candidate / "state.json").is_file():
            return candidate
    return None


def write_checkpoint(
    run_dir: str | Path,
    state: dict,
    online: torch.nn.Module,
    target: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    actions: np.ndarray,
    replay,
) -> Path:
    final = Path(run_dir) / CHECKPOINT
    with atomic_output(final) as partial:  # checkpoint.partial/, renamed over checkpoint/
        partial.mkdir()
        save_file(_tensors(online), str(partial / "online.safetensors"))
        save_file(_tensors(target), str(partial / "target.safetensors"))
        torch.save(optimizer.state_dict(), partial / "optimizer.pt")
        save_file({"state": torch.get_rng_state()}, str(partial / "torch_rng.safetensors"))
        np.save(partial / "actions.npy", actions, allow_pickle=False)
        replay.save(partial)
        (partial / "state.json").write_text(json.dumps(state, indent=1))  # written last: marks complete
    return final


# The state document's fields and their JSON types: a hand-edited or damaged state.json is
# refused with one line instead of failing somewhere inside the resume.
STATE_FIELDS: dict[str, type | tuple[type, ...]] = {
    "atari": dict, "config": dict, "architecture": str, "num_outputs": int, "output_indices": list,
    "provenance": dict, "step": int, "updates": int, "next_eval_step": int, "episode_returns": list,
    "episode_lengths": list, "resetting": list, "episodes_finished": int, "recent_returns": list,
    "evaluations": list, "wall_seconds": (int, float), "last_loss": (int, float),
    "last_mean_q": (int, float), "rng": dict,
}  # fmt: skip


def read_state(directory: Path) -> dict:
    try:
        state = json.loads((directory / "state.json").read_text())
    except (OSError, ValueError) as error:
        raise UserError(f"{directory}: unreadable learner checkpoint ({error}); start a new run") from None
    if not isinstance(state, dict):
        raise UserError(f"{directory}/state.json is not a learner state; start a new run")
    for name, kind in STATE_FIELDS.items():
        value = state.get(name)
        if isinstance(value, bool) or not isinstance(value, kind):
            raise UserError(
                f"{directory}/state.json: {name} is {json.dumps(value)[:40]}, not what a learner saves "
                "(edited by hand?); start a new run"
            )
    if state["step"] < 0 or not all(isinstance(i, int) and not isinstance(i, bool) for i in state["output_indices"]):
        raise UserError(f"{directory}/state.json: its step or output indices are damaged; start a new run")
    return state


def restore_into(directory: Path, online, target, optimizer, replay) -> np.ndarray:
    """Load weights, optimiser, torch RNG and replay memory; return the recorded actions."""
    try:
        online.load_state_dict(load_file(str(directory / "online.safetensors")))
        target.load_state_dict(load_file(str(directory / "target.safetensors")))
        optimizer.load_state_dict(torch.load(directory / "optimizer.pt", weights_only=True))
        torch.set_rng_state(load_file(str(directory / "torch_rng.safetensors"))["state"])
        replay.load(directory)
        return np.load(directory / "actions.npy", allow_pickle=False)
    except (OSError, ValueError, RuntimeError, KeyError, TypeError, pickle.UnpicklingError, SafetensorError) as error:
        # missing or damaged files: safetensors, torch and numpy each raise their own
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(f"{directory}: damaged learner checkpoint ({first}); start a new run") from None


def _tensors(network: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous().clone() for k, v in network.state_dict().items()}


def rng_state_to_json(rng: np.random.Generator) -> dict:
    return cast(dict, rng.bit_generator.state)  # plain ints and strings


def rng_from_json(state: dict) -> np.random.Generator:
    try:
        bit_generator = getattr(np.random, state["bit_generator"])()
        bit_generator.state = state
    except (KeyError, TypeError, ValueError, AttributeError):
        raise UserError("the learner checkpoint's random generator state is damaged; start a new run") from None
    return np.random.Generator(bit_generator)
