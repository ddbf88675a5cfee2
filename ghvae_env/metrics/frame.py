"""Per-frame PSNR and SSIM for video batches (the SVG / GHVAE evaluation metrics).

Both take ``pred`` and ``target`` as float ``B x T x 3 x H x W`` in [0, 1] (tensor or
array) or uint8 ``B x T x H x W x 3`` numpy arrays, and return a float64 numpy array
``B x T`` with one value per frame (combine N samples with :mod:`.selection`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Real

import numpy as np
import torch

from ghvae_env.metrics._common import MetricUnavailable, as_float_video, check_same_shape
from ghvae_env.model.losses import PSNR_CAP_DB

__all__ = ["SSIM_SETTINGS", "psnr", "ssim"]

# scikit-image settings that give the SSIM of Wang et al. (2004), Sec. III-C: an 11 x 11
# circular-symmetric Gaussian window with sigma 1.5 (skimage truncates at 3.5 sigma ->
# radius 5), K1 = 0.01, K2 = 0.03, population (not sample) covariances, dynamic range 1.
SSIM_SETTINGS: dict[str, object] = {
    "data_range": 1.0,
    "gaussian_weights": True,
    "sigma": 1.5,
    "use_sample_covariance": False,
}
_SSIM_MIN_SIZE = 11  # the Gaussian window is 11 x 11 and skimage crops its 5-pixel border


def _pair(
    pred: np.ndarray | torch.Tensor, target: np.ndarray | torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    p = as_float_video(pred, "pred")
    t = as_float_video(target, "target")
    check_same_shape(p, t)
    return p.double(), t.double()


def psnr(
    pred: np.ndarray | torch.Tensor,
    target: np.ndarray | torch.Tensor,
    data_range: float = 1.0,
) -> np.ndarray:
    """Peak signal-to-noise ratio of every frame, in dB: ``B x T`` float64.

    ``PSNR = 10 log10(data_range**2 / MSE)`` with the MSE over the ``3 x H x W`` pixels of
    one frame (computed in float64); equals ``skimage.metrics.peak_signal_noise_ratio`` up
    to the package's one cap: the MSE is floored at ``1e-10 * data_range**2``, so identical
    frames give :data:`~ghvae_env.model.losses.PSNR_CAP_DB` = 100 dB, not ``+inf``.

    Args:
        pred: float ``B x T x 3 x H x W`` in [0, 1], or uint8 ``B x T x H x W x 3``.
        target: same layout and shape as ``pred``.
        data_range: the peak value in the formula; 1.0 for frames in [0, 1].

    Raises:
        TypeError / ValueError: bad dtype, shape, range, mismatched shapes, or
            ``data_range <= 0``.
    """
    valid = isinstance(data_range, Real) and not isinstance(data_range, bool)
    if not (valid and math.isfinite(data_range) and data_range > 0):
        raise ValueError(f"data_range must be a finite number > 0, got {data_range!r}")
    p, t = _pair(pred, target)
    mse = (p - t).pow(2).flatten(2).mean(dim=2).numpy()  # (B, T)
    floor = float(data_range) ** 2 * 10.0 ** (-PSNR_CAP_DB / 10.0)
    return 10.0 * np.log10(float(data_range) ** 2 / np.maximum(mse, floor))


def ssim(pred: np.ndarray | torch.Tensor, target: np.ndarray | torch.Tensor) -> np.ndarray:
    """Structural similarity of every frame: ``B x T`` float64 in [-1, 1].

    Computed with scikit-image's ``structural_similarity`` on each ``H x W x 3`` frame with
    ``channel_axis=-1`` and :data:`SSIM_SETTINGS` (``data_range=1``, ``gaussian_weights=True``,
    ``sigma=1.5``, ``use_sample_covariance=False``): the standard setting of Wang et al.
    (2004), averaged over the three channels, and over pixels at least 5 from the border.

    Args:
        pred: float ``B x T x 3 x H x W`` in [0, 1], or uint8 ``B x T x H x W x 3``;
            ``H, W >= 11``.
        target: same layout and shape as ``pred``.

    Raises:
        MetricUnavailable: scikit-image is not installed.
        TypeError / ValueError: bad dtype, shape, range, mismatched shapes, or frames
            smaller than 11 x 11.
    """
    p, t = _pair(pred, target)
    if min(p.shape[-2:]) < _SSIM_MIN_SIZE:
        raise ValueError(
            f"ssim needs frames of at least {_SSIM_MIN_SIZE} x {_SSIM_MIN_SIZE} (the Gaussian "
            f"window), got H x W = {p.shape[-2]} x {p.shape[-1]}"
        )
    structural_similarity = _import_structural_similarity()
    b, n = p.shape[:2]
    p_hwc = p.flatten(0, 1).permute(0, 2, 3, 1).numpy()  # (B*T, H, W, 3)
    t_hwc = t.flatten(0, 1).permute(0, 2, 3, 1).numpy()  # (B*T, H, W, 3)
    out = np.empty(b * n, dtype=np.float64)
    for i in range(b * n):
        out[i] = structural_similarity(p_hwc[i], t_hwc[i], channel_axis=-1, **SSIM_SETTINGS)
    return out.reshape(b, n)


def _import_structural_similarity() -> Callable[..., float]:
    try:
        from skimage.metrics import structural_similarity
    except ImportError as err:
        raise MetricUnavailable(
            "ssim needs scikit-image; install it with `pip install scikit-image`"
        ) from err
    return structural_similarity
