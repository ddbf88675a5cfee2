"""``ghvae generate`` end to end: layout, resume, determinism, SLURM splitting, errors."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from ghvae_env.cli import main
from ghvae_env.data import generate, list_shards, read_shard
from ghvae_env.data.generate import DatasetMismatchError, episode_seed
from ghvae_env.data.toy import SCENE_METADATA, rollout_episode


def _cli(out, *extra, episodes=7, steps=6, per_shard=3, seed=11):
    return main(
        [
            "generate", "--scene", "toy", "--out", str(out), "--episodes", str(episodes),
            "--steps", str(steps), "--seed", str(seed), "--episodes-per-shard", str(per_shard),
            "--no-progress", *extra,
        ]
    )  # fmt: skip


def _concat(out):
    shards = [read_shard(p) for p in list_shards(out)]
    return (
        np.concatenate([s.frames for s in shards]),
        np.concatenate([s.actions for s in shards]),
        np.concatenate([s.seeds for s in shards]),
    )


def test_cli_end_to_end(tmp_path, capsys):
    out = tmp_path / "data"
    assert _cli(out) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["shards_written"] == 3 and summary["shards_skipped"] == 0
    assert summary["episodes_written"] == 7 and summary["frames_written"] == 42
    assert summary["frames_per_s"] > 0
    assert [p.name for p in list_shards(out)] == [
        "shard_00000.npz",
        "shard_00001.npz",
        "shard_00002.npz",
    ]
    manifest = json.loads((out / "dataset.json").read_text())
    assert manifest["args"] == {
        "scene": "toy",
        "episodes": 7,
        "steps": 6,
        "seed": 11,
        "episodes_per_shard": 3,
    }
    assert manifest["total_shards"] == 3

    shards = [read_shard(p) for p in list_shards(out)]
    assert [s.num_trajectories for s in shards] == [3, 3, 1]
    meta = shards[1].metadata
    assert meta["scene"] == "toy" and meta["scene_metadata"] == json.loads(
        json.dumps(SCENE_METADATA)
    )
    assert meta["generation"]["episode_range"] == [3, 6] and meta["generation"]["seed"] == 11
    for key in ("format_version", "package_version", "numpy_version", "created"):
        assert key in meta
    frames, actions, seeds = _concat(out)
    assert seeds.tolist() == [episode_seed(11, j) for j in range(7)]
    ep4 = rollout_episode(int(seeds[4]), 6)  # each episode is the scene's rollout of its seed
    assert np.array_equal(frames[4], ep4["frames"]) and np.array_equal(actions[4], ep4["actions"])


def test_rerun_skips_complete_shards_and_repairs_missing_or_corrupt(tmp_path):
    out = tmp_path / "data"
    _cli(out)
    frames0, actions0, _ = _concat(out)
    mtimes = {p.name: p.stat().st_mtime_ns for p in list_shards(out)}

    s = generate("toy", out, episodes=7, steps=6, seed=11, episodes_per_shard=3, progress=False)
    assert s["shards_written"] == 0 and s["shards_skipped"] == 3
    assert {p.name: p.stat().st_mtime_ns for p in list_shards(out)} == mtimes

    (out / "shard_00001.npz").unlink()
    (out / "shard_00002.npz").write_bytes(b"truncated")
    (out / ".shard_00000.npz.999.dead.tmp").write_bytes(b"left by a killed writer")
    s = generate("toy", out, episodes=7, steps=6, seed=11, episodes_per_shard=3, progress=False)
    assert s["shards_written"] == 2 and s["shards_skipped"] == 1
    assert not (out / ".shard_00000.npz.999.dead.tmp").exists()
    frames1, actions1, _ = _concat(out)
    assert frames1.tobytes() == frames0.tobytes() and actions1.tobytes() == actions0.tobytes()


def test_same_seed_is_byte_identical_across_workers_and_sharding(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    generate("toy", a, episodes=6, steps=5, seed=3, workers=1, episodes_per_shard=3, progress=False)
    s = generate(
        "toy", b, episodes=6, steps=5, seed=3, workers=2, episodes_per_shard=2, progress=False
    )
    assert s["shards_written"] == 3
    (fa, aa, sa), (fb, ab, sb) = _concat(a), _concat(b)
    assert fa.tobytes() == fb.tobytes() and aa.tobytes() == ab.tobytes()
    assert np.array_equal(sa, sb)
    other = tmp_path / "c"
    generate("toy", other, episodes=6, steps=5, seed=4, episodes_per_shard=3, progress=False)
    assert not np.array_equal(_concat(other)[0], fa)


def test_shard_index_splits_the_work(tmp_path):
    full, split = tmp_path / "full", tmp_path / "split"
    _cli(full, per_shard=2)  # 4 shards
    assert _cli(split, "--shard-index", "0", "--num-shards", "3", per_shard=2) == 0
    assert [p.name for p in list_shards(split)] == ["shard_00000.npz", "shard_00003.npz"]
    _cli(split, "--shard-index", "2", "--num-shards", "3", per_shard=2)
    _cli(split, "--shard-index", "1", "--num-shards", "3", per_shard=2)
    assert len(list_shards(split)) == 4
    for x, y in zip(_concat(full), _concat(split), strict=True):
        assert x.tobytes() == y.tobytes()


def test_rerun_with_different_args_is_an_error(tmp_path, capsys):
    out = tmp_path / "data"
    _cli(out)
    with pytest.raises(DatasetMismatchError, match="steps: existing 6, requested 7"):
        generate("toy", out, episodes=7, steps=7, seed=11, episodes_per_shard=3, progress=False)
    assert _cli(out, seed=12) == 2
    assert "seed: existing 11, requested 12" in capsys.readouterr().err
    # workers / shard-index do not change the content, so they may differ
    assert _cli(out, "--workers", "2") == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"episodes": 0}, "episodes must be >= 1, got 0"),
        ({"steps": 1}, "steps must be >= 2, got 1"),
        ({"workers": 0}, "workers must be >= 1, got 0"),
        ({"episodes_per_shard": 0}, "episodes_per_shard must be >= 1, got 0"),
        ({"seed": -1}, "seed must be >= 0, got -1"),
        ({"shard_index": 2, "num_shards": 2}, r"shard_index must be in \[0, num_shards=2\), got 2"),
        ({"scene": "kitchen"}, "scene must be one of .*'kitchen'"),
        ({"episodes": 2.5}, "episodes must be an int, got float"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, match):
    args = {"scene": "toy", "out": tmp_path / "o", "episodes": 2, "steps": 3, "progress": False}
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=match):
        generate(**args)
    assert not (tmp_path / "o").exists()


def test_cli_bad_arguments(tmp_path, capsys):
    assert _cli(tmp_path / "o", episodes=0) == 2
    assert "error: episodes must be >= 1, got 0" in capsys.readouterr().err
    assert _cli(tmp_path / "o", "--shard-index", "5", "--num-shards", "2") == 2
    with pytest.raises(SystemExit) as e:  # argparse rejects unknown scenes itself
        main(
            [
                "generate",
                "--scene",
                "kitchen",
                "--out",
                str(tmp_path),
                "--episodes",
                "1",
                "--steps",
                "2",
            ]
        )
    assert e.value.code == 2
    assert not (tmp_path / "o").exists()
    assert os.listdir(tmp_path) == []


def test_rerun_with_another_scene_version_is_refused_and_keeps_the_shards(tmp_path, capsys):
    out = tmp_path / "data"
    assert _cli(out) == 0
    before = {p.name: p.read_bytes() for p in list_shards(out)}
    manifest = out / "dataset.json"
    doc = json.loads(manifest.read_text())
    doc["scene_metadata"]["scene_version"] = "toy-v0"  # as if written by an older framing
    manifest.write_text(json.dumps(doc))
    assert _cli(out) == 2
    err = capsys.readouterr().err
    assert "holds scene version 'toy-v0'" in err and "use a new --out" in err
    assert {p.name: p.read_bytes() for p in list_shards(out)} == before


def test_scene_version_of_old_tabletop_data_is_v1():
    from ghvae_env.data.shards import scene_version_of

    assert scene_version_of({"scene": "tabletop", "config": {}}, "tabletop") == "tabletop-v1"
    assert scene_version_of({"scene_version": "tabletop-v2"}, "tabletop") == "tabletop-v2"
    assert scene_version_of(None, "toy") is None
