"""Fixed-length training windows from a directory of shards or of RoboNet HDF5 files.

A window is ``window`` consecutive frames (context + horizon) of one trajectory and the
``window - 1`` actions between them. Everything is loaded into memory as uint8 at
construction (the datasets here are < 1 GB); :meth:`VideoDataset.sample_batch` is then a
pure function of the ``np.random.Generator`` it is given, which is what lets the trainer
resume exactly.

Train / held-out split: a trajectory is held out iff ``crc32(key) / 2**32 <
heldout_fraction``, where ``key`` is ``"seed:<seed>"`` for shard trajectories and
``"file:<file name>"`` for RoboNet files. The split therefore does not depend on file
order, on how episodes were grouped into shards, or on which other files are present.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ghvae_env.data.robonet import list_robonet_files, read_robonet_files
from ghvae_env.data.shards import FRAME_SHAPE, list_shards, read_shard, scene_version_of

__all__ = ["VideoDataset", "EmptySplitError", "SPLITS", "is_heldout"]

SPLITS = ("train", "heldout", "all")


class EmptySplitError(ValueError):
    """The requested split of a dataset holds no trajectory (e.g. a tiny dataset's held-out
    split); catch it to skip held-out evaluation."""


def is_heldout(key: str, heldout_fraction: float) -> bool:
    """Whether the trajectory named ``key`` belongs to the held-out split."""
    return zlib.crc32(key.encode("utf-8")) / 2**32 < heldout_fraction


def _in_split(key: str, split: str, heldout_fraction: float) -> bool:
    if split == "all":
        return True
    return is_heldout(key, heldout_fraction) == (split == "heldout")


def _summarise_scene(metadata: dict[str, Any]) -> dict[str, Any]:
    """The part of a shard's metadata worth copying into a checkpoint."""
    keys = ("scene", "scene_metadata", "format_version", "package_version", "generation")
    summary = {k: metadata[k] for k in keys if k in metadata}
    if "generation" in summary:  # per-shard fields say nothing about the dataset
        gen = dict(summary["generation"])
        gen.pop("shard", None)
        gen.pop("episode_range", None)
        summary["generation"] = gen
    return summary


class VideoDataset:
    """Windows of ``window`` frames from shards or RoboNet files, held in memory.

    Args:
        root: a directory of shards (``*.npz``, see :mod:`ghvae_env.data.shards`) or of
            RoboNet HDF5 files (``*.hdf5`` / ``*.h5``); the format is detected.
        window: frames per window (context + horizon), >= 2.
        split: ``"train"``, ``"heldout"`` or ``"all"``.
        heldout_fraction: share of trajectories held out, in [0, 1).
        camera: RoboNet camera index (ignored for shards).

    Attributes:
        trajectories: list of ``(frames, actions)``: uint8 ``T_i x 64 x 64 x 3`` and float32
            ``(T_i - 1) x 4``, for every trajectory of the split with ``T_i >= window``.
        trajectory_keys: the split key of each trajectory (``seed:<n>`` / ``file:<name>``).
        format: ``"shards"`` or ``"robonet"``.

    ``ds[i]`` is ``{"frames": uint8 window x 64 x 64 x 3, "actions": float32 (window-1) x 4}``
    (fresh arrays), windows ordered by trajectory then start frame.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        window: int,
        split: str = "train",
        heldout_fraction: float = 0.1,
        camera: int = 0,
    ) -> None:
        if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 2:
            raise ValueError(f"window must be an int >= 2, got {window!r}")
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if not 0.0 <= float(heldout_fraction) < 1.0:
            raise ValueError(f"heldout_fraction must be in [0, 1), got {heldout_fraction!r}")
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"dataset root is not a directory: {self.root}")
        self.window = int(window)
        self.split = split
        self.heldout_fraction = float(heldout_fraction)

        shard_files, robonet_files = list_shards(self.root), list_robonet_files(self.root)
        if shard_files and robonet_files:
            raise ValueError(
                f"{self.root} holds both shards ({len(shard_files)} *.npz) and RoboNet files "
                f"({len(robonet_files)} *.hdf5/*.h5); keep one format per directory"
            )
        if shard_files:
            self.format = "shards"
            self.files = shard_files
            loaded, scene = self._load_shards(shard_files)
        elif robonet_files:
            self.format = "robonet"
            self.files = robonet_files
            loaded, scene = self._load_robonet(robonet_files, camera)
        else:
            raise FileNotFoundError(
                f"{self.root} holds no shards (*.npz) and no RoboNet files (*.hdf5, *.h5)"
            )
        self._scene = scene
        if not loaded:
            raise EmptySplitError(
                f"split {split!r} of {self.root} is empty (heldout_fraction="
                f"{self.heldout_fraction}, {len(self.files)} file(s)); use split='all' or "
                "change heldout_fraction"
            )
        lengths = [len(f) for _, f, _ in loaded]
        keep = [x for x in loaded if len(x[1]) >= self.window]
        if not keep:
            raise ValueError(
                f"no trajectory in split {split!r} of {self.root} has window={self.window} "
                f"frames; the longest has {max(lengths)}"
            )
        self.num_too_short = len(loaded) - len(keep)
        self.trajectory_keys: list[str] = [k for k, _, _ in keep]
        self.trajectories: list[tuple[np.ndarray, np.ndarray]] = [(f, a) for _, f, a in keep]
        # window counts per trajectory and their running sum, for O(log n) indexing
        self._counts = np.array([len(f) - self.window + 1 for f, _ in self.trajectories])
        self._cum = np.cumsum(self._counts)

    # -- loading ---------------------------------------------------------------------------
    def _load_shards(
        self, files: list[Path]
    ) -> tuple[list[tuple[str, np.ndarray, np.ndarray]], dict[str, Any]]:
        out: list[tuple[str, np.ndarray, np.ndarray]] = []
        scene: dict[str, Any] = {}
        first: tuple[Path, str | None] | None = None
        for path in files:
            shard = read_shard(path)
            version = scene_version_of(
                shard.metadata.get("scene_metadata"), str(shard.metadata.get("scene"))
            )
            if first is None:
                first = (path, version)
                scene = _summarise_scene(shard.metadata)
            elif version != first[1]:
                # one dataset, one framing: a model trained on a mix would learn neither
                raise ValueError(
                    f"shard {path} holds scene version {version!r} but {first[0].name} holds "
                    f"{first[1]!r}; keep datasets of different scenes in separate directories"
                )
            keys = [f"seed:{int(s)}" for s in shard.seeds]
            sel = [i for i, k in enumerate(keys) if _in_split(k, self.split, self.heldout_fraction)]
            if not sel:
                continue
            # fancy indexing copies only the selected trajectories; the shard is then freed
            frames, actions = shard.frames[sel], shard.actions[sel]
            out.extend((keys[i], frames[n], actions[n]) for n, i in enumerate(sel))
        return out, scene

    def _load_robonet(
        self, files: list[Path], camera: int
    ) -> tuple[list[tuple[str, np.ndarray, np.ndarray]], dict[str, Any]]:
        out: list[tuple[str, np.ndarray, np.ndarray]] = []
        scene: dict[str, Any] = {}
        selected = [
            p for p in files if _in_split(f"file:{p.name}", self.split, self.heldout_fraction)
        ]
        # unreadable files are skipped with a warning line each; a summary line per robot
        read, summary = read_robonet_files(
            selected, camera=camera, label=f"{self.split} split of {self.root}"
        )
        for path, traj in read:
            if not scene:
                meta = traj["metadata"]
                scene = {
                    "scene": "robonet",
                    "robot": meta.get("robot"),
                    "camera": camera,
                    "video": meta.get("video"),
                    "action_mapping": meta.get("action_mapping"),
                }
            out.append((f"file:{path.name}", traj["frames"], traj["actions"]))
        if scene:
            scene.update(robots=summary["robots"], skipped_files=summary["skipped"])
        return out, scene

    # -- map-style access --------------------------------------------------------------------
    @property
    def num_trajectories(self) -> int:
        return len(self.trajectories)

    @property
    def num_frames(self) -> int:
        return int(sum(len(f) for f, _ in self.trajectories))

    def __len__(self) -> int:
        return int(self._cum[-1])

    def locate(self, index: int) -> tuple[int, int]:
        """Window ``index`` -> (trajectory, start frame)."""
        n = len(self)
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"index must be an int, got {type(index).__name__}")
        if not -n <= index < n:
            raise IndexError(f"window index {index} out of range for {n} windows")
        index = int(index) % n
        traj = int(np.searchsorted(self._cum, index, side="right"))
        start = index - (int(self._cum[traj - 1]) if traj else 0)
        return traj, start

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        traj, start = self.locate(index)
        frames, actions = self.trajectories[traj]
        return {
            "frames": frames[start : start + self.window].copy(),  # (window, 64, 64, 3)
            "actions": actions[start : start + self.window - 1].copy(),  # (window-1, 4)
        }

    # -- random batches ----------------------------------------------------------------------
    def sample_batch(
        self, batch_size: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """A batch of random windows: uniform trajectory, then uniform start within it.

        Fully determined by ``rng``'s state (two draws: trajectories, then starts).

        Returns:
            frames uint8 ``B x window x 64 x 64 x 3`` and actions float32
            ``B x (window-1) x 4``.
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"batch_size must be an int, got {type(batch_size).__name__}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        trajs = rng.integers(0, self.num_trajectories, size=batch_size)
        starts = rng.integers(0, self._counts[trajs])  # per-row upper bound (exclusive)
        w = self.window
        frames = np.empty((batch_size, w, *FRAME_SHAPE), dtype=np.uint8)
        actions = np.empty((batch_size, w - 1, 4), dtype=np.float32)
        for b, (i, s) in enumerate(zip(trajs.tolist(), starts.tolist(), strict=True)):
            f, a = self.trajectories[i]
            frames[b] = f[s : s + w]
            actions[b] = a[s : s + w - 1]
        return frames, actions

    # -- bookkeeping -------------------------------------------------------------------------
    @property
    def provenance(self) -> dict[str, Any]:
        """JSON-safe description of what was loaded, for checkpoints and model cards."""
        return {
            "root": str(self.root.resolve()),
            "format": self.format,
            "split": self.split,
            "heldout_fraction": self.heldout_fraction,
            "split_rule": "heldout iff crc32(key)/2**32 < heldout_fraction; "
            "key = 'seed:<seed>' (shards) or 'file:<name>' (RoboNet)",
            "window": self.window,
            "num_files": len(self.files),
            "num_trajectories": self.num_trajectories,
            "num_too_short": self.num_too_short,
            "num_frames": self.num_frames,
            "num_windows": len(self),
            "scene": self._scene,
        }

    def __repr__(self) -> str:
        return (
            f"VideoDataset(root={str(self.root)!r}, format={self.format!r}, split={self.split!r}, "
            f"window={self.window}, trajectories={self.num_trajectories}, windows={len(self)})"
        )
