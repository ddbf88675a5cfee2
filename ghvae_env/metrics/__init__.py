"""Video-prediction metrics: per-frame PSNR / SSIM / LPIPS, FVD, and best-of-N selection.

Videos are float ``B x T x 3 x H x W`` in [0, 1] (tensor or array) or uint8
``B x T x H x W x 3``; per-frame metrics return float64 numpy ``B x T``.
A metric that cannot run here raises :class:`MetricUnavailable` (see
:func:`metric_availability`); none returns placeholder values.

Modules: ``frame`` (psnr, ssim), ``frechet`` (fvd), ``i3d`` (the FVD network),
``perceptual`` (lpips), ``selection`` (best/mean of N), ``availability``.
"""

from __future__ import annotations

from ghvae_env.metrics._common import MetricUnavailable
from ghvae_env.metrics.availability import metric_availability
from ghvae_env.metrics.frame import psnr, ssim
from ghvae_env.metrics.frechet import frechet_distance, fvd, i3d_features
from ghvae_env.metrics.i3d import I3D, load_i3d
from ghvae_env.metrics.perceptual import lpips
from ghvae_env.metrics.selection import best_of_n, mean_of_n

__all__ = [
    "I3D",
    "MetricUnavailable",
    "best_of_n",
    "frechet_distance",
    "fvd",
    "i3d_features",
    "load_i3d",
    "lpips",
    "mean_of_n",
    "metric_availability",
    "psnr",
    "ssim",
]
