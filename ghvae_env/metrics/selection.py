"""Combining N stochastic samples per test video, as in SVG (Denton & Fergus, 2018) and
GHVAE (Wu et al., 2021) evaluations: draw N predictions per video, score every frame, then
report either the best sample per video (best-of-N, "by mean over time") or the average.

Scores are ``N x B x T`` (samples x videos x frames), e.g. ``np.stack([psnr(s, gt) for s in
samples])``; results are float64 numpy arrays.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

__all__ = ["BestOfN", "best_of_n", "mean_of_n"]


class BestOfN(NamedTuple):
    """Per-video best sample: its per-frame ``scores`` (``B x T``) and ``index`` (``B``) in N."""

    scores: np.ndarray
    index: np.ndarray


def _scores(scores: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(scores, torch.Tensor):
        scores = scores.detach().cpu().numpy()
    if not isinstance(scores, np.ndarray):
        raise TypeError(
            f"scores must be a numpy.ndarray or torch.Tensor, got {type(scores).__name__}"
        )
    if scores.ndim != 3 or 0 in scores.shape:
        raise ValueError(f"scores must be a non-empty N x B x T array, got shape {scores.shape}")
    if not (np.issubdtype(scores.dtype, np.floating) or np.issubdtype(scores.dtype, np.integer)):
        raise TypeError(f"scores must be real numbers, got dtype {scores.dtype}")
    scores = scores.astype(np.float64)
    if np.isnan(scores).any():
        raise ValueError("scores contains NaN")
    return scores


def best_of_n(scores: np.ndarray | torch.Tensor, higher_is_better: bool) -> BestOfN:
    """Pick, for each video, the sample whose mean score over time is best.

    Args:
        scores: ``N x B x T`` per-frame scores (``+-inf`` allowed, e.g. PSNR of a perfect
            frame; NaN is not).
        higher_is_better: True for PSNR/SSIM, False for LPIPS-like distances.

    Returns:
        ``BestOfN(scores=B x T, index=B)``; ties go to the lowest sample index.

    Raises:
        TypeError / ValueError: ``scores`` is not a real ``N x B x T`` array, contains NaN,
            or ``higher_is_better`` is not a bool.
    """
    if not isinstance(higher_is_better, bool):
        raise TypeError(f"higher_is_better must be a bool, got {higher_is_better!r}")
    s = _scores(scores)
    with np.errstate(invalid="ignore"):  # +inf and -inf in one row give NaN means
        per_sample = s.mean(axis=2)  # (N, B)
    per_sample = np.nan_to_num(per_sample, nan=-np.inf if higher_is_better else np.inf)
    index = per_sample.argmax(axis=0) if higher_is_better else per_sample.argmin(axis=0)  # (B,)
    best = np.take_along_axis(s, index[None, :, None], axis=0)[0]  # (B, T)
    return BestOfN(scores=best, index=index)


def mean_of_n(scores: np.ndarray | torch.Tensor) -> np.ndarray:
    """Average over the N samples: ``N x B x T`` -> ``B x T``.

    Raises:
        TypeError / ValueError: ``scores`` is not a real ``N x B x T`` array or contains NaN.
    """
    return _scores(scores).mean(axis=0)
