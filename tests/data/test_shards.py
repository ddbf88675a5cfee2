"""Shard format: round trip, validation, atomic writes, corrupt files."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from ghvae_env import __version__
from ghvae_env.data import Shard, ShardError, list_shards, read_shard, write_shard
from ghvae_env.data import shards as shards_mod
from ghvae_env.data.shards import remove_stale_temp_files


def _arrays(n=2, t=5, s=3, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "frames": rng.integers(0, 256, size=(n, t, 64, 64, 3), dtype=np.uint8),
        "actions": rng.uniform(-1, 1, size=(n, t - 1, 4)).astype(np.float32),
        "states": rng.normal(size=(n, t, s)).astype(np.float32),
        "seeds": np.arange(n, dtype=np.int64) + 10 * seed,
    }


def test_round_trip(tmp_path):
    arrs = _arrays()
    path = write_shard(tmp_path / "shard_00000.npz", **arrs, metadata={"scene": "toy", "x": [1, 2]})
    shard = read_shard(path)
    assert isinstance(shard, Shard) and shard.path == path
    for k, v in arrs.items():
        got = getattr(shard, k)
        assert got.dtype == v.dtype and np.array_equal(got, v), k
    assert shard.num_trajectories == 2 and shard.num_steps == 5
    meta = shard.metadata
    assert meta["scene"] == "toy" and meta["x"] == [1, 2]
    assert meta["format_version"] == shards_mod.FORMAT_VERSION
    assert meta["package_version"] == __version__ and meta["numpy_version"] == np.__version__
    assert "created" in meta
    with np.load(path, allow_pickle=False) as npz:  # readable by plain numpy, no pickle
        assert json.loads(str(npz["metadata"]))["scene"] == "toy"


def test_round_trip_empty_state(tmp_path):
    arrs = _arrays(s=0)
    shard = read_shard(write_shard(tmp_path / "a.npz", **arrs, metadata={}))
    assert shard.states.shape == (2, 5, 0)


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("frames", np.zeros((2, 5, 64, 64, 3), np.float32), "frames must have dtype uint8"),
        (
            "frames",
            np.zeros((2, 5, 32, 32, 3), np.uint8),
            r"frames must have shape .*\(2, 5, 32, 32, 3\)",
        ),
        ("frames", np.zeros((2, 1, 64, 64, 3), np.uint8), "at least 2 steps"),
        ("actions", np.zeros((2, 5, 4), np.float32), r"actions must have shape .*got \(2, 5, 4\)"),
        (
            "actions",
            np.zeros((2, 4, 4), np.float64),
            "actions must have dtype float32, got float64",
        ),
        ("actions", np.full((2, 4, 4), np.nan, np.float32), "actions must be finite"),
        ("states", np.zeros((2, 4, 3), np.float32), r"states must have shape .*got \(2, 4, 3\)"),
        ("seeds", np.zeros(3, np.int64), r"seeds must have shape .*got \(3,\)"),
        ("seeds", np.zeros(2, np.int32), "seeds must have dtype int64"),
    ],
)
def test_write_rejects_bad_fields(tmp_path, field, value, match):
    arrs = _arrays()
    arrs[field] = value
    with pytest.raises(ValueError, match=match):
        write_shard(tmp_path / "s.npz", **arrs, metadata={})
    assert list(tmp_path.iterdir()) == []


def test_write_rejects_bad_metadata_and_path(tmp_path):
    with pytest.raises(ValueError, match="metadata must be JSON"):
        write_shard(tmp_path / "s.npz", **_arrays(), metadata={"bad": {1, 2}})
    with pytest.raises(ValueError, match=r"must end in \.npz"):
        write_shard(tmp_path / "s.bin", **_arrays(), metadata={})
    assert list(tmp_path.iterdir()) == []


def test_failed_replace_leaves_old_shard_intact(tmp_path, monkeypatch):
    path = write_shard(tmp_path / "shard_00000.npz", **_arrays(seed=1), metadata={"v": 1})

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(shards_mod.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_shard(path, **_arrays(seed=2), metadata={"v": 2})
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # temp file cleaned up
    shard = read_shard(path)
    assert shard.metadata["v"] == 1 and np.array_equal(shard.frames, _arrays(seed=1)["frames"])


def test_killed_writer_leaves_no_partial_shard(tmp_path):
    """SIGKILL a writer mid-write: only a hidden temp file remains; readers ignore it."""
    old = write_shard(tmp_path / "shard_00000.npz", **_arrays(seed=1), metadata={})
    script = textwrap.dedent(
        f"""
        import sys, time
        import numpy as np
        from ghvae_env.data import shards

        def slow_savez(f, **arrays):  # write part of the archive, then hang
            f.write(b"PK\\x03\\x04" + b"x" * 1000)
            f.flush()
            print("writing", flush=True)
            time.sleep(60)

        shards.np.savez_compressed = slow_savez
        n, t = 2, 5
        shards.write_shard(
            {str(tmp_path / "shard_00001.npz")!r},
            np.zeros((n, t, 64, 64, 3), np.uint8), np.zeros((n, t - 1, 4), np.float32),
            np.zeros((n, t, 0), np.float32), np.arange(n, dtype=np.int64), {{}},
        )
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
    finally:
        proc.kill()
        proc.wait(timeout=30)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert "shard_00001.npz" not in names
    temps = [n for n in names if n.endswith(".tmp")]
    assert len(temps) == 1 and temps[0].startswith(".shard_00001.npz.")
    assert list_shards(tmp_path) == [old]
    assert read_shard(old).num_trajectories == 2
    # cleanup only touches the named shards' temp files
    assert remove_stale_temp_files(tmp_path, ["shard_00007.npz"]) == []
    assert [p.name for p in remove_stale_temp_files(tmp_path, ["shard_00001.npz"])] == temps
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shard_00000.npz"]


def test_list_shards_sorted_and_ignores_temp_and_hidden(tmp_path):
    for name in ("shard_00002.npz", "shard_00000.npz", "shard_00001.npz"):
        write_shard(tmp_path / name, **_arrays(), metadata={})
    (tmp_path / ".shard_00003.npz.123.abcd.tmp").write_bytes(b"partial")
    (tmp_path / ".hidden.npz").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("x")
    assert [p.name for p in list_shards(tmp_path)] == [
        "shard_00000.npz",
        "shard_00001.npz",
        "shard_00002.npz",
    ]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        list_shards(tmp_path / "nope")


def _good_bytes(tmp_path: Path) -> bytes:
    return write_shard(tmp_path / "good.npz", **_arrays(), metadata={}).read_bytes()


@pytest.mark.parametrize("cut", [0.01, 0.5, 0.9])
def test_truncated_shard_raises_shard_error(tmp_path, cut):
    data = _good_bytes(tmp_path)
    bad = tmp_path / "shard_bad.npz"
    bad.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(ShardError, match="shard_bad.npz"):
        read_shard(bad)


def test_corrupt_shards_raise_shard_error_naming_file_and_problem(tmp_path):
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"this is not a zip archive" * 10)
    with pytest.raises(ShardError, match="garbage.npz.*unreadable"):
        read_shard(garbage)

    flipped = tmp_path / "flipped.npz"
    data = bytearray(_good_bytes(tmp_path))
    mid = len(data) // 2
    data[mid : mid + 64] = bytes(64)  # zero out part of the compressed stream
    flipped.write_bytes(bytes(data))
    with pytest.raises(ShardError, match="flipped.npz"):
        read_shard(flipped)

    arrs = _arrays()
    missing = tmp_path / "missing.npz"
    np.savez_compressed(missing, frames=arrs["frames"], actions=arrs["actions"])
    with pytest.raises(
        ShardError, match=r"missing.npz: missing field\(s\) \['states', 'seeds', 'metadata'\]"
    ):
        read_shard(missing)

    badjson = tmp_path / "badjson.npz"
    np.savez_compressed(badjson, **arrs, metadata=np.array("{not json"))
    with pytest.raises(ShardError, match="badjson.npz: metadata is not valid JSON"):
        read_shard(badjson)

    pickled = tmp_path / "pickled.npz"
    np.savez_compressed(pickled, **arrs, metadata=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ShardError, match="pickled.npz"):
        read_shard(pickled)

    wrong = tmp_path / "wrong_dtype.npz"
    np.savez_compressed(
        wrong, **{**arrs, "frames": arrs["frames"].astype(np.float32)}, metadata=np.array("{}")
    )
    with pytest.raises(
        ShardError, match="wrong_dtype.npz: frames must have dtype uint8, got float32"
    ):
        read_shard(wrong)

    with pytest.raises(ShardError, match="nope.npz: shard file does not exist"):
        read_shard(tmp_path / "nope.npz")
    assert issubclass(ShardError, ValueError)
