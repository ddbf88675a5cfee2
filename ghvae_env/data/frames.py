"""The one place where frames change representation.

uint8 channel-last ``... x 64 x 64 x 3`` in [0, 255] (what envs, shards and users hold)
<-> float channel-first ``... x 3 x 64 x 64`` in [0, 1] (what the model consumes).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["to_float_chw", "to_uint8_hwc"]


def to_float_chw(
    frames: np.ndarray | torch.Tensor, device: torch.device | str | None = None
) -> torch.Tensor:
    """uint8 ``... x H x W x 3`` -> float32 ``... x 3 x H x W`` in [0, 1]."""
    t = torch.as_tensor(np.ascontiguousarray(frames) if isinstance(frames, np.ndarray) else frames)
    if t.dtype != torch.uint8:
        raise TypeError(f"frames must be uint8, got dtype {t.dtype}")
    if t.ndim < 3 or t.shape[-1] != 3:
        raise ValueError(f"frames must be ... x H x W x 3, got shape {tuple(t.shape)}")
    t = t.to(device) if device is not None else t
    return t.movedim(-1, -3).float().div_(255.0)  # (..., 3, H, W)


def to_uint8_hwc(frames: torch.Tensor) -> np.ndarray:
    """float ``... x 3 x H x W`` in [0, 1] -> uint8 numpy ``... x H x W x 3`` (fresh array)."""
    if frames.ndim < 3 or frames.shape[-3] != 3:
        raise ValueError(f"frames must be ... x 3 x H x W, got shape {tuple(frames.shape)}")
    x = frames.detach().float().clamp(0.0, 1.0).mul(255.0).round_().to(torch.uint8)
    return x.movedim(-3, -1).cpu().numpy().copy()  # (..., H, W, 3)
