"""A toy world model for planner tests: a bright blob that the action moves.

``BlobModel.rollout`` finds the blob in the last context frame (intensity centroid) and
moves it by ``speed * a[0:2]`` pixels (rows, cols) per step; ``a[2:]`` do nothing. Pushing it
onto a goal blob is a cost landscape with a known optimum.
"""

from __future__ import annotations

import pytest
import torch

SIZE = 64


def blob_image(center: tuple[float, float] | torch.Tensor, sigma: float = 5.0) -> torch.Tensor:
    """3 x 64 x 64 float image of a Gaussian blob at (row, col) ``center``."""
    return blob_images(torch.as_tensor(center, dtype=torch.float32).reshape(1, 2), sigma)[0]


def blob_images(centers: torch.Tensor, sigma: float = 5.0) -> torch.Tensor:
    """N x 2 (row, col) centres -> N x 3 x 64 x 64 blobs in [0, 1]."""
    grid = torch.arange(SIZE, dtype=torch.float32)
    dr = (grid[None, :] - centers[:, :1]) ** 2  # (N, 64) rows
    dc = (grid[None, :] - centers[:, 1:]) ** 2  # (N, 64) cols
    img = torch.exp(-(dr[:, :, None] + dc[:, None, :]) / (2 * sigma * sigma))  # (N, 64, 64)
    return img[:, None].expand(-1, 3, -1, -1).contiguous()


def blob_center(frames: torch.Tensor) -> torch.Tensor:
    """... x 3 x 64 x 64 -> ... x 2 intensity centroid (row, col)."""
    w = frames.mean(dim=-3)  # (..., 64, 64)
    grid = torch.arange(SIZE, dtype=frames.dtype)
    total = w.sum(dim=(-2, -1)).clamp_min(1e-8)
    rows = (w.sum(dim=-1) * grid).sum(dim=-1) / total
    cols = (w.sum(dim=-2) * grid).sum(dim=-1) / total
    return torch.stack([rows, cols], dim=-1)


class BlobModel:
    """The rollout API over a 2-d blob world; records every call's batch size."""

    def __init__(self, speed: float = 4.0) -> None:
        self.speed = speed
        self.batch_sizes: list[int] = []

    def rollout(
        self,
        context_frames: torch.Tensor,
        actions: torch.Tensor,
        num_samples: int = 1,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        B, C = context_frames.shape[:2]
        self.batch_sizes.append(B)
        start = blob_center(context_frames[:, -1])  # (B, 2)
        future = actions[:, C - 1 :, :2]  # (B, H, 2)
        path = start[:, None] + self.speed * future.cumsum(dim=1)  # (B, H, 2)
        H = path.shape[1]
        return blob_images(path.reshape(-1, 2)).reshape(B, H, 3, SIZE, SIZE)


class Blob:
    """The helpers above, handed to tests as the ``blob`` fixture (tests are not a package)."""

    Model = BlobModel
    image = staticmethod(blob_image)
    images = staticmethod(blob_images)
    center = staticmethod(blob_center)


@pytest.fixture(scope="session")
def blob() -> type[Blob]:
    return Blob
