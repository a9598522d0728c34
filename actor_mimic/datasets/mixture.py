"""`TeacherMixture`: several games' datasets, one per game, sampled together.

    mix = TeacherMixture([ds_pong, ds_breakout], weighting="balanced")
    mix.games, mix.action_sets, mix.hidden_sizes, mix.hidden_size, mix.preprocessing
    mix[i]                  # index over the games' steps, game after game (batch.py format)

`weighting` tells `make_loader` how to draw: "balanced" puts about equal numbers of every
game in each batch (the paper took 8 states per game per minibatch); "proportional" draws
games in proportion to their sizes. Hidden activations of games with narrower experts are
zero-padded to `hidden_size`, the widest; `hidden_sizes[g]` says how many are real.
"""

from __future__ import annotations

import numpy as np

from actor_mimic.common.atari import preprocessing_differences
from actor_mimic.datasets.batch import empty_batch
from actor_mimic.datasets.loader_settings import WEIGHTINGS
from actor_mimic.datasets.teacher import TeacherDataset, _normalise_index, samples_for_collate
from actor_mimic.errors import UserError


class TeacherMixture:
    def __init__(self, datasets: list[TeacherDataset], weighting: str = "balanced"):
        if isinstance(datasets, TeacherDataset):
            datasets = [datasets]
        if not datasets:
            raise UserError("a mixture needs at least one dataset")
        if weighting not in WEIGHTINGS:
            raise UserError(f"unknown weighting {weighting!r}: choose one of {', '.join(WEIGHTINGS)}")
        games = [ds.game for ds in datasets]
        repeated = sorted({g for g in games if games.count(g) > 1})
        if repeated:
            raise UserError(
                f"{', '.join(repeated)} appear(s) in more than one dataset: pass all stores of "
                "one game to a single TeacherDataset"
            )
        for ds in datasets[1:]:
            differences = preprocessing_differences(datasets[0].preprocessing, ds.preprocessing)
            if differences:
                raise UserError(
                    f"cannot mix {ds.paths[0]} and {datasets[0].paths[0]}: their preprocessing "
                    f"differs ({differences}); recollect one of them with the other's Atari settings"
                )
        empty = [ds.game for ds in datasets if len(ds) == 0]
        if empty:
            raise UserError(f"no committed steps for {', '.join(empty)}: collect data for it first")
        self.datasets = list(datasets)
        self.weighting = weighting
        self._ends = np.cumsum([len(ds) for ds in datasets])

    @property
    def games(self) -> list[str]:
        """ROM ids; `game_id` in batches indexes this list."""
        return [ds.game for ds in self.datasets]

    @property
    def action_sets(self) -> list[tuple[int, ...]]:
        return [ds.action_set for ds in self.datasets]

    @property
    def hidden_sizes(self) -> list[int]:
        return [ds.hidden_size for ds in self.datasets]

    @property
    def hidden_size(self) -> int:
        """Width of `hidden` in batches: the widest expert's."""
        return max(self.hidden_sizes)

    @property
    def preprocessing(self) -> dict:
        return self.datasets[0].preprocessing

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        return self.datasets[0].frame_shape

    def __len__(self) -> int:
        return int(self._ends[-1])

    def __repr__(self) -> str:
        sizes = ", ".join(f"{ds.game}={len(ds)}" for ds in self.datasets)
        return f"TeacherMixture({sizes}, weighting={self.weighting!r})"

    def __getitem__(self, index) -> dict:
        """dict of numpy arrays for an int (no batch axis), a slice or int array."""
        indices, single = _normalise_index(index, len(self))
        game_of = np.searchsorted(self._ends, indices, side="right")
        batch = empty_batch(len(indices), self.frame_shape, self.hidden_size)
        for game_id in np.unique(game_of):
            rows = np.flatnonzero(game_of == game_id)
            offset = self._ends[game_id] - len(self.datasets[game_id])
            part = self.datasets[game_id].read(indices[rows] - offset, int(game_id), self.hidden_size)
            for key, values in part.items():
                batch[key][rows] = values
        return {key: value[0] for key, value in batch.items()} if single else batch

    def __getitems__(self, indices: list[int]) -> list[dict]:
        """What a torch DataLoader with a batch size calls (see TeacherDataset.__getitems__)."""
        return samples_for_collate(self, indices)
