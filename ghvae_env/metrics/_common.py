"""Shared input handling for the metrics: one video contract, one error type.

Every metric takes videos as either

- float ``B x T x 3 x H x W`` (torch tensor or numpy array) with values in [0, 1], or
- uint8 ``B x T x H x W x 3`` (numpy array or torch tensor) in [0, 255], converted by
  :func:`ghvae_env.data.frames.to_float_chw` (the project's one conversion point).
"""

from __future__ import annotations

import numpy as np
import torch

from ghvae_env.data.frames import to_float_chw

__all__ = ["MetricUnavailable", "as_float_video", "check_same_shape"]


class MetricUnavailable(RuntimeError):
    """A metric cannot run here (missing optional package or weights file).

    The message says what is missing and how to supply it. Metrics never return a
    placeholder value instead of raising this.
    """


def as_float_video(video: np.ndarray | torch.Tensor, name: str) -> torch.Tensor:
    """Validate a video batch and return it as float ``B x T x 3 x H x W`` in [0, 1] (CPU).

    float32/float64 inputs keep their dtype; float16/bfloat16 are upcast to float32.

    Raises:
        TypeError: ``video`` is not a tensor/array, or has a dtype other than floating/uint8.
        ValueError: wrong rank or channel layout, or float values outside [0, 1] (or NaN).
    """
    if isinstance(video, np.ndarray):
        if video.dtype != np.uint8 and not np.issubdtype(video.dtype, np.floating):
            raise TypeError(
                f"{name} must be float in [0, 1] or uint8 in [0, 255], got dtype {video.dtype}"
            )
        t = torch.from_numpy(np.ascontiguousarray(video))
    elif isinstance(video, torch.Tensor):
        t = video.detach().cpu()
    else:
        raise TypeError(
            f"{name} must be a torch.Tensor or numpy.ndarray, got {type(video).__name__}"
        )

    if t.numel() == 0:
        raise ValueError(f"{name} must be non-empty, got shape {tuple(t.shape)}")
    if t.dtype == torch.uint8:
        if t.ndim != 5 or t.shape[-1] != 3:
            raise ValueError(f"uint8 {name} must be B x T x H x W x 3, got shape {tuple(t.shape)}")
        return to_float_chw(t)  # (B, T, 3, H, W)
    if not t.is_floating_point():
        raise TypeError(f"{name} must be float in [0, 1] or uint8 in [0, 255], got dtype {t.dtype}")
    if t.ndim != 5 or t.shape[2] != 3:
        raise ValueError(f"float {name} must be B x T x 3 x H x W, got shape {tuple(t.shape)}")
    if t.dtype not in (torch.float32, torch.float64):
        t = t.float()
    lo, hi = float(t.min()), float(t.max())
    if not (lo >= 0.0 and hi <= 1.0):  # also catches NaN
        raise ValueError(f"float {name} must lie in [0, 1], got min {lo:.6g} and max {hi:.6g}")
    return t


def check_same_shape(pred: torch.Tensor, target: torch.Tensor) -> None:
    """Raise ``ValueError`` unless ``pred`` and ``target`` (both ``B x T x 3 x H x W``) match."""
    if pred.shape != target.shape:
        raise ValueError(
            "pred and target must have the same B x T x 3 x H x W shape, got "
            f"pred {tuple(pred.shape)} and target {tuple(target.shape)}"
        )
    if pred.shape[0] == 0 or pred.shape[1] == 0:
        raise ValueError(f"pred and target need B >= 1 and T >= 1, got {tuple(pred.shape)}")
