"""The batch format every reader returns, and how one game's rows are written into it.

For B samples (numpy from datasets, torch tensors from the loader):

    frames       uint8   (B, K, H, W)  the observation stack, zero-padded before an episode start
    q_values     float32 (B, 18)       expert Q-values on the 18 ALE actions; 0 at invalid ones
    action_mask  bool    (B, 18)       True at the game's valid ALE actions
    hidden       float32 (B, Hmax)     expert hidden activations, zero-padded to the widest game
    actions      int64   (B,)          the ALE action id taken
    game_id      int64   (B,)          index into the mixture's `games` (0 for one dataset)
    index        int64   (B,)          the sample's index in its game's dataset (for tracing)
"""

from __future__ import annotations

import numpy as np
import torch

from actor_mimic.common.atari import NUM_ALE_ACTIONS, action_mask

_TORCH_DTYPES = {
    np.dtype(np.uint8): torch.uint8, np.dtype(np.float32): torch.float32,
    np.dtype(bool): torch.bool, np.dtype(np.int64): torch.int64,
}  # fmt: skip
BATCH_KEYS = ("frames", "q_values", "action_mask", "hidden", "actions", "game_id", "index")


class GameLayout:
    """How one game's stored values map onto the shared 18-action, Hmax-wide batch."""

    def __init__(self, game_id: int, action_set: tuple[int, ...]):
        self.game_id = game_id
        self.action_set = tuple(action_set)  # ALE id of each expert output
        self.action_ids = np.asarray(self.action_set, dtype=np.int64)
        self.mask = action_mask(self.action_set)  # bool (18,)


def batch_fields(size: int, frame_shape: tuple[int, int, int], hidden_size: int) -> dict:
    """name -> (shape, numpy dtype) of every batch field, for `size` samples."""
    return {
        "frames": ((size, *frame_shape), np.dtype(np.uint8)),
        "q_values": ((size, NUM_ALE_ACTIONS), np.dtype(np.float32)),
        "action_mask": ((size, NUM_ALE_ACTIONS), np.dtype(bool)),
        "hidden": ((size, hidden_size), np.dtype(np.float32)),
        "actions": ((size,), np.dtype(np.int64)),
        "game_id": ((size,), np.dtype(np.int64)),
        "index": ((size,), np.dtype(np.int64)),
    }


def empty_batch(size: int, frame_shape: tuple[int, int, int], hidden_size: int) -> dict:
    """Uninitialised numpy arrays for `size` samples; every writer fills all of each row."""
    fields = batch_fields(size, frame_shape, hidden_size)
    return {name: np.empty(shape, dtype=dtype) for name, (shape, dtype) in fields.items()}


def shared_batch(size: int, frame_shape: tuple[int, int, int], hidden_size: int) -> tuple[dict, dict]:
    """(numpy arrays, torch tensors) over one shared-memory buffer, for DataLoader workers.

    A worker's batch crosses to the main process through shared memory; torch would copy
    each ordinary tensor into a new shared segment of its own. Written in place here, the
    batch is one segment and is never copied.
    """
    fields = batch_fields(size, frame_shape, hidden_size)
    offsets, total = {}, 0
    for name, (shape, dtype) in fields.items():
        offsets[name] = total
        total += -(-int(np.prod(shape)) * dtype.itemsize // 64) * 64  # 64-byte aligned
    buffer = torch.empty(max(total, 1), dtype=torch.uint8).share_memory_()
    tensors = {}
    for name, (shape, dtype) in fields.items():
        nbytes = int(np.prod(shape)) * dtype.itemsize
        view = buffer[offsets[name] : offsets[name] + nbytes].view(_TORCH_DTYPES[dtype])
        tensors[name] = view.view(shape)
    return {name: tensor.numpy() for name, tensor in tensors.items()}, tensors


def write_values(
    batch: dict,
    start: int,
    layout: GameLayout,
    q_values: np.ndarray,
    hidden: np.ndarray,
    actions: np.ndarray,
    rows: np.ndarray | None = None,
    hidden_rows: np.ndarray | None = None,
) -> None:
    """Fill batch rows start.. (all but frames and index) from one game's stored rows.

    q_values: (M, A) over the game's action set; hidden: (M', H) with H <= the batch width;
    actions: (M,) indices into the action set, as stored. `rows` (N,) picks the rows to
    write (default: all M); `hidden_rows` (N,) their rows of `hidden` (default: `rows`; the
    loader keeps a block's distinct activation rows only). The activations, the widest
    field, are copied only once.
    """
    if rows is None:
        rows = np.arange(len(q_values))
    if hidden_rows is None:
        hidden_rows = rows
    stop = start + len(rows)
    q_out = batch["q_values"][start:stop]
    q_out[:] = 0.0
    q_out[:, layout.action_ids] = q_values[rows]
    hidden_out = batch["hidden"][start:stop]
    width = hidden.shape[1]
    if width == hidden_out.shape[1]:
        np.take(hidden, hidden_rows, axis=0, out=hidden_out, mode="clip")  # straight into the batch
    else:
        hidden_out[:, :width] = hidden[hidden_rows]
        hidden_out[:, width:] = 0.0
    batch["actions"][start:stop] = layout.action_ids[actions[rows].astype(np.int64)]
    batch["action_mask"][start:stop] = layout.mask
    batch["game_id"][start:stop] = layout.game_id
