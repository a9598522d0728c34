"""The store's tests read the tiny real stores tests/datasets/conftest.py collects (defined once)."""

from tests.datasets.conftest import breakout_expert, breakout_zarr

__all__ = ["breakout_expert", "breakout_zarr"]
