"""Fixtures for the data tests: small shard directories written straight from the toy scene."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ghvae_env.data.shards import write_shard
from ghvae_env.data.toy import SCENE_METADATA, rollout_episode


def write_toy_shard(path: Path, seeds: list[int], steps: int) -> Path:
    """One shard of toy episodes, one per seed, ``steps`` frames each."""
    eps = [rollout_episode(s, steps) for s in seeds]
    return write_shard(
        path,
        frames=np.stack([e["frames"] for e in eps]),
        actions=np.stack([e["actions"] for e in eps]),
        states=np.stack([e["states"] for e in eps]),
        seeds=np.asarray(seeds, dtype=np.int64),
        metadata={"scene": "toy", "scene_metadata": SCENE_METADATA, "generation": {"test": True}},
    )


@pytest.fixture(scope="session")
def shard_dir(tmp_path_factory) -> Path:
    """Two shards: 6 episodes of 10 frames (seeds 0-5) and 4 of 5 frames (seeds 100-103)."""
    d = tmp_path_factory.mktemp("shards")
    write_toy_shard(d / "shard_00000.npz", list(range(6)), steps=10)
    write_toy_shard(d / "shard_00001.npz", list(range(100, 104)), steps=5)
    return d


@pytest.fixture(scope="session")
def make_toy_shard():
    """The :func:`write_toy_shard` helper, for tests that need their own shard layout."""
    return write_toy_shard
