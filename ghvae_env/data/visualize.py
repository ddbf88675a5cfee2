"""``ghvae show``: a PNG contact sheet of sample trajectories, so a reader can see the data."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

__all__ = ["contact_sheet", "add_parser"]


def contact_sheet(
    data: str | Path,
    out: str | Path,
    trajectories: int = 6,
    frames_per_row: int = 10,
    every: int = 3,
    scale: int = 2,
    seed: int = 0,
) -> Path:
    """Write a grid: one row per trajectory, every ``every``-th frame, upscaled ``scale`` x.

    Rows are drawn at random (``seed``) from all trajectories in ``data`` (shards or RoboNet).
    The sheet has ``min(frames_per_row, ceil(T / every))`` columns for the longest shown
    trajectory of T frames, so short trajectories do not leave blank columns.
    """
    from ghvae_env.data.dataset import VideoDataset

    if trajectories < 1 or frames_per_row < 1 or every < 1 or scale < 1:
        raise ValueError(
            f"trajectories, frames_per_row, every and scale must be >= 1, actual values: "
            f"{trajectories}, {frames_per_row}, {every}, {scale}"
        )
    ds = VideoDataset(data, window=2, split="all")
    rng = np.random.default_rng(seed)
    picks = rng.choice(
        ds.num_trajectories, size=min(trajectories, ds.num_trajectories), replace=False
    )
    pad = 2
    shown = [ds.trajectories[int(i)][0][::every] for i in sorted(picks)]  # (n_i, 64, 64, 3)
    # sized to the data: no blank columns when trajectories are shorter than the sheet
    columns = min(frames_per_row, max(len(f) for f in shown))
    rows = []
    for frames in shown:
        frames = frames[:columns]
        frames = np.pad(
            frames,
            ((0, columns - len(frames)), (pad, pad), (pad, pad), (0, 0)),
            constant_values=255,
        )
        rows.append(np.concatenate(list(frames), axis=1))
    grid = np.concatenate(rows, axis=0)
    grid = np.kron(grid, np.ones((scale, scale, 1), dtype=np.uint8))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    import imageio.v3 as iio

    iio.imwrite(out, grid)
    return out


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("show", help="write a PNG contact sheet of sample trajectories")
    p.add_argument("--data", required=True, help="dataset directory (shards or RoboNet HDF5)")
    p.add_argument("--out", required=True, help="PNG path")
    p.add_argument("--trajectories", type=int, default=6, help="rows (random trajectories)")
    p.add_argument(
        "--frames",
        type=int,
        default=10,
        help="frames per row at most (fewer if the data is shorter)",
    )
    p.add_argument("--every", type=int, default=3, help="show every n-th frame")
    p.add_argument("--scale", type=int, default=2, help="integer upscaling")
    p.add_argument("--seed", type=int, default=0, help="seed of the random choice of rows")
    p.set_defaults(
        func=lambda a: print(
            contact_sheet(a.data, a.out, a.trajectories, a.frames, a.every, a.scale, a.seed)
        )
    )
