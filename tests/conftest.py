"""Shared fixtures: a tiny random GHVAE (seconds) and a tiny toy dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import ghvae_env  # noqa: F401  (registers the envs)
from ghvae_env.envs.assets import save_clips
from ghvae_env.model import GHVAE, GHVAEConfig, save_checkpoint

NUM_CLIPS, CLIP_LEN = 6, 12


@pytest.fixture(scope="session")
def tiny_config() -> GHVAEConfig:
    return GHVAEConfig.preset("tiny")


@pytest.fixture(scope="session")
def tiny_model(tiny_config) -> GHVAE:
    torch.manual_seed(0)
    return GHVAE(tiny_config).eval()


@pytest.fixture(scope="session")
def plain_model(tiny_model):
    """A user's own WorldModel (the tiny GHVAE inside) whose step and rollout take no
    ``temperature`` keyword: the contract's optional part left out."""
    from ghvae_env.model.api import rollout_by_steps

    class PlainModel:
        model_type, config = "plain", tiny_model.config

        def start(self, frames, actions=None):
            return tiny_model.start(frames, actions)

        def step(self, state, action, generator=None, sample=True):
            return tiny_model.step(state, action, generator, sample=sample)

        def rollout(self, frames, actions, num_samples=1, generator=None, sample=True):
            return rollout_by_steps(self, frames, actions, num_samples, generator, sample)

    return PlainModel()


@pytest.fixture(scope="session")
def toy_data(tmp_path_factory) -> str:
    """12 toy-scene episodes of 12 frames (numpy only, ~1 s)."""
    from ghvae_env.cli import main

    out = tmp_path_factory.mktemp("toy")
    rc = main(
        [
            "generate",
            "--scene",
            "toy",
            "--out",
            str(out),
            "--episodes",
            "12",
            "--steps",
            "12",
            "--seed",
            "0",
            "--episodes-per-shard",
            "4",
        ]
    )
    assert rc == 0
    return str(out)


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


@pytest.fixture
def one_torch_thread():
    """Batch-1 steps of the tiny model are fastest on one thread, and on a busy machine
    (2 cores, a training run beside the tests) extra intra-op threads make them ~100x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def free_port() -> int:
    """A TCP port no process listens on now (bind port 0, read it back): DDP tests'
    --master-port, so that parallel runs and other processes never collide."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
