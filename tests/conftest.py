"""Shared fixtures: a tiny random GHVAE (seconds) and a tiny toy dataset."""

from __future__ import annotations

import pytest
import torch

from ghvae_env.model import GHVAE, GHVAEConfig


@pytest.fixture(scope="session")
def tiny_config() -> GHVAEConfig:
    return GHVAEConfig.preset("tiny")


@pytest.fixture(scope="session")
def tiny_model(tiny_config) -> GHVAE:
    torch.manual_seed(0)
    return GHVAE(tiny_config).eval()


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
