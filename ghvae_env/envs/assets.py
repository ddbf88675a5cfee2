"""What ``GHVAE-RoboNet-v0`` loads from disk, loaded once per process.

* the model checkpoint (``ghvae_env/assets/ghvae_tabletop_cpu-small.pt`` when none is given),
  cached per (file, device) so that ``gym.make_vec(..., num_envs=256)`` or 256 single envs
  share one set of weights;
* the held-out context clips (``ghvae_env/assets/heldout_clips.npz``): arrays ``frames``
  uint8 ``N x L x 64 x 64 x 3`` and ``actions`` float32 ``N x (L-1) x 4`` from held-out
  tabletop trajectories; envs draw their starting context from them.

Both caches are keyed by the resolved path *and* the file's size and modification time, so
a checkpoint rewritten in place (a training run writing its next stage) is loaded afresh.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ghvae_env._io import atomic_path
from ghvae_env.model.api import WorldModel
from ghvae_env.model.checkpoint import bundled_checkpoint_path, load_model
from ghvae_env.spaces import ACTION_DIM, FRAME_SHAPE

__all__ = [
    "ClipsError",
    "HeldoutClips",
    "bundled_clips_path",
    "load_clips",
    "save_clips",
    "load_model_cached",
    "model_scene_version",
    "scene_mismatch",
    "warn_scene_mismatch",
    "warn_model_vs_simulator",
]

BUNDLED_CLIPS = "heldout_clips.npz"
_CACHE_SIZE = 4  # a few (checkpoint, device) pairs: e.g. a trained model and a baseline


def bundled_clips_path() -> Path:
    return Path(__file__).resolve().parent.parent / "assets" / BUNDLED_CLIPS


class ClipsError(ValueError):
    """A clips file or clip arrays of the wrong format (names the file and the array)."""


# ---------------------------------------------------------------------------- model
def _file_key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return str(path.resolve()), st.st_size, st.st_mtime_ns


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _load_model(path: str, size: int, mtime_ns: int, device: str) -> WorldModel:
    del size, mtime_ns  # cache key only: a rewritten file has a new key
    model = load_model(path, device=device)
    if not isinstance(model, WorldModel):  # a registered type that misses part of the protocol
        raise TypeError(
            f"checkpoint {path} holds a {type(model).__name__}, which does not implement "
            "ghvae_env.model.api.WorldModel (model_type, config, start, step, rollout)"
        )
    return model


def load_model_cached(checkpoint: str | os.PathLike | None, device: torch.device) -> WorldModel:
    """The model in ``checkpoint`` (None: the bundled GHVAE; an SVG' checkpoint works too) on
    ``device``, loaded once per process.

    The returned model is shared: it is in eval mode with gradients off and must not be
    modified. Raises FileNotFoundError naming the path when the file does not exist.
    """
    if checkpoint is None:
        path = bundled_checkpoint_path()
        if not path.is_file():
            raise FileNotFoundError(
                f"no bundled GHVAE checkpoint at {path}; pass checkpoint=<path to a .pt written "
                "by `ghvae train`> to gym.make"
            )
    else:
        path = Path(checkpoint)
        if not path.is_file():
            raise FileNotFoundError(f"GHVAE checkpoint not found: {path}")
    return _load_model(*_file_key(path), str(device))


# ---------------------------------------------------------------------------- clips
@dataclass(frozen=True)
class HeldoutClips:
    """Context clips: ``frames`` uint8 N x L x 64 x 64 x 3, ``actions`` float32 N x (L-1) x 4.

    The arrays are read-only (shared between every env of the process); copy before editing.
    """

    frames: np.ndarray
    actions: np.ndarray
    path: str
    scene_version: str | None = None  # e.g. "tabletop-v2"; None when the file does not say

    @property
    def num_clips(self) -> int:
        return int(self.frames.shape[0])

    @property
    def length(self) -> int:
        return int(self.frames.shape[1])


def _check_clip_arrays(frames: np.ndarray, actions: np.ndarray, where: str) -> None:
    if frames.dtype != np.uint8:
        raise ClipsError(f"{where}: 'frames' must be uint8, actual value: dtype {frames.dtype}")
    if (
        frames.ndim != 5
        or frames.shape[2:] != FRAME_SHAPE
        or frames.shape[0] < 1
        or frames.shape[1] < 2
    ):
        raise ClipsError(
            f"{where}: 'frames' must have shape (N, L, 64, 64, 3) with N >= 1 and L >= 2, "
            f"actual value: shape {frames.shape}"
        )
    if not np.issubdtype(actions.dtype, np.floating):
        raise ClipsError(f"{where}: 'actions' must be float, actual value: dtype {actions.dtype}")
    n, length = frames.shape[:2]
    if actions.shape != (n, length - 1, ACTION_DIM):
        raise ClipsError(
            f"{where}: 'actions' must have shape (N, L-1, {ACTION_DIM}) = ({n}, {length - 1}, "
            f"{ACTION_DIM}) to match 'frames', actual value: shape {actions.shape}"
        )
    if not np.all(np.isfinite(actions)):
        raise ClipsError(f"{where}: 'actions' contains NaN or inf")


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _load_clips(path: str, size: int, mtime_ns: int) -> HeldoutClips:
    del size, mtime_ns
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files if name in ("frames", "actions")}
            names = sorted(data.files)
            version = str(data["scene_version"]) if "scene_version" in data.files else None
    except Exception as e:  # zipfile.BadZipFile, OSError, pickled object arrays, ...
        raise ClipsError(f"clips file {path} is not a readable .npz of arrays: {e}") from e
    missing = {"frames", "actions"} - set(arrays)
    if missing:
        raise ClipsError(
            f"clips file {path} lacks the array(s) {sorted(missing)}; it holds {names}"
        )
    frames, actions = arrays["frames"], arrays["actions"]
    _check_clip_arrays(frames, actions, f"clips file {path}")
    actions = actions.astype(np.float32, copy=False)
    frames.flags.writeable = False
    actions.flags.writeable = False
    return HeldoutClips(frames, actions, path, version or None)


def load_clips(clips: str | os.PathLike | None) -> HeldoutClips:
    """Load and validate a clips ``.npz`` (None: the bundled one), once per process."""
    path = bundled_clips_path() if clips is None else Path(clips)
    if not path.is_file():
        hint = (
            "; pass clips=<path to an .npz with 'frames' and 'actions'> or give the context "
            "with reset(options={'context_frames': ..., 'context_actions': ...})"
        )
        what = "no bundled held-out clips at" if clips is None else "clips file not found:"
        raise FileNotFoundError(f"{what} {path}{hint}")
    return _load_clips(*_file_key(path))


def save_clips(
    path: str | os.PathLike,
    frames: np.ndarray,
    actions: np.ndarray,
    scene_version: str | None = None,
) -> Path:
    """Validate and atomically write a clips ``.npz`` (the format :func:`load_clips` reads).

    frames: uint8 N x L x 64 x 64 x 3; actions: float N x (L-1) x 4 (stored as float32);
    scene_version: the scene the clips were rendered in (e.g. ``"tabletop-v2"``), stored so
    that an env can warn when its model saw another scene.
    """
    frames, actions = np.asarray(frames), np.asarray(actions)
    _check_clip_arrays(frames, actions, "save_clips")
    if scene_version is not None and (not isinstance(scene_version, str) or not scene_version):
        raise ClipsError(
            f"save_clips: scene_version must be a non-empty str or None, actual value: "
            f"{scene_version!r}"
        )
    extra = {} if scene_version is None else {"scene_version": np.array(scene_version)}
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, frames=frames, actions=actions.astype(np.float32), **extra)
    return path


# ---------------------------------------------------------------------------- scenes
def scene_version_of_provenance(scene: object) -> str | None:
    """The scene version a dataset summary (``provenance['dataset']['scene']``) records.

    Tabletop data from before scene versions were recorded is ``"tabletop-v1"``; other
    scenes are named by their scene key (``"toy"``, ``"robonet"``); None when unknown.
    """
    if not isinstance(scene, dict):
        return None
    meta = scene.get("scene_metadata")
    if isinstance(meta, dict) and meta.get("scene_version"):
        return str(meta["scene_version"])
    name = scene.get("scene")
    if name == "tabletop":
        return "tabletop-v1"
    return str(name) if name else None


def model_scene_version(model: object) -> str | None:
    """The scene the model's training data came from (its checkpoint's provenance), or None."""
    info = getattr(model, "checkpoint_info", None) or {}
    prov = info.get("provenance") or {}
    dataset = prov.get("dataset") if isinstance(prov, dict) else None
    return scene_version_of_provenance(dataset.get("scene") if isinstance(dataset, dict) else None)


def scene_mismatch(model_version: str | None, data_version: str | None, what: str) -> str | None:
    """A warning text when both versions are known and differ, else None."""
    if model_version is None or data_version is None or model_version == data_version:
        return None
    return (
        f"the model was trained on scene {model_version!r} but {what} come from scene "
        f"{data_version!r}: predictions start from frames unlike its training data (retrain "
        "on data of this scene, or pass matching clips/checkpoint)"
    )


_WARNED: set[tuple[str, str, str]] = set()


def warn_model_vs_simulator(model: object, scene_version: str | None = None) -> str | None:
    """Warn when the model's scene is not the simulator's (default: the default scene's)."""
    if scene_version is None:
        from ghvae_env.sim.scene import SCENE_VERSION as scene_version
    msg = scene_mismatch(model_scene_version(model), scene_version, "the simulator's frames")
    if msg is not None:
        import warnings

        warnings.warn(msg, UserWarning, stacklevel=2)
    return msg


def warn_scene_mismatch(model: object, clips: HeldoutClips) -> str | None:
    """Warn (once per model file and clips file) when the model's scene is not the clips'."""
    msg = scene_mismatch(model_scene_version(model), clips.scene_version, f"the clips {clips.path}")
    if msg is not None:
        path = str((getattr(model, "checkpoint_info", None) or {}).get("path"))
        key = (path, clips.path, msg)
        if key not in _WARNED:
            _WARNED.add(key)
            import gymnasium as gym

            gym.logger.warn(msg)
    return msg
