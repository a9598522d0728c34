"""The multitask data: a LightningDataModule over teacher stores of several games.

    data:
      games:
        - {game: pong, stores: [pong-0.zarr, pong-1.zarr]}
        - {game: breakout, stores: [breakout-0.zarr]}
      weighting: balanced        # every game equally often, as the paper's lockstep minibatches
      batch_size: 256
      val_fraction: 0.05         # held out by whole episodes, per game
      seed: 0
      num_workers: 2

The stores are checked against the config and each other when the module is built
(`tasks.describe_tasks`), before any training starts; `self.tasks` (a `Tasks`) describes them for the
model and the export. The datasets are opened in `setup`, by whole episodes split into
training and validation (the same split for `validate` and `test`, which use the held-out
episodes).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytorch_lightning as pl

from actor_mimic.common.atari import NUM_ALE_ACTIONS
from actor_mimic.common.limits import check_memory, check_real, check_seed, check_whole, check_workers
from actor_mimic.datasets import WEIGHTINGS, LoaderSettings, TeacherDataset, TeacherMixture, make_loader
from actor_mimic.distill.tasks import GameStores, Tasks, describe_tasks
from actor_mimic.errors import UserError

MAX_BATCH_SIZE = 1 << 20


def _sample_bytes(tasks: Tasks) -> int:
    """Bytes of one sample in a batch: its frame stack, the 18-way targets and mask, the
    widest expert hidden layer (as float32) and a few scalars."""
    shape = tasks.preprocessing
    frames = int(shape["stack_size"]) * int(shape["screen_size"]) ** 2
    return frames + NUM_ALE_ACTIONS * 5 + 4 * max(task.hidden_size for task in tasks.games) + 64


def batches_per_epoch(loader_length: int, limit_train_batches: int | float | None) -> int:
    """The training batches Lightning takes from a loader of `loader_length` per epoch under
    `Trainer(limit_train_batches=...)`: a whole number caps it, a fraction scales it."""
    if limit_train_batches is None:
        return loader_length
    if isinstance(limit_train_batches, int):
        return max(min(loader_length, limit_train_batches), 1)
    return max(int(loader_length * limit_train_batches), 1)


class TeacherDataModule(pl.LightningDataModule):
    """Batches of the multitask mixture (see `actor_mimic.datasets.batch` for their form).

    games: one entry per game: the game's name and its teacher stores.
    weighting: "balanced" (each game equally often) or "proportional" (by number of steps).
    batch_size: samples per batch, all games together (the paper: 8 per game).
    val_fraction: fraction of each game's episodes held out for validation (0: none).
    seed: seeds the split and the sampling order.
    num_workers: DataLoader worker processes reading the stores.
    pin_memory: batches in page-locked host memory, so their copies to a GPU (which Lightning
        makes non-blocking) overlap the computation; nothing changes without a GPU.
    allow_incomplete: also read stores whose collection was interrupted (their committed part).
    """

    def __init__(
        self,
        games: list[GameStores],
        weighting: str = "balanced",
        batch_size: int = 256,
        val_fraction: float = 0.05,
        seed: int = 0,
        num_workers: int = 2,
        allow_incomplete: bool = False,
        pin_memory: bool = False,
    ):
        super().__init__()
        if weighting not in WEIGHTINGS:
            raise UserError(f"data.weighting must be one of {WEIGHTINGS}, got {weighting!r}")
        check_whole(batch_size, "data.batch_size", 1, MAX_BATCH_SIZE)
        check_real(val_fraction, "data.val_fraction", 0.0, 1.0, high_open=True)
        check_workers(num_workers, "data.num_workers")
        check_seed(seed, "data.seed")
        self.save_hyperparameters()  # read back by key: Lightning types `hparams` as a MutableMapping
        self.tasks = describe_tasks(games, allow_incomplete)
        check_memory(
            (2 + 2 * num_workers) * batch_size * _sample_bytes(self.tasks),
            f"data.batch_size {batch_size} with data.num_workers {num_workers}",
            "lower data.batch_size",
        )
        # The loader's settings this module sets; the others keep make_loader's defaults.
        self.loader_settings = LoaderSettings(
            batch_size=batch_size, seed=seed, num_workers=num_workers, pin_memory=pin_memory
        )
        self.train_mixture: TeacherMixture | None = None  # both made by setup
        self.val_mixture: TeacherMixture | None = None  # None: nothing held out

    def setup(self, stage: str | None = None) -> None:
        if self.train_mixture is not None:
            return
        train_sets, val_sets = [], []
        for game in self.tasks.names:
            stores: list[str | Path] = [store.path for store in self.tasks.stores_of(game)]
            dataset = TeacherDataset(stores, allow_incomplete=self.hparams["allow_incomplete"])
            if self.hparams["val_fraction"] > 0:
                if dataset.num_episodes < 2:
                    raise UserError(
                        f"game {game} has {dataset.num_episodes} episode in its stores, too few to hold "
                        "whole episodes out: collect more episodes or set data.val_fraction: 0"
                    )
                train, val = dataset.split_episodes(
                    val_fraction=self.hparams["val_fraction"], seed=self.hparams["seed"]
                )
                train_sets.append(train)
                val_sets.append(val)
            else:
                train_sets.append(dataset)
        self.train_mixture = TeacherMixture(train_sets, weighting=self.hparams["weighting"])
        # Validation reads every held-out step exactly once, in stored order; per-game means
        # make the games count equally however many steps each holds.
        self.val_mixture = TeacherMixture(val_sets, weighting="proportional") if val_sets else None

    def train_dataloader(self):
        if self.train_mixture is None:
            raise RuntimeError("TeacherDataModule.setup() must run before train_dataloader()")
        loader = make_loader(self.train_mixture, settings=self.loader_settings)
        # The loader's order depends on (seed, epoch). A fit resumed from a checkpoint starts
        # where the interrupted one stopped, epoch and batch, so it trains on exactly the
        # batches an uninterrupted fit would. The position comes from the restored step count,
        # the one counter that is exact wherever the checkpoint was saved (Lightning's epoch
        # counter lags by one when it was saved on an epoch's last batch). Each new pass over
        # the loader then advances its epoch by itself.
        if self.trainer is not None and self.trainer.global_step > 0:
            batches_done = self.trainer.global_step * self.trainer.accumulate_grad_batches
            epoch, batch = divmod(batches_done, batches_per_epoch(len(loader), self.trainer.limit_train_batches))
            loader.start_at(epoch, batch)
        return loader

    def val_dataloader(self):
        if self.val_mixture is None:
            return []
        return make_loader(self.val_mixture, settings=dataclasses.replace(self.loader_settings, shuffle=False))

    def test_dataloader(self):
        return self.val_dataloader()
