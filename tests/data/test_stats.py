"""``ghvae stats``: counts and the interaction share, from the shards alone."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ghvae_env.cli import main
from ghvae_env.data.shards import write_shard
from ghvae_env.data.stats import dataset_stats, max_object_displacement


def _tabletop_shard(path, moves_m):
    """One episode per entry of ``moves_m``: object 0 slides that far along x by the end."""
    n, t = len(moves_m), 4
    states = np.zeros((n, t, 16), dtype=np.float32)
    states[:, :, 13] = 1.0  # slot 0 present
    states[:, :, 4] = np.asarray(moves_m, dtype=np.float32)[:, None] * np.linspace(0, 1, t)
    states[:, :, 7] = 5.0  # slot 1 absent but far away: must not count
    return write_shard(
        path,
        frames=np.zeros((n, t, 64, 64, 3), dtype=np.uint8),
        actions=np.zeros((n, t - 1, 4), dtype=np.float32),
        states=states,
        seeds=np.arange(n, dtype=np.int64),
        metadata={"scene": "tabletop", "scene_metadata": {"scene_version": "tabletop-v2"}},
    )


def test_interaction_fraction_counts_moved_objects_only(tmp_path):
    _tabletop_shard(tmp_path / "shard_00000.npz", [0.0, 0.01, 0.03, 0.2])
    s = dataset_stats(tmp_path)
    assert s["episodes"] == 4 and s["frames"] == 16 and s["shards"] == 1
    assert s["interaction_fraction"] == 0.5  # 3 cm and 20 cm moved; 0 and 1 cm did not
    assert s["scene_versions"] == ["tabletop-v2"] and s["bytes"] > 0


def test_max_object_displacement_rejects_other_layouts():
    with pytest.raises(ValueError, match=r"states must have shape \(N, T, >= 16\)"):
        max_object_displacement(np.zeros((2, 3, 4)))


def test_toy_data_has_no_interaction_share(toy_data):
    s = dataset_stats(toy_data)
    assert s["interaction_fraction"] is None and s["episodes"] > 0


def test_cli(tmp_path, capsys):
    _tabletop_shard(tmp_path / "shard_00000.npz", [0.05])
    assert main(["stats", "--data", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out)["interaction_fraction"] == 1.0
    assert main(["stats", "--data", str(tmp_path / "nope")]) == 2
    assert "ghvae stats: error: dataset root is not a directory" in capsys.readouterr().err
