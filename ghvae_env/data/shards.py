"""The shard format: one self-describing ``.npz`` file per batch of trajectories.

A shard holds ``N`` trajectories of ``T`` frames each (``np.savez_compressed``):

=========  ========  ================  ==============================================
key        dtype     shape             meaning
=========  ========  ================  ==============================================
frames     uint8     N x T x 64x64x3   RGB, channel-last, upright
actions    float32   N x (T-1) x 4     action ``t`` takes frame ``t`` to ``t+1``
states     float32   N x T x S         simulator state per frame (``S`` may be 0)
seeds      int64     N                 the seed each trajectory was rolled out from
metadata   unicode   () (0-d)          JSON: format version, scene + its robot,
                                       controller and camera, package and numpy
                                       versions, generation args, creation time
=========  ========  ================  ==============================================

Writes are atomic: the arrays go to a hidden temp file in the target directory
(``.<name>.<pid>.<token>.tmp``), which is flushed, fsynced and then ``os.replace``-d onto
the final name. A writer killed mid-write leaves only the temp file, which
:func:`list_shards` ignores and :func:`remove_stale_temp_files` (called by ``ghvae
generate`` on its next run) deletes. Reads use ``allow_pickle=False``; anything wrong with
a file is a :class:`ShardError` that names the file and the problem.
"""

from __future__ import annotations

import contextlib
import json
import os
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ghvae_env._io import TMP_SUFFIX, atomic_path
from ghvae_env.spaces import ACTION_DIM, FRAME_SHAPE  # re-exported: the shard format's sizes

__all__ = [
    "FORMAT_VERSION",
    "FRAME_SHAPE",
    "ACTION_DIM",
    "Shard",
    "ShardError",
    "scene_version_of",
    "write_shard",
    "read_shard",
    "list_shards",
    "remove_stale_temp_files",
]

FORMAT_VERSION = 1
_KEYS = ("frames", "actions", "states", "seeds", "metadata")
_TMP_SUFFIX = TMP_SUFFIX


class ShardError(ValueError):
    """A shard file is missing, truncated, corrupt or does not follow the format."""


@dataclass(frozen=True)
class Shard:
    """One shard, fully loaded into memory.

    Attributes:
        frames: uint8 ``N x T x 64 x 64 x 3``.
        actions: float32 ``N x (T-1) x 4``.
        states: float32 ``N x T x S``.
        seeds: int64 ``N``.
        metadata: the decoded JSON metadata.
        path: where it was read from.
    """

    frames: np.ndarray
    actions: np.ndarray
    states: np.ndarray
    seeds: np.ndarray
    metadata: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def num_trajectories(self) -> int:
        return int(self.frames.shape[0])

    @property
    def num_steps(self) -> int:
        """Frames per trajectory ``T``."""
        return int(self.frames.shape[1])


def _validate(
    frames: np.ndarray, actions: np.ndarray, states: np.ndarray, seeds: np.ndarray
) -> None:
    """Raise ValueError naming the first field whose dtype or shape breaks the format."""
    for name, arr, dtype in (
        ("frames", frames, np.uint8),
        ("actions", actions, np.float32),
        ("states", states, np.float32),
        ("seeds", seeds, np.int64),
    ):
        if not isinstance(arr, np.ndarray):
            raise ValueError(f"{name} must be a numpy array, got {type(arr).__name__}")
        if arr.dtype != dtype:
            raise ValueError(f"{name} must have dtype {np.dtype(dtype)}, got {arr.dtype}")
    if frames.ndim != 5 or frames.shape[2:] != FRAME_SHAPE:
        raise ValueError(f"frames must have shape (N, T, 64, 64, 3), got {frames.shape}")
    n, t = frames.shape[:2]
    if n < 1:
        raise ValueError(f"frames must hold at least one trajectory, got shape {frames.shape}")
    if t < 2:
        raise ValueError(
            f"frames must hold at least 2 steps per trajectory, got shape {frames.shape}"
        )
    if actions.shape != (n, t - 1, ACTION_DIM):
        raise ValueError(
            f"actions must have shape (N, T-1, {ACTION_DIM}) = {(n, t - 1, ACTION_DIM)}, "
            f"got {actions.shape}"
        )
    if not np.all(np.isfinite(actions)):
        raise ValueError("actions must be finite, got NaN or inf")
    if states.ndim != 3 or states.shape[:2] != (n, t):
        raise ValueError(f"states must have shape (N, T, S) = ({n}, {t}, S), got {states.shape}")
    if seeds.shape != (n,):
        raise ValueError(f"seeds must have shape (N,) = ({n},), got {seeds.shape}")


def _full_metadata(metadata: dict[str, Any]) -> str:
    """Fill in the fields every shard records, and serialise to JSON."""
    if not isinstance(metadata, dict):
        raise ValueError(f"metadata must be a dict, got {type(metadata).__name__}")
    from ghvae_env._version import __version__

    full = {
        "format_version": FORMAT_VERSION,
        "package_version": __version__,
        "numpy_version": np.__version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    full.update(metadata)
    try:
        return json.dumps(full, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ValueError(f"metadata must be JSON-serialisable: {e}") from e


def write_shard(
    path: str | os.PathLike[str],
    frames: np.ndarray,
    actions: np.ndarray,
    states: np.ndarray,
    seeds: np.ndarray,
    metadata: dict[str, Any],
) -> Path:
    """Validate and atomically write one shard.

    Args:
        path: the final file name; must end in ``.npz``. Its directory must exist.
        frames: uint8 ``N x T x 64 x 64 x 3``.
        actions: float32 ``N x (T-1) x 4``.
        states: float32 ``N x T x S`` (``S`` may be 0).
        seeds: int64 ``N``.
        metadata: JSON-serialisable dict (scene, scene metadata, generation args, ...).
            ``format_version``, ``package_version``, ``numpy_version`` and ``created`` are
            added unless given.

    Returns:
        The final path.

    Raises:
        ValueError: a field has the wrong dtype/shape, or metadata is not JSON.
    """
    final = Path(path)
    if final.suffix != ".npz":
        raise ValueError(f"shard path must end in .npz, got {str(final)!r}")
    if not final.parent.is_dir():
        raise FileNotFoundError(f"shard directory does not exist: {final.parent}")
    _validate(frames, actions, states, seeds)
    meta_json = _full_metadata(metadata)

    # Writing through a file object stops numpy from appending ".npz" to the name.
    with atomic_path(final) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(
            f,
            frames=np.ascontiguousarray(frames),
            actions=np.ascontiguousarray(actions),
            states=np.ascontiguousarray(states),
            seeds=np.ascontiguousarray(seeds),
            metadata=np.array(meta_json),  # 0-d unicode array: loads without pickle
        )
    _fsync_dir(final.parent)
    return final


def _fsync_dir(directory: Path) -> None:
    """Persist the rename itself (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        # some filesystems (and all of Windows) refuse fsync on a directory
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def read_shard(path: str | os.PathLike[str]) -> Shard:
    """Load one shard fully into memory, validating it.

    Raises:
        ShardError: the file is missing, truncated, corrupt, lacks a field, or a field has
            the wrong dtype/shape. The message names the file.
    """
    p = Path(path)
    if not p.is_file():
        raise ShardError(f"{p}: shard file does not exist")
    try:
        with np.load(p, allow_pickle=False) as npz:
            missing = [k for k in _KEYS if k not in npz.files]
            if missing:
                raise ShardError(f"{p}: missing field(s) {missing}; has {sorted(npz.files)}")
            arrays = {k: npz[k] for k in _KEYS}
    except ShardError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError) as e:
        raise ShardError(f"{p}: unreadable or truncated shard ({type(e).__name__}: {e})") from e

    meta_arr = arrays["metadata"]
    if meta_arr.shape != () or meta_arr.dtype.kind != "U":
        raise ShardError(
            f"{p}: metadata must be a 0-d unicode array, got dtype {meta_arr.dtype} "
            f"shape {meta_arr.shape}"
        )
    try:
        metadata = json.loads(str(meta_arr))
    except json.JSONDecodeError as e:
        raise ShardError(f"{p}: metadata is not valid JSON ({e})") from e
    if not isinstance(metadata, dict):
        raise ShardError(f"{p}: metadata must be a JSON object, got {type(metadata).__name__}")
    try:
        _validate(arrays["frames"], arrays["actions"], arrays["states"], arrays["seeds"])
    except ValueError as e:
        raise ShardError(f"{p}: {e}") from e
    return Shard(
        frames=arrays["frames"],
        actions=arrays["actions"],
        states=arrays["states"],
        seeds=arrays["seeds"],
        metadata=metadata,
        path=p,
    )


def list_shards(directory: str | os.PathLike[str]) -> list[Path]:
    """Shard files (``*.npz``, not hidden) in ``directory``, sorted by name.

    Temp files from interrupted writes are hidden and do not end in ``.npz``, so they are
    never listed.
    """
    d = Path(directory)
    if not d.is_dir():
        raise FileNotFoundError(f"shard directory does not exist: {d}")
    return sorted(
        p for p in d.iterdir() if p.suffix == ".npz" and not p.name.startswith(".") and p.is_file()
    )


def remove_stale_temp_files(
    directory: str | os.PathLike[str], shard_names: Iterable[str] | None = None
) -> list[Path]:
    """Delete temp files left by killed writers; returns what was removed.

    Args:
        directory: the shard directory.
        shard_names: only remove temp files belonging to these final names (e.g. the shards
            this process owns, so concurrent writers of other shards are left alone).
            ``None`` removes every shard temp file.
    """
    d = Path(directory)
    if not d.is_dir():
        return []
    wanted = None if shard_names is None else set(shard_names)
    removed = []
    for p in d.iterdir():
        name = p.name
        if not (name.startswith(".") and name.endswith(_TMP_SUFFIX) and ".npz." in name):
            continue
        final_name = name[1 : name.index(".npz.") + 4]
        if wanted is not None and final_name not in wanted:
            continue
        p.unlink(missing_ok=True)
        removed.append(p)
    return sorted(removed)


def scene_version_of(scene_metadata: Any, scene: str) -> str | None:
    """The scene version a dataset's metadata records (tabletop data before v2: 'tabletop-v1')."""
    if isinstance(scene_metadata, dict) and scene_metadata.get("scene_version"):
        return str(scene_metadata["scene_version"])
    return "tabletop-v1" if scene == "tabletop" else None
