"""``ghvae stats``: what a shard dataset holds, read from its shards alone.

Counts (episodes, frames, shards, bytes on disk), the scene version, and how much the random
interaction policy touched the objects: an episode *interacts* when some object ends up more
than ``moved_m`` (default 2 cm) from where it started at any step (from the low-dimensional
states, layout ``ghvae_env.sim.scene.STATE_LABELS``: object slot positions at columns 4-12,
presence mask at 13-15). The toy scene stores no object positions; its interaction share is
reported as None.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ghvae_env.data.shards import ShardError, list_shards, read_shard, scene_version_of

__all__ = ["dataset_stats", "max_object_displacement", "add_parser"]

_OBJ_POS = slice(4, 13)  # 3 slots x (x, y, z), world metres
_OBJ_PRESENT = slice(13, 16)


def max_object_displacement(states: np.ndarray) -> np.ndarray:
    """Per trajectory, the largest distance (m) any present object gets from its start.

    states: N x T x 16 (tabletop layout) -> N float64.
    """
    if states.ndim != 3 or states.shape[2] < _OBJ_PRESENT.stop:
        raise ValueError(
            f"states must have shape (N, T, >= {_OBJ_PRESENT.stop}) in the tabletop layout, "
            f"actual value: shape {states.shape}"
        )
    pos = states[:, :, _OBJ_POS].astype(np.float64).reshape(states.shape[0], states.shape[1], 3, 3)
    present = states[:, 0, _OBJ_PRESENT] > 0.5  # N x 3
    dist = np.linalg.norm(pos - pos[:, :1], axis=3).max(axis=1)  # N x 3
    return np.where(present, dist, 0.0).max(axis=1)


def dataset_stats(root: str | Path, moved_m: float = 0.02) -> dict[str, Any]:
    """Summary of the shard dataset in ``root`` (see the module docstring)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset root is not a directory: {root}")
    if not moved_m > 0:
        raise ValueError(f"moved_m must be > 0, actual value: {moved_m!r}")
    files = list_shards(root)
    if not files:
        raise FileNotFoundError(f"no shards (shard_*.npz) in {root}")
    episodes = frames = 0
    steps: set[int] = set()
    versions: set[str | None] = set()
    moved: list[np.ndarray] = []
    tabletop = True
    for path in files:
        shard = read_shard(path)
        n, t = shard.frames.shape[:2]
        episodes, frames = episodes + n, frames + n * t
        steps.add(int(t))
        scene = str(shard.metadata.get("scene"))
        versions.add(scene_version_of(shard.metadata.get("scene_metadata"), scene))
        if scene == "tabletop":
            moved.append(max_object_displacement(shard.states))
        else:
            tabletop = False
    disp = np.concatenate(moved) if moved and tabletop else None
    return {
        "root": str(root),
        "shards": len(files),
        "episodes": episodes,
        "frames": frames,
        "steps_per_episode": sorted(steps),
        "bytes": int(sum(p.stat().st_size for p in files)),
        "scene_versions": sorted(str(v) for v in versions),
        "moved_threshold_m": moved_m,
        "interaction_fraction": None if disp is None else round(float((disp > moved_m).mean()), 4),
        "median_max_displacement_m": None if disp is None else round(float(np.median(disp)), 4),
    }


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "stats",
        help="summarise a shard dataset (episodes, disk size, scene version, interactions)",
        description=(
            "Summarise a shard dataset: episodes, frames, disk size, scene version, and the "
            "share of episodes in which an object moves more than --moved-m from its start."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--data", type=Path, required=True, help="shard directory (ghvae generate --out)"
    )
    p.add_argument("--moved-m", type=float, default=0.02, help="displacement counted as moved (m)")
    p.set_defaults(func=_cli)
    return p


def _cli(args: argparse.Namespace) -> int:
    try:
        result = dataset_stats(args.data, args.moved_m)
    except (FileNotFoundError, ValueError, ShardError) as e:
        print(f"ghvae stats: error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0
