"""Settings for the whole suite."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """One torch thread: on a 2-core machine shared with ale-py's threads, torch's default
    of one thread per core is many times slower for the small batches tests use."""
    torch.set_num_threads(1)
