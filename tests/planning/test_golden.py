"""Golden outputs of the planners: the actions CEM, MPPI and random shooting choose on the
toy blob model (``tests/planning/conftest.py``) at a fixed seed, pinned to stored values.

A refactor of the planners must not change a chosen action (beyond float rounding, 1e-5).
Regenerate only when the planners' search is meant to change::

    OMP_NUM_THREADS=1 python tests/planning/test_golden.py
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from ghvae_env.planning.config import PlannerConfig
from ghvae_env.planning.planners import Planner

GOLDEN = Path(__file__).with_name("golden_planner.npz")
METHODS = ("cem", "mppi", "random")
START, TARGET, HORIZON, SEED = (32.0, 32.0), (42.0, 24.0), 4, 0


def _blob():
    spec = importlib.util.spec_from_file_location("blob", Path(__file__).with_name("conftest.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.Blob


def chosen_actions(method: str) -> tuple[np.ndarray, np.ndarray]:
    """(actions H x 4, mean H x 4) of one plan on the blob model (float32)."""
    blob = _blob()
    frame = blob.image(START)
    cfg = PlannerConfig(method=method, num_samples=32, iterations=3, horizon=HORIZON, seed=SEED)
    result = Planner(blob.Model(), cfg).plan(
        torch.stack([frame, frame]), torch.zeros(1, 4), blob.image(TARGET)
    )
    return result.actions, result.mean


@pytest.mark.parametrize("method", METHODS)
def test_planner_chooses_the_golden_actions(method):
    stored = np.load(GOLDEN)
    actions, mean = chosen_actions(method)
    np.testing.assert_allclose(actions, stored[f"{method}_actions"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(mean, stored[f"{method}_mean"], rtol=0, atol=1e-5)


if __name__ == "__main__":
    torch.set_num_threads(1)
    arrays = {}
    for m in METHODS:
        arrays[f"{m}_actions"], arrays[f"{m}_mean"] = chosen_actions(m)
    np.savez_compressed(GOLDEN, **arrays)
    print(f"wrote {GOLDEN}: {sorted(arrays)}")
