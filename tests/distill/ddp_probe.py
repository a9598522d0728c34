"""A callback for the DDP test: records a digest of every training sample each rank sees."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytorch_lightning as pl


def sample_digests(batch: dict) -> list[str]:
    """One sha1 per sample of a batch, over everything the sample holds."""
    digests = []
    for i in range(len(batch["frames"])):
        digest = hashlib.sha1()
        for key in ("frames", "q_values", "hidden", "action_mask", "actions", "game_id"):
            digest.update(batch[key][i].cpu().numpy().tobytes())
        digests.append(digest.hexdigest())
    return digests


class SampleDigests(pl.Callback):
    def __init__(self, out_dir: str):
        self.out_dir = Path(out_dir)
        self.digests: list[str] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.digests.extend(sample_digests(batch))

    def on_train_end(self, trainer, pl_module) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        record = {"rank": trainer.global_rank, "world_size": trainer.world_size, "digests": self.digests}
        (self.out_dir / f"rank{trainer.global_rank}.json").write_text(json.dumps(record))


class ChunkReads(pl.Callback):
    """Records which chunks of Q-values this rank reads from the stores (every chunk file a
    reader opens goes through the store's `LocalFiles.read`), from setup to the end of training."""

    def __init__(self, out_dir: str):
        self.out_dir = Path(out_dir)
        self.chunks: set[str] = set()

    def setup(self, trainer, pl_module, stage: str) -> None:
        from actor_mimic.store.location import LocalFiles

        original, chunks = LocalFiles.read, self.chunks

        def read(files, key: str):
            if "/q_values/c/" in f"/{key}":
                chunks.add(f"{files.root.name}/{key}")
            return original(files, key)

        LocalFiles.read = read  # type: ignore[method-assign]  # this rank's process only

    def on_train_end(self, trainer, pl_module) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / f"chunks{trainer.global_rank}.json").write_text(json.dumps(sorted(self.chunks)))


class LayerProbe(pl.Callback):
    """What the first convolution of the AMN sees while training: the dtype of its output
    (bfloat16 under bf16-mixed autocast), the memory format of its input and weights; and
    whether the training loader asks for pinned memory. Written to out_dir/probe.json."""

    def __init__(self, out_dir: str):
        self.out_dir = Path(out_dir)
        self.record: dict = {}

    def on_train_start(self, trainer, pl_module) -> None:
        import torch

        conv = pl_module.amn.convs[0]
        self.record["weight_channels_last"] = conv.weight.is_contiguous(memory_format=torch.channels_last)
        self.record["pin_memory"] = bool(trainer.train_dataloader.pin_memory)

        def seen(module, inputs, output) -> None:
            self.record.setdefault("output_dtype", str(output.dtype))
            self.record.setdefault("input_channels_last", inputs[0].is_contiguous(memory_format=torch.channels_last))

        self.hook = conv.register_forward_hook(seen)

    def on_train_end(self, trainer, pl_module) -> None:
        self.hook.remove()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / "probe.json").write_text(json.dumps(self.record))
