"""Golden outputs of the product path (LeRobot style): ``gym.make("GHVAE-RoboNet-v0")``,
``reset(seed=0, options={"clip_index": 0})`` and 3 steps under the clip's own actions, pinned
to stored frames within 1/255 (a faster kernel that reorders float sums still passes).

* ``golden_bundled.npz``: the bundled checkpoint and clips. Regenerate on purpose whenever the
  bundled model or clips change (the stored SHA-256s say which files it was made from)::

      OMP_NUM_THREADS=1 python tests/envs/test_golden.py bundled

* ``golden_tiny.npz``: the ``tiny`` preset initialised from ``torch.manual_seed(0)`` on clips
  drawn from ``np.random.default_rng(0)``, through a checkpoint file. Regenerate only when the
  model's maths or initialisation is meant to change::

      OMP_NUM_THREADS=1 python tests/envs/test_golden.py tiny

The model-level equivalence goldens of the optimised kernels are in ``tests/model/``.
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

import ghvae_env  # noqa: F401  (registers the envs)
from ghvae_env.envs.assets import bundled_clips_path, save_clips
from ghvae_env.model import GHVAE, GHVAEConfig, save_checkpoint
from ghvae_env.model.checkpoint import bundled_checkpoint_path

HERE = Path(__file__).parent
GOLDEN = {"bundled": HERE / "golden_bundled.npz", "tiny": HERE / "golden_tiny.npz"}
SEED, CLIP, STEPS = 0, 0, 3
REGENERATE = "OMP_NUM_THREADS=1 python tests/envs/test_golden.py {}"


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def env_frames(checkpoint: Path | None, clips: Path | None) -> np.ndarray:
    """uint8 (1 + STEPS) x 64 x 64 x 3: the reset observation, then one per step."""
    env = gym.make("GHVAE-RoboNet-v0", checkpoint=checkpoint, clips=clips, device="cpu")
    try:
        obs, _ = env.reset(seed=SEED, options={"clip_index": CLIP})
        actions = env.unwrapped.clips.actions[CLIP, 1 : 1 + STEPS]  # after the 2 context frames
        frames = [obs] + [env.step(a)[0] for a in actions]
    finally:
        env.close()
    return np.stack(frames)


def tiny_assets(out: Path) -> tuple[Path, Path]:
    """A tiny-preset checkpoint (torch seed 0) and 2 random 6-frame clips (numpy seed 0)."""
    torch.manual_seed(0)
    ckpt = save_checkpoint(
        out / "tiny.pt", GHVAE(GHVAEConfig.preset("tiny")), trained_modules=2, stage="golden"
    )
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (2, 6, 64, 64, 3), dtype=np.uint8)
    actions = rng.uniform(-1, 1, (2, 5, 4)).astype(np.float32)
    return ckpt, save_clips(out / "clips.npz", frames, actions)


def _check(name: str, got: np.ndarray, hint: str = "") -> None:
    want = np.load(GOLDEN[name])["frames"]
    assert got.shape == want.shape
    diff = np.abs(got.astype(np.int16) - want.astype(np.int16)).max()
    assert diff <= 1, (
        f"{name} golden frames differ by up to {diff}/255{hint}; if the change is meant, "
        f"regenerate with `{REGENERATE.format(name)}`"
    )


@pytest.mark.skipif(not bundled_checkpoint_path().exists(), reason="no bundled checkpoint")
def test_bundled_model_in_the_env_matches_its_golden_frames():
    """The headline path: a renamed config field or a changed model breaks this test."""
    stored = np.load(GOLDEN["bundled"])
    same_files = str(stored["checkpoint_sha256"]) == _sha256(bundled_checkpoint_path()) and str(
        stored["clips_sha256"]
    ) == _sha256(bundled_clips_path())
    hint = "" if same_files else " (the bundled checkpoint or clips changed since it was made)"
    _check("bundled", env_frames(None, None), hint)


def test_tiny_model_in_the_env_matches_its_golden_frames(tmp_path):
    _check("tiny", env_frames(*tiny_assets(tmp_path)))


def _write(name: str) -> None:
    torch.set_num_threads(1)
    if name == "bundled":
        frames = env_frames(None, None)
        extra = {
            "checkpoint_sha256": np.array(_sha256(bundled_checkpoint_path())),
            "clips_sha256": np.array(_sha256(bundled_clips_path())),
        }
    else:
        with tempfile.TemporaryDirectory() as tmp:
            frames, extra = env_frames(*tiny_assets(Path(tmp))), {}
    np.savez_compressed(GOLDEN[name], frames=frames, **extra)
    print(f"wrote {GOLDEN[name]}: frames {frames.shape}")


if __name__ == "__main__":
    names = sys.argv[1:] or list(GOLDEN)
    unknown = sorted(set(names) - set(GOLDEN))
    if unknown:
        sys.exit(f"unknown golden(s) {unknown}; choose from {sorted(GOLDEN)}")
    for n in names:
        _write(n)
