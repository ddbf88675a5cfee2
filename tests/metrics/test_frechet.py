"""frechet_distance against closed forms; FVD end to end on small sets."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from ghvae_env.data.frames import to_uint8_hwc
from ghvae_env.metrics import frechet_distance, fvd, i3d_features
from ghvae_env.metrics.frechet import FVDSampleSizeWarning


def _sym_sqrt(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(a)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def test_frechet_distance_closed_forms(rng):
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    a, b = rng.uniform(0.5, 2, size=5), rng.uniform(0.5, 2, size=5)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected)

    # general PSD: Tr(sqrtm(S1 S2)) = Tr(sqrt(S1^1/2 S2 S1^1/2)), computed with eigh
    x, y = rng.normal(size=(50, 5)), rng.normal(size=(40, 5)) @ rng.normal(size=(5, 5))
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    r1 = _sym_sqrt(s1)
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * _sym_sqrt(r1 @ s2 @ r1))
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_imaginary_parts():
    mu = np.zeros(2)
    # a tiny negative eigenvalue (round-off in a singular covariance) is tolerated
    assert np.isfinite(frechet_distance(mu, np.diag([1.0, -1e-12]), mu, np.eye(2)))
    with pytest.raises(ValueError, match="imaginary diagonal part"):
        frechet_distance(mu, np.diag([1.0, -1.0]), mu, np.eye(2))


def test_frechet_distance_errors():
    with pytest.raises(
        ValueError, match=r"mu1 and mu2 must both have shape D, got \(3,\) and \(2,\)"
    ):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match=r"sig2 must have shape 3 x 3, got \(2, 2\)"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), np.eye(2))
    with pytest.raises(ValueError, match="sig1 contains NaN or inf"):
        frechet_distance(np.zeros(1), np.full((1, 1), np.nan), np.zeros(1), np.eye(1))


@pytest.fixture(scope="module")
def clean_videos(smooth_videos) -> torch.Tensor:
    """3 clean 9-frame 64 x 64 videos (9 frames is the least I3D accepts)."""
    return smooth_videos(3, 9, seed=0)


@pytest.fixture(scope="module")
def feature_sets(i3d, clean_videos, add_noise) -> dict[float, np.ndarray]:
    """I3D features of the clean videos and of noisy copies, keyed by noise std."""
    return {
        std: i3d_features(add_noise(clean_videos, std, seed=1) if std else clean_videos, i3d, 3)
        for std in (0.0, 0.05, 0.3)
    }


def _fd(f1: np.ndarray, f2: np.ndarray) -> float:
    return frechet_distance(
        f1.mean(0), np.cov(f1, rowvar=False), f2.mean(0), np.cov(f2, rowvar=False)
    )


def test_fvd_of_a_set_with_itself_is_zero(feature_sets):
    f = feature_sets[0.0]
    assert f.shape == (3, 400) and f.dtype == np.float64
    assert abs(_fd(f, f)) < 1e-3


def test_fvd_grows_with_noise(feature_sets):
    clean = feature_sets[0.0]
    small, large = _fd(clean, feature_sets[0.05]), _fd(clean, feature_sets[0.3])
    assert 1.0 < small < large


def test_features_do_not_depend_on_batching(i3d, clean_videos, feature_sets):
    single = i3d_features(clean_videos[2:], i3d, batch_size=1)  # was the 3rd of a batch of 3
    np.testing.assert_allclose(single, feature_sets[0.0][2:], atol=1e-4)


def test_fvd_end_to_end(i3d, clean_videos):
    """fvd() on uint8 real vs float fake copies of the same videos: ~0, with the warning."""
    x = clean_videos[:2]
    xu = to_uint8_hwc(x)  # (B, T, H, W, 3) uint8
    x_float = torch.from_numpy(xu).movedim(-1, -3) / 255.0  # same frames as float
    with pytest.warns(FVDSampleSizeWarning, match="below 256 per set"):
        value = fvd(xu, x_float, model=i3d, batch_size=2)
    assert abs(value) < 1e-3


def test_fvd_input_errors(i3d, smooth_videos):
    x = smooth_videos(2, 9, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FVDSampleSizeWarning)
        with pytest.raises(ValueError, match="at least 2 videos in fake_videos, got 1"):
            fvd(x, x[:1], model=i3d)
        with pytest.raises(ValueError, match="must share T x 3 x H x W"):
            fvd(x, x[:, :8], model=i3d)
        with pytest.raises(
            ValueError, match="real_videos must have T >= 9 frames for I3D, got T=8"
        ):
            fvd(x[:, :8], x[:, :8], model=i3d)
        with pytest.raises(ValueError, match=r"float real_videos must lie in \[0, 1\]"):
            fvd(x * 255, x, model=i3d)
        with pytest.raises(TypeError, match="model must be an I3D"):
            fvd(x, x, model=torch.nn.Identity())
    with pytest.raises(ValueError, match="batch_size must be an int >= 1, got 0"):
        i3d_features(x, i3d, batch_size=0)
