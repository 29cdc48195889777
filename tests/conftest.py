"""Shared fixtures: per-test seeds, default precision and device, the `device` fixture.

The `slow` marker is registered in `pyproject.toml`. Tests are imported with
`--import-mode=importlib` (file names may repeat across folders), and `pythonpath`
puts this directory on `sys.path`, so tests import the shared systems as
`from systems import ...`.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

import dynamics as qd
from dynamics import _config

# The tests use small matrices, for which intra-op threads only add overhead (and, on a
# loaded 2-core machine, contention that made some products a thousand times slower).
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed_and_defaults():
    """Seed torch and NumPy for every test and restore qdynamics' global defaults after it."""
    torch.manual_seed(0)
    np.random.seed(0)  # noqa: NPY002 (legacy global RNG, for code that uses it)
    saved = dict(_config._state)
    yield
    _config._state.clear()
    _config._state.update(saved)


@pytest.fixture
def device() -> torch.device:
    """The device to test on: `QD_TEST_DEVICE` (e.g. `cuda`), CPU by default."""
    dev = torch.device(os.environ.get("QD_TEST_DEVICE", "cpu"))
    if dev.type == "cuda" and not torch.cuda.is_available():
        pytest.skip("CUDA is not available")
    qd.set_device(dev)
    return dev
