"""TorchObsWrapper and ImaginedVideoRecorder."""

from __future__ import annotations

import gymnasium as gym
import imageio.v2 as imageio
import numpy as np
import pytest
import torch

from ghvae_env.data.frames import to_float_chw
from ghvae_env.wrappers import ImaginedVideoRecorder, TorchObsWrapper, save_video


def test_torch_obs_wrapper(kw):
    raw = gym.make("GHVAE-RoboNet-v0", **kw)
    env = TorchObsWrapper(gym.make("GHVAE-RoboNet-v0", **kw))
    assert env.observation_space == gym.spaces.Box(0.0, 1.0, (3, 64, 64), np.float32)
    assert env.device == torch.device("cpu")
    obs, _ = env.reset(seed=0)
    ref, _ = raw.reset(seed=0)
    assert obs.shape == (3, 64, 64) and obs.dtype == torch.float32
    torch.testing.assert_close(obs, to_float_chw(ref))
    action = torch.tensor([0.1, 0.2, -0.3, 1.0])
    obs, reward, terminated, truncated, _ = env.step(action)
    torch.testing.assert_close(obs, to_float_chw(raw.step(action.numpy())[0]))
    assert type(reward) is float and terminated is False and truncated is False
    with pytest.raises(TypeError, match="uint8"):
        TorchObsWrapper(gym.make("CartPole-v1"))


@pytest.mark.parametrize("fmt", ["gif", "mp4"])
def test_video_recorder_writes_each_episode(kw, tmp_path, fmt):
    env = ImaginedVideoRecorder(
        gym.make("GHVAE-RoboNet-v0", max_episode_steps=3, **kw), tmp_path, video_format=fmt,
        episode_trigger=lambda k: k != 1,
    )  # fmt: skip
    for _ in range(3):
        env.reset(seed=0)
        for _ in range(3):
            env.step(env.action_space.sample())
    env.reset(seed=0)
    env.step(env.action_space.sample())
    env.close()  # flushes the unfinished 4th episode
    names = [p.name for p in env.video_paths]
    assert names == [f"imagined-episode-{k}.{fmt}" for k in (0, 2, 3)]
    frames = imageio.mimread(env.video_paths[0])
    assert len(frames) == 4 and frames[0].shape[:2] == (64, 64)


def test_save_video_gif_round_trip_and_errors(tmp_path):
    video = np.random.default_rng(0).integers(0, 256, (5, 64, 64, 3), dtype=np.uint8)
    path = save_video(video, tmp_path / "sub" / "v.gif", fps=5)
    back = np.stack([f[..., :3] for f in imageio.mimread(path)])
    assert back.shape == video.shape
    assert list(path.parent.iterdir()) == [path]  # no temp file left behind
    with pytest.raises(ValueError, match=".gif or .mp4"):
        save_video(video, tmp_path / "v.avi")
    with pytest.raises(ValueError, match="uint8"):
        save_video(video.astype(np.float32), tmp_path / "v.gif")
