"""LPIPS: unavailable without weights; with a (random) lpips-layout file, matches a
functional re-derivation of the lpips v0.1 forward pass."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ghvae_env.metrics import MetricUnavailable, lpips, metric_availability

_CONVS = {  # lpips key prefix -> (out, in, kernel)
    "net.slice1.0": (64, 3, 11),
    "net.slice2.3": (192, 64, 5),
    "net.slice3.6": (384, 192, 3),
    "net.slice4.8": (256, 384, 3),
    "net.slice5.10": (256, 256, 3),
}


def _random_lpips_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """A state dict with the key layout of ``lpips.LPIPS(net="alex").state_dict()``.

    Random weights: only the layout and the arithmetic are under test, never the values.
    """
    g = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {
        "scaling_layer.shift": torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1),
        "scaling_layer.scale": torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1),
    }
    for key, (out, inp, k) in _CONVS.items():
        state[f"{key}.weight"] = (
            torch.randn(out, inp, k, k, generator=g) * (2 / (inp * k * k)) ** 0.5
        )
        state[f"{key}.bias"] = 0.01 * torch.randn(out, generator=g)
    for i, (out, *_) in enumerate(_CONVS.values()):
        w = torch.rand(1, out, 1, 1, generator=g) / out  # lpips clamps these to >= 0
        state[f"lin{i}.model.1.weight"] = w
        state[f"lins.{i}.model.1.weight"] = w  # lpips saves both names
    return state


def _reference_lpips(
    state: dict[str, torch.Tensor], x0: torch.Tensor, x1: torch.Tensor
) -> torch.Tensor:
    """lpips v0.1 forward (``normalize=True``) written with torch.nn.functional only."""
    pads = {
        "net.slice1.0": 2,
        "net.slice2.3": 2,
        "net.slice3.6": 1,
        "net.slice4.8": 1,
        "net.slice5.10": 1,
    }

    def feats(x: torch.Tensor) -> list[torch.Tensor]:
        h = ((2 * x - 1) - state["scaling_layer.shift"]) / state["scaling_layer.scale"]
        out = []
        for key in _CONVS:
            if key in ("net.slice2.3", "net.slice3.6"):
                h = F.max_pool2d(h, 3, 2)
            stride = 4 if key == "net.slice1.0" else 1
            h = F.relu(F.conv2d(h, state[f"{key}.weight"], state[f"{key}.bias"], stride, pads[key]))
            out.append(h / (torch.sqrt((h**2).sum(1, keepdim=True)) + 1e-10))
        return out

    total = torch.zeros(x0.shape[0])
    for i, (a, b) in enumerate(zip(feats(x0), feats(x1), strict=True)):
        total += F.conv2d((a - b) ** 2, state[f"lin{i}.model.1.weight"]).mean(dim=(1, 2, 3))
    return total


@pytest.fixture
def weights_file(tmp_path) -> tuple[Path, dict[str, torch.Tensor]]:
    state = _random_lpips_state()
    path = tmp_path / "lpips_alex_v0.1.pth"
    torch.save(state, path)
    return path, state


def test_unavailable_without_weights(smooth_videos, tmp_path):
    x = smooth_videos(1, 2)
    with pytest.raises(MetricUnavailable, match=r"weights_path=None.*lpips\.LPIPS\(net='alex'\)"):
        lpips(x, x)
    with pytest.raises(MetricUnavailable, match="does not exist"):
        lpips(x, x, weights_path=tmp_path / "missing.pth")
    assert metric_availability()["lpips"] is False


def test_linear_only_file_is_unavailable(smooth_videos, tmp_path):
    """The lpips package's own alex.pth holds only lin0..lin4: not enough."""
    lin_only = {k: v for k, v in _random_lpips_state().items() if k.startswith("lin")}
    path = tmp_path / "alex.pth"
    torch.save(lin_only, path)
    x = smooth_videos(1, 1)
    with pytest.raises(MetricUnavailable, match="lacks the AlexNet backbone layers"):
        lpips(x, x, weights_path=path)
    assert metric_availability(lpips_weights=path)["lpips"] is False


def test_matches_reference_forward(weights_file, smooth_videos, add_noise):
    path, state = weights_file
    target = smooth_videos(2, 3, seed=1)
    pred = add_noise(target, 0.1, seed=2)
    out = lpips(pred, target, weights_path=path, batch_size=4)
    assert out.shape == (2, 3) and out.dtype == np.float64
    ref = _reference_lpips(state, pred.flatten(0, 1), target.flatten(0, 1)).view(2, 3)
    np.testing.assert_allclose(out, ref.double().numpy(), rtol=1e-5, atol=1e-7)
    assert (out > 0).all()
    np.testing.assert_array_equal(lpips(target, target, weights_path=path), 0.0)
    assert metric_availability(lpips_weights=path)["lpips"] is True


def test_wrong_shapes_and_small_frames(weights_file, smooth_videos, tmp_path):
    path, state = weights_file
    state["net.slice1.0.weight"] = state["net.slice1.0.weight"][:32]
    bad = tmp_path / "bad.pth"
    torch.save(state, bad)
    x = smooth_videos(1, 1)
    with pytest.raises(ValueError, match="does not fit LPIPS-AlexNet"):
        lpips(x, x, weights_path=bad)
    small = smooth_videos(1, 1, size=16)
    with pytest.raises(ValueError, match="at least 31 x 31"):
        lpips(small, small, weights_path=path)
