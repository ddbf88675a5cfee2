"""best_of_n / mean_of_n."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ghvae_env.metrics import best_of_n, mean_of_n


def test_best_of_n_picks_best_mean_over_time():
    # N=3 samples, B=2 videos, T=2 frames
    scores = np.array(
        [
            [[1.0, 1.0], [5.0, 0.0]],
            [[0.0, 3.0], [2.0, 2.0]],
            [[2.0, 0.5], [1.0, 1.0]],
        ]
    )
    best = best_of_n(scores, higher_is_better=True)
    np.testing.assert_array_equal(
        best.index, [1, 0]
    )  # means: video0 1, 1.5, 1.25; video1 2.5, 2, 1
    np.testing.assert_array_equal(best.scores, [[0.0, 3.0], [5.0, 0.0]])
    worst = best_of_n(torch.from_numpy(scores), higher_is_better=False)
    np.testing.assert_array_equal(worst.index, [0, 2])
    np.testing.assert_array_equal(worst.scores, [[1.0, 1.0], [1.0, 1.0]])


def test_best_of_n_ties_and_inf():
    scores = np.array([[[1.0, np.inf]], [[1.0, np.inf]], [[2.0, 2.0]]])
    best = best_of_n(scores, higher_is_better=True)
    assert best.index.tolist() == [0]  # first of the tied +inf means
    assert best.scores.shape == (1, 2)


def test_mean_of_n():
    scores = np.arange(12, dtype=np.float32).reshape(3, 2, 2)
    out = mean_of_n(scores)
    assert out.dtype == np.float64 and out.shape == (2, 2)
    np.testing.assert_allclose(out, scores.mean(0))


def test_errors():
    with pytest.raises(ValueError, match=r"N x B x T array, got shape \(2, 3\)"):
        best_of_n(np.zeros((2, 3)), higher_is_better=True)
    with pytest.raises(ValueError, match="contains NaN"):
        mean_of_n(np.full((1, 1, 1), np.nan))
    with pytest.raises(TypeError, match="higher_is_better must be a bool, got 1"):
        best_of_n(np.zeros((1, 1, 1)), higher_is_better=1)
    with pytest.raises(TypeError, match="got list"):
        mean_of_n([[[1.0]]])
