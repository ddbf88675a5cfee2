"""VideoDataset over shards: windows, split, sampling, errors, provenance."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ghvae_env.data import VideoDataset, read_shard
from ghvae_env.data.dataset import EmptySplitError, is_heldout


def test_windows_shapes_dtypes_and_content(shard_dir):
    ds = VideoDataset(shard_dir, window=8, split="all")
    # only the six 10-frame episodes are long enough: 6 * (10 - 8 + 1) windows
    assert ds.num_trajectories == 6 and ds.num_too_short == 4 and len(ds) == 18
    item = ds[0]
    assert item["frames"].shape == (8, 64, 64, 3) and item["frames"].dtype == np.uint8
    assert item["actions"].shape == (7, 4) and item["actions"].dtype == np.float32
    shard = read_shard(shard_dir / "shard_00000.npz")
    # window 4 = trajectory 1, start 1
    assert np.array_equal(ds[4]["frames"], shard.frames[1, 1:9])
    assert np.array_equal(ds[4]["actions"], shard.actions[1, 1:8])
    assert np.array_equal(ds[-1]["frames"], ds[17]["frames"])
    item["frames"][:] = 0  # fresh arrays: mutating an item does not touch the dataset
    assert ds[0]["frames"].any()
    with pytest.raises(IndexError, match="window index 18 out of range for 18 windows"):
        ds[18]


def test_short_window_uses_all_trajectories(shard_dir):
    ds = VideoDataset(shard_dir, window=4, split="all")
    assert ds.num_trajectories == 10 and len(ds) == 6 * 7 + 4 * 2
    assert ds.trajectories[-1][0].shape == (5, 64, 64, 3)
    assert ds.trajectories[-1][1].shape == (4, 4)
    assert ds.num_frames == 6 * 10 + 4 * 5


def test_window_longer_than_every_trajectory(shard_dir):
    with pytest.raises(ValueError, match="window=11 frames; the longest has 10"):
        VideoDataset(shard_dir, window=11, split="all")


def test_split_is_deterministic_disjoint_and_independent_of_sharding(
    shard_dir, tmp_path, make_toy_shard
):
    kw = {"window": 4, "heldout_fraction": 0.5}
    train = VideoDataset(shard_dir, split="train", **kw)
    held = VideoDataset(shard_dir, split="heldout", **kw)
    assert set(train.trajectory_keys).isdisjoint(held.trajectory_keys)
    assert sorted(train.trajectory_keys + held.trajectory_keys) == sorted(
        VideoDataset(shard_dir, split="all", **kw).trajectory_keys
    )
    assert train.num_trajectories > 0 and held.num_trajectories > 0
    for key in held.trajectory_keys:
        assert is_heldout(key, 0.5)
    # the same episodes grouped differently (one per shard, other names) split identically
    regrouped = tmp_path / "regrouped"
    regrouped.mkdir()
    for n, seed in enumerate([103, 2, 101, 0, 5, 100, 3, 1, 4, 102]):
        make_toy_shard(regrouped / f"z_{n:02d}.npz", [seed], steps=10 if seed < 100 else 5)
    assert sorted(VideoDataset(regrouped, split="heldout", **kw).trajectory_keys) == sorted(
        held.trajectory_keys
    )


def test_sample_batch_is_a_function_of_rng(shard_dir):
    ds = VideoDataset(shard_dir, window=4, split="all")
    f1, a1 = ds.sample_batch(16, np.random.default_rng(123))
    f2, a2 = ds.sample_batch(16, np.random.default_rng(123))
    f3, _ = ds.sample_batch(16, np.random.default_rng(124))
    assert f1.shape == (16, 4, 64, 64, 3) and f1.dtype == np.uint8
    assert a1.shape == (16, 3, 4) and a1.dtype == np.float32
    assert np.array_equal(f1, f2) and np.array_equal(a1, a2)
    assert not np.array_equal(f1, f3)
    windows = [ds[i] for i in range(len(ds))]
    for fb, ab in zip(
        f1, a1, strict=True
    ):  # every sample is a real window, frames and actions together
        assert any(
            np.array_equal(fb, w["frames"]) and np.array_equal(ab, w["actions"]) for w in windows
        )


def test_sample_batch_bad_arguments(shard_dir):
    ds = VideoDataset(shard_dir, window=4, split="all")
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        ds.sample_batch(0, np.random.default_rng(0))
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        ds.sample_batch(2, np.random.RandomState(0))


def test_constructor_errors(shard_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match="not a directory"):
        VideoDataset(tmp_path / "missing", window=4)
    with pytest.raises(FileNotFoundError, match=r"no shards \(\*\.npz\) and no RoboNet files"):
        VideoDataset(tmp_path, window=4)
    with pytest.raises(ValueError, match="window must be an int >= 2, got 1"):
        VideoDataset(shard_dir, window=1)
    with pytest.raises(ValueError, match="split must be one of .* got 'test'"):
        VideoDataset(shard_dir, window=4, split="test")
    with pytest.raises(ValueError, match=r"heldout_fraction must be in \[0, 1\), got 1.0"):
        VideoDataset(shard_dir, window=4, heldout_fraction=1.0)
    with pytest.raises(EmptySplitError, match="split 'heldout' .* is empty"):
        VideoDataset(shard_dir, window=4, split="heldout", heldout_fraction=0.0)
    (tmp_path / "x.npz").write_bytes(b"x")
    (tmp_path / "y.hdf5").write_bytes(b"x")
    with pytest.raises(ValueError, match="holds both shards"):
        VideoDataset(tmp_path, window=4)


def test_provenance_is_json_and_describes_the_data(shard_dir):
    ds = VideoDataset(shard_dir, window=4, split="all")
    prov = json.loads(json.dumps(ds.provenance))
    assert prov["root"] == str(shard_dir.resolve()) and prov["format"] == "shards"
    assert prov["num_trajectories"] == 10 and prov["num_frames"] == 80 and prov["num_files"] == 2
    assert prov["split"] == "all" and prov["num_windows"] == len(ds)
    assert prov["scene"]["scene"] == "toy" and "camera" in prov["scene"]["scene_metadata"]
    assert "toy" in repr(ds) or "shards" in repr(ds)


def test_shards_of_different_scene_versions_are_refused(tmp_path, make_toy_shard):
    from ghvae_env.data.shards import write_shard

    make_toy_shard(tmp_path / "shard_00000.npz", [0, 1], steps=5)
    other = read_shard(make_toy_shard(tmp_path / "shard_00001.npz", [2, 3], steps=5))
    meta = json.loads(json.dumps(other.metadata))
    meta["scene_metadata"]["scene_version"] = "toy-v9"
    write_shard(
        tmp_path / "shard_00001.npz",
        other.frames, other.actions, other.states, other.seeds, meta,
    )  # fmt: skip
    with pytest.raises(ValueError, match=r"shard_00001.npz holds scene version 'toy-v9'"):
        VideoDataset(tmp_path, window=3, split="all")
