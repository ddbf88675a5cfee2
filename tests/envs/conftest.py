"""A tiny random-weights GHVAE checkpoint and a small clips file, built once per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import ghvae_env.envs  # noqa: F401  (registers GHVAE-RoboNet-v0)
from ghvae_env.envs.assets import save_clips
from ghvae_env.model import GHVAE, GHVAEConfig, save_checkpoint

NUM_CLIPS, CLIP_LEN = 6, 12


@pytest.fixture(scope="session")
def assets(tmp_path_factory) -> dict[str, Path]:
    """``{"checkpoint": tiny .pt, "clips": 6 random clips of 12 frames}`` (~0.2 s)."""
    out = tmp_path_factory.mktemp("ghvae_env_assets")
    torch.manual_seed(0)
    save_checkpoint(
        out / "tiny.pt", GHVAE(GHVAEConfig.preset("tiny")), trained_modules=2, stage="test"
    )
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (NUM_CLIPS, CLIP_LEN, 64, 64, 3), dtype=np.uint8)
    actions = rng.uniform(-1, 1, (NUM_CLIPS, CLIP_LEN - 1, 4)).astype(np.float32)
    save_clips(out / "clips.npz", frames, actions)
    return {"checkpoint": out / "tiny.pt", "clips": out / "clips.npz"}


@pytest.fixture(scope="session")
def kw(assets) -> dict[str, object]:
    """gym.make kwargs for the tiny assets on the CPU."""
    return {"checkpoint": assets["checkpoint"], "clips": assets["clips"], "device": "cpu"}


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Batch-1 steps of the tiny model are fastest on one thread, and on a busy machine
    (2 cores, a training run beside the tests) extra intra-op threads make them ~100x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
