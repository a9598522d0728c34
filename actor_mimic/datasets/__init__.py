"""Reading teacher stores fast: datasets of one game, mixtures of games, and a chunk-wise loader.

Usage:
    from actor_mimic.datasets import TeacherDataset, TeacherMixture, make_loader
    pong = TeacherDataset(["pong-0.zarr", "pong-1.zarr"])     # shards of one game, read as one
    train, val = pong.split_episodes(val_fraction=0.05, seed=0)
    mix = TeacherMixture([train, breakout], weighting="balanced")
    for batch in make_loader(mix, batch_size=256, seed=0):   # dict of tensors, see batch.py
        ...
"""

from actor_mimic.datasets.batch import BATCH_KEYS
from actor_mimic.datasets.loader import TeacherLoader, make_loader
from actor_mimic.datasets.loader_settings import WEIGHTINGS, LoaderSettings
from actor_mimic.datasets.mixture import TeacherMixture
from actor_mimic.datasets.teacher import TeacherDataset

__all__ = [
    "BATCH_KEYS", "WEIGHTINGS", "LoaderSettings", "TeacherDataset", "TeacherLoader", "TeacherMixture", "make_loader",
]  # fmt: skip
