"""``ghvae export-clips``: cut held-out context clips for GHVAE-RoboNet-v0's resets."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

__all__ = ["export_clips", "add_parser"]


def export_clips(
    data: str | Path,
    out: str | Path,
    length: int = 12,
    per_trajectory: int = 2,
    split: str = "heldout",
    max_clips: int | None = None,
) -> dict:
    """Non-overlapping ``length``-frame clips (frames + actions) from ``split`` trajectories.

    Up to ``per_trajectory`` clips per trajectory, evenly spaced from its start; written with
    :func:`ghvae_env.envs.assets.save_clips` (atomic). ``max_clips`` keeps the first that
    many (in the dataset's trajectory order) to bound the file size. Returns a summary.
    """
    from ghvae_env.data.dataset import VideoDataset
    from ghvae_env.envs.assets import save_clips, scene_version_of_provenance

    if length < 2 or per_trajectory < 1:
        raise ValueError(
            f"length must be >= 2 and per_trajectory >= 1, actual values: {length}, {per_trajectory}"
        )
    if max_clips is not None and max_clips < 1:
        raise ValueError(f"max_clips must be >= 1 or None, actual value: {max_clips}")
    ds = VideoDataset(data, window=length, split=split)
    frames, actions = [], []
    for traj_frames, traj_actions in ds.trajectories:
        n = min(per_trajectory, len(traj_frames) // length)
        if n == 0:
            continue
        starts = np.linspace(0, len(traj_frames) - length, n).astype(int) if n > 1 else [0]
        for s in starts:
            frames.append(traj_frames[s : s + length])
            actions.append(traj_actions[s : s + length - 1])
    if not frames:
        raise ValueError(f"no trajectory in {data} ({split}) has {length} frames")
    frames, actions = frames[:max_clips], actions[:max_clips]
    scene_version = scene_version_of_provenance(ds.provenance.get("scene"))
    path = save_clips(out, np.stack(frames), np.stack(actions), scene_version=scene_version)
    return {
        "scene_version": scene_version,
        "out": str(path),
        "clips": len(frames),
        "length": length,
        "trajectories": ds.num_trajectories,
        "split": split,
        "bytes": path.stat().st_size,
    }


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export-clips", help="write held-out context clips for GHVAE-RoboNet-v0"
    )
    p.add_argument("--data", required=True, help="dataset directory (shards or RoboNet HDF5)")
    p.add_argument(
        "--out", required=True, help="clips .npz path (e.g. ghvae_env/assets/heldout_clips.npz)"
    )
    p.add_argument("--length", type=int, default=12, help="frames per clip (context + horizon)")
    p.add_argument("--per-trajectory", type=int, default=2, help="clips cut from each trajectory")
    p.add_argument(
        "--split",
        default="heldout",
        choices=["heldout", "train", "all"],
        help="trajectories to cut clips from (keep 'heldout' for env resets)",
    )
    p.add_argument(
        "--max-clips",
        type=int,
        default=None,
        help="keep at most this many clips, the first in trajectory order (default: all)",
    )
    p.set_defaults(
        func=lambda a: print(
            export_clips(a.data, a.out, a.length, a.per_trajectory, a.split, a.max_clips)
        )
    )
