"""Checkpoints: one file with config, weights, stage, data provenance and versions.

Written atomically (temp file + rename) and read with ``torch.load(weights_only=True)``:
only tensors and plain containers are unpickled, never arbitrary code.
"""

from __future__ import annotations

import os
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ghvae_env._io import atomic_path
from ghvae_env.model.api import MODEL_TYPES, check_temperature, model_class
from ghvae_env.model.config import ConfigError

__all__ = [
    "CheckpointError",
    "save_checkpoint",
    "read_checkpoint",
    "build_model",
    "load_model",
    "bundled_checkpoint_path",
    "atomic_torch_save",
    "checkpoint_payload",
    "model_temperature",
    "set_sampling_temperature",
    "MODEL_TYPES",
]

FORMAT = "ghvae-env-checkpoint"
FORMAT_VERSION = 1
BUNDLED_CHECKPOINT = "ghvae_tabletop_cpu-small.pt"


class CheckpointError(ValueError):
    """A checkpoint file is missing, truncated, of the wrong format or does not match."""


def bundled_checkpoint_path() -> Path:
    return Path(__file__).resolve().parent.parent / "assets" / BUNDLED_CHECKPOINT


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> Path:
    """torch.save to a temp file in the same directory, fsync, then rename over ``path``."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        torch.save(obj, f)
    return path


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    *,
    trained_modules: int,
    stage: str,
    provenance: dict[str, Any] | None = None,
    history: list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write a model checkpoint. ``stage`` names what produced it ("greedy-2", "e2e", ...)."""
    payload = checkpoint_payload(
        model,
        trained_modules=trained_modules,
        stage=stage,
        provenance=provenance,
        history=history,
    )
    if extra:
        payload.update(extra)
    return atomic_torch_save(payload, path)


def checkpoint_payload(
    model: nn.Module,
    *,
    trained_modules: int | None = None,
    stage: str | None = None,
    provenance: dict[str, Any] | None = None,
    history: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The dict a checkpoint file holds (the one builder: model files and training state).

    ``model`` is a :class:`~ghvae_env.model.api.WorldModel` module whose ``model_type`` is
    registered in :data:`~ghvae_env.model.api.MODEL_TYPES`. ``trained_modules`` and ``stage``
    are left out when None (the trainer's ``last.pt`` records its phase itself).
    """
    from ghvae_env._version import __version__

    payload: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_type": model.model_type,
        "config": model.config.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    if trained_modules is not None:
        payload["trained_modules"] = int(trained_modules)
    if stage is not None:
        payload["stage"] = stage
    payload.update(
        provenance=provenance or {},
        history=history or [],
        package_version=__version__,
        torch_version=str(torch.__version__),
    )
    return payload


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load and validate a checkpoint dict (no model built). Errors name the file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.is_dir():
        raise CheckpointError(
            f"checkpoint {path} is a directory; pass the .pt file (e.g. {path / 'model.pt'})"
        )
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(f"checkpoint {path} is empty (0 bytes)")
    _check_container(path, size)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:  # weights_only refuses arbitrary pickled objects
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(e))
        what = f"the global {found.group(1)}" if found else _first_line(e)
        raise CheckpointError(
            f"checkpoint {path} holds Python objects other than tensors and plain containers "
            f"(a pickled model or another project's objects?), which torch.load(weights_only=True) "
            f"refuses: {what}"
        ) from e
    except (zipfile.BadZipFile, RuntimeError, EOFError, OSError) as e:
        raise CheckpointError(
            f"checkpoint {path} is truncated or corrupt ({size} bytes): {_first_line(e)}"
        ) from e
    except Exception as e:  # corrupt pickle data: KeyError, IndexError, ... with bare messages
        raise CheckpointError(
            f"checkpoint {path} is corrupt: its data could not be unpickled "
            f"({type(e).__name__}: {_first_line(e)})"
        ) from e
    if not isinstance(payload, dict):
        raise CheckpointError(
            f"{path} is not a ghvae-env checkpoint: it holds a {type(payload).__name__}, "
            f"expected a dict with format={FORMAT!r} (written by `ghvae train` / save_checkpoint)"
        )
    if payload.get("format") != FORMAT:
        keys = sorted(map(str, payload))[:8]
        raise CheckpointError(
            f"{path} is not a ghvae-env checkpoint: format is {payload.get('format')!r}, "
            f"expected {FORMAT!r}; its top-level keys are {keys} (a plain state_dict or another "
            "project's checkpoint?)"
        )
    if payload.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {path} has format_version {payload.get('format_version')}, "
            f"this ghvae-env reads <= {FORMAT_VERSION}; upgrade ghvae-env"
        )
    for key in ("model_type", "config", "state_dict"):
        if key not in payload:
            raise CheckpointError(f"checkpoint {path} lacks the field {key!r}")
    sampling = payload.get("sampling")
    if sampling is not None:
        try:
            check_temperature(sampling.get("temperature") if isinstance(sampling, dict) else None)
        except ValueError as e:
            raise CheckpointError(
                f"checkpoint {path} has a bad field 'sampling' ({sampling!r}): {e}"
            ) from None
    return payload


def model_temperature(model: Any) -> float:
    """The latent sampling temperature a loaded model's checkpoint recommends (its
    ``sampling`` field, written by :func:`set_sampling_temperature`), else 1 (the prior as
    trained). The envs and ``benchmarks/imagined_vs_simulated.py`` use it by default."""
    info = getattr(model, "checkpoint_info", None) or {}
    sampling = info.get("sampling") or {}
    return float(sampling.get("temperature", 1.0))


def set_sampling_temperature(
    path: str | os.PathLike, temperature: float, chosen_on: str
) -> dict[str, Any]:
    """Record in the checkpoint at ``path`` (rewritten atomically; weights untouched) the
    latent temperature its samples should be drawn at by default, and ``chosen_on``: how it
    was chosen (data that is not the test set). Returns the new ``sampling`` field."""
    temperature = check_temperature(temperature)
    if not isinstance(chosen_on, str) or not chosen_on.strip():
        raise ValueError(
            f"chosen_on must say how the value was chosen, actual value: {chosen_on!r}"
        )
    payload = read_checkpoint(path)
    payload["sampling"] = {"temperature": temperature, "chosen_on": chosen_on}
    atomic_torch_save(payload, path)
    return payload["sampling"]


_ZIP_MAGIC = b"PK\x03\x04"  # torch.save's default (zip) format starts with a zip entry


def _first_line(e: BaseException) -> str:
    """The first line of an exception's message, without terminal colour codes."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _check_container(path: Path, size: int) -> None:
    """Name what a file is when it is not a complete torch zip archive (before unpickling)."""
    with open(path, "rb") as f:
        head = f.read(8)
    if zipfile.is_zipfile(path):
        return
    if head.startswith(_ZIP_MAGIC):
        raise CheckpointError(
            f"checkpoint {path} is a truncated or corrupt zip archive ({size} bytes, no zip "
            "directory at its end): was its write interrupted? Re-copy it or use another stage"
        )
    if head.startswith(b"\x93NUMPY"):
        what = "a NumPy .npy array file"
    elif head[:1] == b"\x80":
        what = "a raw pickle (or a legacy torch.save file), not torch's zip format"
    elif head and all(32 <= c < 127 or c in (9, 10, 13) for c in head):
        what = f"a text file (starts with {head.decode('ascii', 'replace')!r})"
    else:
        what = f"not a torch checkpoint (starts with bytes {head!r}, expected {_ZIP_MAGIC!r})"
    raise CheckpointError(
        f"checkpoint {path} is {what}; expected a .pt file written by `ghvae train` / "
        "save_checkpoint"
    )


def build_model(payload: dict[str, Any], path: str | os.PathLike = "<checkpoint>") -> nn.Module:
    """Instantiate the model a checkpoint dict describes and load its weights strictly."""
    mtype = payload["model_type"]
    if mtype not in MODEL_TYPES:
        raise CheckpointError(
            f"checkpoint {path} has unknown model_type {mtype!r}; known: {sorted(MODEL_TYPES)} "
            "(ghvae_env.model.api.register_model_type adds one)"
        )
    cls = model_class(mtype)
    try:
        config = cls.config_class.from_dict(dict(payload["config"]))
    except (ConfigError, TypeError) as e:
        raise CheckpointError(f"checkpoint {path} has an invalid config: {e}") from e
    model = cls(config)
    own = model.state_dict()
    sd = payload["state_dict"]
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    if missing or unexpected:
        raise CheckpointError(
            f"checkpoint {path} does not match its config: missing keys {missing[:5]}"
            f"{'...' if len(missing) > 5 else ''}, unexpected keys {unexpected[:5]}"
            f"{'...' if len(unexpected) > 5 else ''}"
        )
    for k, v in sd.items():
        if tuple(v.shape) != tuple(own[k].shape):
            raise CheckpointError(
                f"checkpoint {path}: tensor {k!r} has shape {tuple(v.shape)}, the config expects {tuple(own[k].shape)}"
            )
    model.load_state_dict(sd, strict=True)
    return model


def load_model(
    path: str | os.PathLike | None = None, device: str | torch.device = "cpu"
) -> nn.Module:
    """Load a trained model for inference (eval mode, no grad). ``path=None``: the bundled one."""
    if path is None:
        path = bundled_checkpoint_path()
        if not path.exists():
            raise FileNotFoundError(
                f"no bundled checkpoint at {path}; pass a checkpoint path written by `ghvae train`"
            )
    payload = read_checkpoint(path)
    model = build_model(payload, path)
    model.checkpoint_info = {
        k: payload.get(k) for k in ("trained_modules", "stage", "provenance", "history", "sampling")
    }
    model.checkpoint_info["path"] = str(path)
    return model.to(device).eval().requires_grad_(False)
