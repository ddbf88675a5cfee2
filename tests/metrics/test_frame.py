"""psnr / ssim against scikit-image and against an independent torch SSIM."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage.metrics import peak_signal_noise_ratio

from ghvae_env.data.frames import to_uint8_hwc
from ghvae_env.metrics import psnr, ssim


def _torch_ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Wang et al. (2004) SSIM, written out: ``N x 3 x H x W`` float64 -> ``N``.

    11 x 11 Gaussian window (sigma 1.5, normalised), K1 = 0.01, K2 = 0.03, L = 1, population
    statistics, VALID filtering (= skimage's 5-pixel border crop), mean over pixels and channels.
    """
    r = torch.arange(-5, 6, dtype=torch.float64)
    g = torch.exp(-(r**2) / (2 * 1.5**2))
    g = g / g.sum()
    w = (g[:, None] * g[None, :]).expand(3, 1, 11, 11)

    def blur(z: torch.Tensor) -> torch.Tensor:
        return F.conv2d(z, w, groups=3)

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return s.mean(dim=(1, 2, 3))


@pytest.fixture
def pair(smooth_videos, add_noise) -> tuple[torch.Tensor, torch.Tensor]:
    target = smooth_videos(2, 3, seed=1)
    pred = add_noise(target, 0.08, seed=2)
    return pred, target


def test_psnr_matches_skimage(pair):
    pred, target = pair
    out = psnr(pred, target)
    assert out.shape == (2, 3) and out.dtype == np.float64
    for b in range(2):
        for t in range(3):
            ref = peak_signal_noise_ratio(
                target[b, t].double().numpy(), pred[b, t].double().numpy(), data_range=1.0
            )
            assert out[b, t] == pytest.approx(ref, abs=1e-10)


def test_psnr_data_range_and_identical_frames(pair):
    pred, target = pair
    np.testing.assert_allclose(psnr(pred, target, 2.0), psnr(pred, target) + 20 * np.log10(2.0))
    assert (psnr(target, target) == 100.0).all()  # the one cap: PSNR_CAP_DB


def test_ssim_matches_independent_torch_ssim(pair, add_noise):
    pred, target = pair
    out = ssim(pred, target)
    ref = _torch_ssim(pred.flatten(0, 1).double(), target.flatten(0, 1).double()).view(2, 3)
    assert out.shape == (2, 3) and out.dtype == np.float64
    np.testing.assert_allclose(out, ref.numpy(), atol=1e-4)
    np.testing.assert_allclose(ssim(target, target), 1.0, atol=1e-12)
    assert (ssim(add_noise(target, 0.3, seed=3), target) < out).all()


def test_uint8_input_equals_float_input(pair):
    pred, target = pair
    pu, tu = to_uint8_hwc(pred), to_uint8_hwc(target)  # B x T x H x W x 3 uint8
    pf, tf = (
        torch.from_numpy(pu).movedim(-1, -3) / 255.0,
        torch.from_numpy(tu).movedim(-1, -3) / 255.0,
    )
    np.testing.assert_allclose(psnr(pu, tu), psnr(pf, tf), rtol=1e-6)
    np.testing.assert_allclose(ssim(pu, tu), ssim(pf, tf), atol=1e-6)
    np.testing.assert_allclose(psnr(pu, tf.numpy()), psnr(pf, tf), rtol=1e-6)  # mixed inputs


@pytest.mark.parametrize("metric", [psnr, ssim])
def test_input_errors(metric, pair):
    pred, target = pair
    with pytest.raises(ValueError, match="pred and target must have the same"):
        metric(pred[:, :2], target)
    with pytest.raises(ValueError, match=r"float pred must lie in \[0, 1\].*max 1\.5"):
        metric(pred * 1.5 + 0.01, target)
    with pytest.raises(ValueError, match="float target must be B x T x 3 x H x W"):
        metric(pred, target[0])
    with pytest.raises(ValueError, match="float pred must be B x T x 3 x H x W"):
        metric(pred.movedim(2, -1), target)  # float channel-last
    with pytest.raises(TypeError, match="pred must be float in .* got dtype int64"):
        metric(np.zeros((2, 3, 3, 64, 64), dtype=np.int64), target)
    with pytest.raises(TypeError, match="pred must be a torch.Tensor or numpy.ndarray, got list"):
        metric([0.0], target)
    with pytest.raises(ValueError, match="uint8 target must be B x T x H x W x 3"):
        metric(pred, np.zeros((2, 3, 3, 64, 64), dtype=np.uint8))
    nan = pred.clone()
    nan[0, 0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="must lie in"):
        metric(nan, target)


def test_psnr_bad_data_range(pair):
    with pytest.raises(ValueError, match="data_range must be a finite number > 0, got 0"):
        psnr(*pair, data_range=0)


def test_ssim_small_frames(smooth_videos):
    x = smooth_videos(1, 1, size=8)
    with pytest.raises(ValueError, match="at least 11 x 11.*8 x 8"):
        ssim(x, x)
