"""Device names -> ``torch.device``, in one place (envs, trainer, planner, benchmarks)."""

from __future__ import annotations

import torch

__all__ = ["model_device", "resolve_device"]


def resolve_device(device: str | torch.device, local_rank: int | None = None) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else must name a usable device.

    ``local_rank`` (a DDP process's rank on its node): a bare ``"cuda"`` (or ``"auto"`` on a
    CUDA machine) becomes ``cuda:<local_rank>``. Raises ValueError naming the value.
    """
    if isinstance(device, str) and device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(
            f'device must be "auto", "cpu", "cuda" or "cuda:N", actual value: {device!r}'
        ) from e
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device {str(device)!r} requested but CUDA is not available "
                "(torch.cuda.is_available() is False)"
            )
        if dev.index is None and local_rank is not None:
            dev = torch.device("cuda", local_rank)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"device {str(device)!r} requested but only {torch.cuda.device_count()} CUDA "
                "device(s) exist"
            )
    return dev


def model_device(model: object) -> torch.device:
    """The device of a model's first parameter; CPU for a model without parameters."""
    params = getattr(model, "parameters", None)
    if callable(params):
        try:
            return next(iter(params())).device
        except (StopIteration, TypeError):
            pass
    return torch.device("cpu")
