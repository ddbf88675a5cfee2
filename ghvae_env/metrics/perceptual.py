"""LPIPS (Zhang et al., 2018, "The Unreasonable Effectiveness of Deep Features as a
Perceptual Metric"), version 0.1 with the AlexNet backbone, from a user-supplied file.

ghvae-env ships no LPIPS weights and cannot download them (the AlexNet backbone comes from
torchvision's ImageNet weights, the linear heads from the ``lpips`` package). LPIPS runs
only from one ``.pth`` file holding both, in the state-dict layout of ``lpips.LPIPS(
net="alex", version="0.1")``, made once on any machine with ``lpips`` and torchvision::

    python -c "import lpips, torch; torch.save(lpips.LPIPS(net='alex').state_dict(), 'lpips_alex_v0.1.pth')"

Keys used (``scaling_layer.*`` optional, the constants below otherwise)::

    net.slice1.0.{weight,bias}   Conv2d(3, 64, 11, stride 4, pad 2)     -> relu1
    net.slice2.3.{weight,bias}   maxpool 3/2, Conv2d(64, 192, 5, pad 2) -> relu2
    net.slice3.6.{weight,bias}   maxpool 3/2, Conv2d(192, 384, 3, pad 1) -> relu3
    net.slice4.8.{weight,bias}   Conv2d(384, 256, 3, pad 1)             -> relu4
    net.slice5.10.{weight,bias}  Conv2d(256, 256, 3, pad 1)             -> relu5
    lin{0..4}.model.1.weight     1x1 Conv2d(C_l, 1), no bias ("model.0" also accepted)

Without the file, :func:`lpips` raises :class:`MetricUnavailable`; it never returns a
placeholder value.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ghvae_env.metrics._common import MetricUnavailable, as_float_video, check_same_shape

__all__ = ["LPIPS", "lpips"]

LPIPS_CHANNELS = (64, 192, 384, 256, 256)  # relu1..relu5 of AlexNet
LPIPS_MIN_SIZE = 31  # smallest H, W for which AlexNet's conv1 + two max-pools stay non-empty
_SHIFT = (-0.030, -0.088, -0.188)  # lpips ScalingLayer: ImageNet mean in [-1, 1] units
_SCALE = (0.458, 0.448, 0.450)  # lpips ScalingLayer: ImageNet std in [-1, 1] units
_EPS = 1e-10  # lpips.normalize_tensor
_HOW_TO = (
    "LPIPS needs a weights file with the AlexNet backbone and the v0.1 linear layers, which "
    "ghvae-env does not ship. Make one where `lpips` and torchvision are installed: "
    "python -c \"import lpips, torch; torch.save(lpips.LPIPS(net='alex').state_dict(), "
    "'lpips_alex_v0.1.pth')\" and pass weights_path='lpips_alex_v0.1.pth'."
)


def _alexnet_slices() -> nn.ModuleDict:
    """torchvision ``alexnet().features[:12]`` cut at the five ReLUs, with its indices."""

    def seq(*layers: tuple[int, nn.Module]) -> nn.Sequential:
        return nn.Sequential(OrderedDict((str(i), m) for i, m in layers))

    return nn.ModuleDict(
        {
            "slice1": seq((0, nn.Conv2d(3, 64, 11, stride=4, padding=2)), (1, nn.ReLU())),
            "slice2": seq(
                (2, nn.MaxPool2d(3, 2)), (3, nn.Conv2d(64, 192, 5, padding=2)), (4, nn.ReLU())
            ),
            "slice3": seq(
                (5, nn.MaxPool2d(3, 2)), (6, nn.Conv2d(192, 384, 3, padding=1)), (7, nn.ReLU())
            ),
            "slice4": seq((8, nn.Conv2d(384, 256, 3, padding=1)), (9, nn.ReLU())),
            "slice5": seq((10, nn.Conv2d(256, 256, 3, padding=1)), (11, nn.ReLU())),
        }
    )


class _ScalingLayer(nn.Module):
    """lpips ``ScalingLayer``: ``(x - shift) / scale`` per channel, ``N x 3 x H x W``."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("shift", torch.tensor(_SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(_SCALE).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.shift) / self.scale


class _NetLin(nn.Module):
    """lpips ``NetLinLayer``: dropout (identity in eval) then a 1x1 conv to one channel."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.model = nn.Sequential(nn.Dropout(), nn.Conv2d(channels, 1, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class LPIPS(nn.Module):
    """LPIPS v0.1 (AlexNet, linear-calibrated) with the module names of ``lpips.LPIPS``.

    ``forward(x0, x1)``: two ``N x 3 x H x W`` batches in [-1, 1] -> ``N`` distances (>= 0).
    Build it with :meth:`from_file`; a bare ``LPIPS()`` has random weights.
    """

    def __init__(self) -> None:
        super().__init__()
        self.scaling_layer = _ScalingLayer()
        self.net = _alexnet_slices()
        for k, c in enumerate(LPIPS_CHANNELS):
            self.add_module(f"lin{k}", _NetLin(c))

    def _features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Unit-normalised (over channels) relu1..relu5 activations of ``N x 3 x H x W``."""
        h = self.scaling_layer(x)
        feats = []
        for k in range(len(LPIPS_CHANNELS)):
            h = self.net[f"slice{k + 1}"](h)
            feats.append(h / (h.pow(2).sum(dim=1, keepdim=True).sqrt() + _EPS))
        return feats

    def forward(self, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        total = x0.new_zeros(x0.shape[0])
        for k, (f0, f1) in enumerate(zip(self._features(x0), self._features(x1), strict=True)):
            lin = getattr(self, f"lin{k}")
            total = total + lin((f0 - f1).pow(2)).mean(dim=(1, 2, 3))  # spatial average
        return total  # (N,)

    @classmethod
    def from_file(cls, weights_path: str | Path, device: torch.device | str = "cpu") -> LPIPS:
        """Load an ``lpips.LPIPS(net="alex")`` state dict (see module docstring), in eval mode.

        Raises:
            MetricUnavailable: the file does not exist or lacks the backbone or linear layers.
            ValueError: the file is not a state dict, or a tensor has the wrong shape.
        """
        path = Path(weights_path)
        if not path.is_file():
            raise MetricUnavailable(f"weights_path {str(path)!r} does not exist. {_HOW_TO}")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # torch raises several types for non-checkpoint files
            raise ValueError(
                f"weights_path {str(path)!r} is not a torch state dict: {err}"
            ) from err
        if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
            raise ValueError(f"weights_path {str(path)!r} is not a state dict (str -> tensor)")
        model = cls()
        wanted = model.state_dict()
        mapped, missing = {}, []
        for key in wanted:
            candidates = [key]
            if key.startswith("lin"):  # lpips also saves lins.K.*; "model.0" = no-dropout lin
                k = key[3]
                candidates += [f"lins.{k}.model.1.weight", f"lin{k}.model.0.weight"]
            found = next((c for c in candidates if c in state), None)
            if found is not None:
                mapped[key] = state[found]
            elif key.startswith("scaling_layer."):
                mapped[key] = wanted[key]  # constants; older files do not store them
            else:
                missing.append(key)
        if missing:
            part = "AlexNet backbone" if any(m.startswith("net.") for m in missing) else "linear"
            raise MetricUnavailable(
                f"weights_path {str(path)!r} lacks the {part} layers ({', '.join(missing[:3])}"
                f"{', ...' if len(missing) > 3 else ''}); the lpips package's own "
                f"weights/v0.1/alex.pth holds only the linear layers. {_HOW_TO}"
            )
        try:
            model.load_state_dict(mapped, strict=True)
        except RuntimeError as err:
            raise ValueError(
                f"weights_path {str(path)!r} does not fit LPIPS-AlexNet: {err}"
            ) from err
        return model.to(device).eval()


@torch.no_grad()
def lpips(
    pred: np.ndarray | torch.Tensor,
    target: np.ndarray | torch.Tensor,
    weights_path: str | Path | None = None,
    batch_size: int = 64,
) -> np.ndarray:
    """LPIPS distance (v0.1, AlexNet) of every frame: ``B x T`` float64, lower is better.

    Frames in [0, 1] are mapped to [-1, 1] by ``2 x - 1`` (``lpips``' ``normalize=True``)
    at their own resolution (no resize); ``batch_size`` frames per forward pass, on the CPU.

    Args:
        pred: float ``B x T x 3 x H x W`` in [0, 1], or uint8 ``B x T x H x W x 3``;
            ``H, W >= 31``.
        target: same layout and shape as ``pred``.
        weights_path: the LPIPS ``.pth`` file described in the module docstring.
        batch_size: frames per forward pass.

    Raises:
        MetricUnavailable: ``weights_path`` is None, missing, or incomplete; the message
            says how to make the file. No value is returned in that case.
        TypeError / ValueError: bad dtype, shape, range, mismatched shapes, small frames.
    """
    if weights_path is None:
        raise MetricUnavailable(f"lpips got weights_path=None. {_HOW_TO}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    p = as_float_video(pred, "pred")
    t = as_float_video(target, "target")
    check_same_shape(p, t)
    if min(p.shape[-2:]) < LPIPS_MIN_SIZE:
        raise ValueError(
            f"lpips needs frames of at least {LPIPS_MIN_SIZE} x {LPIPS_MIN_SIZE}, got "
            f"H x W = {p.shape[-2]} x {p.shape[-1]}"
        )
    model = LPIPS.from_file(weights_path)
    b, n = p.shape[:2]
    p_frames = p.flatten(0, 1).float() * 2.0 - 1.0  # (B*T, 3, H, W) in [-1, 1]
    t_frames = t.flatten(0, 1).float() * 2.0 - 1.0  # (B*T, 3, H, W) in [-1, 1]
    out = [
        model(p_frames[i : i + batch_size], t_frames[i : i + batch_size]).double()
        for i in range(0, b * n, batch_size)
    ]
    return torch.cat(out).numpy().reshape(b, n)
