"""Which scene a model and its clips come from, and the warning when they differ."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch

from ghvae_env.envs.assets import (
    ClipsError,
    load_clips,
    model_scene_version,
    save_clips,
    scene_mismatch,
    warn_model_vs_simulator,
)
from ghvae_env.model import GHVAE, GHVAEConfig, load_model
from ghvae_env.model.checkpoint import save_checkpoint


def _checkpoint(path, scene: dict):
    torch.manual_seed(0)
    model = GHVAE(GHVAEConfig.preset("tiny"))
    save_checkpoint(
        path, model, trained_modules=2, stage="test", provenance={"dataset": {"scene": scene}}
    )
    return path


def _clips(path, version):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (2, 8, 64, 64, 3), dtype=np.uint8)
    actions = rng.uniform(-1, 1, (2, 7, 4)).astype(np.float32)
    return save_clips(path, frames, actions, scene_version=version)


def test_checkpoint_scene_version_from_provenance(tmp_path):
    v1 = load_model(_checkpoint(tmp_path / "v1.pt", {"scene": "tabletop", "scene_metadata": {}}))
    v2 = load_model(
        _checkpoint(
            tmp_path / "v2.pt",
            {"scene": "tabletop", "scene_metadata": {"scene_version": "tabletop-v2"}},
        )
    )
    toy = load_model(_checkpoint(tmp_path / "toy.pt", {"scene": "toy"}))
    assert model_scene_version(v1) == "tabletop-v1"  # recorded before versions existed
    assert model_scene_version(v2) == "tabletop-v2"
    assert model_scene_version(toy) == "toy"


def test_env_warns_when_the_model_saw_another_scene(tmp_path, one_torch_thread):
    ckpt = _checkpoint(tmp_path / "v1.pt", {"scene": "tabletop"})
    other = _clips(tmp_path / "v2.npz", "tabletop-v2")
    same = _clips(tmp_path / "v1.npz", "tabletop-v1")
    with pytest.warns(
        UserWarning, match="trained on scene 'tabletop-v1' but the clips .* 'tabletop-v2'"
    ):
        env = gym.make("GHVAE-RoboNet-v0", checkpoint=ckpt, clips=other, device="cpu")
        env.reset(seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        env = gym.make("GHVAE-RoboNet-v0", checkpoint=ckpt, clips=same, device="cpu")
        env.reset(seed=0)
    with pytest.warns(UserWarning, match="tabletop-v1"):
        venv = gym.make_vec(
            "GHVAE-RoboNet-v0", num_envs=2, checkpoint=ckpt, clips=_clips(tmp_path / "b.npz", "x"),
            device="cpu",
        )  # fmt: skip
        venv.reset(seed=0)


def test_simulator_mismatch_warning(tmp_path):
    model = load_model(_checkpoint(tmp_path / "v1.pt", {"scene": "tabletop"}))
    with pytest.warns(UserWarning, match="the simulator's frames come from scene 'tabletop-v2'"):
        assert warn_model_vs_simulator(model, "tabletop-v2") is not None
    assert warn_model_vs_simulator(model, "tabletop-v1") is None
    assert scene_mismatch(None, "tabletop-v2", "x") is None  # unknown: no false alarm


def test_clips_scene_version_round_trip_and_bad_value(tmp_path):
    assert load_clips(_clips(tmp_path / "a.npz", "tabletop-v2")).scene_version == "tabletop-v2"
    assert load_clips(_clips(tmp_path / "b.npz", None)).scene_version is None
    with pytest.raises(ClipsError, match="scene_version must be a non-empty str or None"):
        _clips(tmp_path / "c.npz", "")


def test_bundled_model_and_clips_share_a_scene():
    """The bundled checkpoint and clips must come from the same scene version; the model
    card names it. (The first bundled model was trained on scene v1, before the reframing.)"""
    from pathlib import Path

    import ghvae_env

    model = load_model()
    clips = load_clips(None)
    version = model_scene_version(model)
    assert version is not None and version == clips.scene_version, (
        f"bundled model trained on scene {version!r}, bundled clips from {clips.scene_version!r}"
    )
    card = (Path(ghvae_env.__file__).parent / "assets" / "MODEL_CARD.md").read_text()
    assert f"scene version `{version}`" in card


def test_export_clips_records_the_scene_and_caps_the_count(tmp_path, toy_data):
    from ghvae_env.envs.cli import export_clips

    out = export_clips(
        toy_data, tmp_path / "c.npz", length=4, per_trajectory=2, split="all", max_clips=3
    )
    clips = load_clips(tmp_path / "c.npz")
    assert out["clips"] == clips.num_clips == 3 and clips.length == 4
    assert clips.scene_version == out["scene_version"] == "toy"
    with pytest.raises(ValueError, match="max_clips must be >= 1 or None, actual value: 0"):
        export_clips(toy_data, tmp_path / "d.npz", length=4, max_clips=0)
