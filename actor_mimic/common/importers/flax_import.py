"""CleanRL's Flax Atari models (the Hub's `*_jax*.cleanrl_model`), read with Flax's own reader.

    dqn_atari_jax.py                   to_bytes(q_state.params)
        {"params": {Conv_0, Conv_1, Conv_2, Dense_0 (512), Dense_1 (actions)}}    -> q_values
    ppo_atari_envpool_xla_jax_scan.py  to_bytes([vars(args), [network, actor, critic params]])
        {"0": args, "1": {"0": {"params": {Conv_0..2, Dense_0}}, "1": {"params": {Dense_0}}, ...}}  -> logits

`flax.serialization.msgpack_restore` turns the file into nested dicts of numpy arrays (the
optional `flax` extra; nothing here decodes msgpack by hand). The networks are the Nature DQN
in Flax's layout: the stack is transposed to channels-last (NHWC) inside the network, so a
convolution kernel is (height, width, in, out) and the 512-unit layer reads the last
convolution's output flattened in (height, width, channel) order. The conversion transposes
the kernels to torch's (out, in, height, width) and permutes the 512-unit layer's input rows
to torch's (channel, height, width) flattening; the value head (critic) is dropped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from actor_mimic.common.atari import AtariConfig
from actor_mimic.common.checkpoint import Checkpoint
from actor_mimic.common.importers.expert import build_expert
from actor_mimic.errors import UserError

INSTALL = "pip install 'actor-mimic[flax]'"


def import_flax(path: Path, data: bytes, config: AtariConfig) -> Checkpoint:
    """A CleanRL Flax DQN or PPO model (the bytes of `path`) as an expert for `config.game`."""
    try:
        from flax import serialization
    except ImportError:
        raise UserError(f"{path} is a Flax model (CleanRL's JAX scripts); reading it needs Flax: {INSTALL}") from None
    try:
        state = serialization.msgpack_restore(data)
    except Exception as error:  # msgpack raises several types for a malformed file
        raise UserError(f"{path}: not a readable Flax msgpack file ({type(error).__name__})") from None
    provenance = {"source": "cleanrl", "library": "cleanrl", "file": path.name, "format": "flax"}
    if isinstance(state, dict) and set(state) == {"params"}:  # dqn_atari_jax
        layers = _params(state, path)
        weights = _torso(layers, path) | _dense(layers, "Dense_1", "head", path)
        return build_expert(weights, config, provenance | {"algorithm": "dqn"}, path)
    if isinstance(state, dict) and set(state) == {"0", "1"} and isinstance(state["1"], dict):  # ppo ..._jax_scan
        args = state["0"] if isinstance(state["0"], dict) else {}
        provenance["algorithm"] = "ppo"
        provenance |= {key: args[key] for key in ("env_id", "exp_name") if isinstance(args.get(key), str)}
        network, actor = (_params(state["1"].get(key), path) for key in ("0", "1"))
        weights = _torso(network, path) | _dense(actor, "Dense_0", "head", path)
        return build_expert(weights, config, provenance, path, outputs="logits", acting="sample")
    raise UserError(
        f"{path}: a Flax file, but not one of CleanRL's dqn_atari_jax or ppo_atari_envpool_xla_jax_scan Atari models"
    )


def _params(tree, path: Path) -> dict:
    if not isinstance(tree, dict) or not isinstance(tree.get("params"), dict):
        raise UserError(f"{path}: expected Flax parameters ({{'params': {{...}}}}) in the file")
    return tree["params"]


def _array(layers: dict, layer: str, name: str, path: Path) -> np.ndarray:
    value = (layers.get(layer) or {}).get(name) if isinstance(layers.get(layer), dict) else None
    if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
        raise UserError(f"{path}: no floating-point {layer}/{name} weights; only CleanRL's Nature-DQN network imports")
    return value


def _torso(layers: dict, path: Path) -> dict[str, torch.Tensor]:
    """Conv_0..2 and the 512-unit Dense_0, as torch's convs.{0,2,4} and fc.0."""
    weights = {}
    for index, name in zip((0, 2, 4), ("Conv_0", "Conv_1", "Conv_2")):
        kernel = _array(layers, name, "kernel", path)
        if kernel.ndim != 4:
            raise UserError(f"{path}: {name}'s kernel has shape {kernel.shape}, not a 2-D convolution's")
        weights[f"convs.{index}.weight"] = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))
        weights[f"convs.{index}.bias"] = torch.from_numpy(_array(layers, name, "bias", path).copy())
    kernel = _array(layers, "Dense_0", "kernel", path)  # (H * W * C, 512), rows in NHWC order
    channels = weights["convs.4.weight"].shape[0]
    side = round((kernel.shape[0] // max(channels, 1)) ** 0.5) if kernel.ndim == 2 else 0
    if kernel.ndim != 2 or side * side * channels != kernel.shape[0]:
        raise UserError(f"{path}: Dense_0's kernel has shape {kernel.shape}, not the 512-unit layer of a Nature DQN")
    rows = kernel.reshape(side, side, channels, -1).transpose(2, 0, 1, 3).reshape(kernel.shape[0], -1)
    weights["fc.0.weight"] = torch.from_numpy(np.ascontiguousarray(rows.T))
    weights["fc.0.bias"] = torch.from_numpy(_array(layers, "Dense_0", "bias", path).copy())
    return weights


def _dense(layers: dict, name: str, ours: str, path: Path) -> dict[str, torch.Tensor]:
    kernel = _array(layers, name, "kernel", path)
    if kernel.ndim != 2:
        raise UserError(f"{path}: {name}'s kernel has shape {kernel.shape}, not a dense layer's")
    return {
        f"{ours}.weight": torch.from_numpy(np.ascontiguousarray(kernel.T)),
        f"{ours}.bias": torch.from_numpy(_array(layers, name, "bias", path).copy()),
    }
