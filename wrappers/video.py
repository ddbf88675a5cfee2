"""``ImaginedVideoRecorder``: save the episodes the world model imagines as GIF or MP4."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from ghvae_env._io import atomic_path

__all__ = ["ImaginedVideoRecorder", "save_video", "VIDEO_FORMATS"]

VIDEO_FORMATS = ("gif", "mp4")


def save_video(
    frames: Sequence[np.ndarray] | np.ndarray, path: str | os.PathLike, fps: float = 10.0
) -> Path:
    """Write uint8 ``T x H x W x 3`` frames to ``path`` (``.gif`` or ``.mp4``), atomically.

    GIFs loop forever; MP4 needs the ``imageio-ffmpeg`` package (a ghvae-env dependency).
    """
    import imageio.v2 as imageio

    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in VIDEO_FORMATS:
        raise ValueError(f"video path must end in .gif or .mp4, actual value: {str(path)!r}")
    if not fps > 0:
        raise ValueError(f"fps must be > 0, actual value: {fps!r}")
    video = np.asarray(frames)
    if video.dtype != np.uint8 or video.ndim != 4 or video.shape[-1] != 3 or video.shape[0] < 1:
        raise ValueError(
            f"frames must be uint8 T x H x W x 3 with T >= 1, actual value: dtype {video.dtype} shape {video.shape}"
        )
    with atomic_path(path, keep_suffix=True) as tmp:  # imageio picks the format by suffix
        if fmt == "gif":
            imageio.mimsave(tmp, list(video), duration=1000.0 / fps, loop=0)
        else:
            imageio.mimsave(tmp, list(video), fps=fps, macro_block_size=1)
    return path


class ImaginedVideoRecorder(
    gym.Wrapper[np.ndarray, np.ndarray, np.ndarray, np.ndarray], gym.utils.RecordConstructorArgs
):
    """Record each episode's observations and save it as ``{name_prefix}-episode-{k}.{format}``.

    Unlike Gymnasium's ``RecordVideo`` this records the observations themselves (the
    imagined frames; no ``render_mode`` needed), starting with the reset frame (the last
    context frame). A video is written when an episode ends (``terminated`` or
    ``truncated``), when ``reset`` interrupts an episode, and on ``close``; the paths are
    in :attr:`video_paths`. ``episode_trigger(k) -> bool`` picks which episodes (0-based) to
    record (default: all). ``fps`` defaults to the env's ``metadata["render_fps"]``.
    """

    def __init__(
        self,
        env: gym.Env[np.ndarray, np.ndarray],
        video_folder: str | os.PathLike,
        name_prefix: str = "imagined",
        video_format: str = "gif",
        fps: float | None = None,
        episode_trigger: Callable[[int], bool] | None = None,
    ) -> None:
        space = env.observation_space
        if not (
            isinstance(space, spaces.Box)
            and space.dtype == np.uint8
            and len(space.shape) == 3
            and space.shape[-1] == 3
        ):
            raise TypeError(
                f"ImaginedVideoRecorder needs uint8 H x W x 3 image observations, actual value: {space}"
            )
        if video_format not in VIDEO_FORMATS:
            raise ValueError(
                f"video_format must be one of {VIDEO_FORMATS}, actual value: {video_format!r}"
            )
        fps = float(env.metadata.get("render_fps", 10)) if fps is None else fps
        if not fps > 0:
            raise ValueError(f"fps must be > 0, actual value: {fps!r}")
        gym.utils.RecordConstructorArgs.__init__(
            self, video_folder=video_folder, name_prefix=name_prefix, video_format=video_format,
            fps=fps, episode_trigger=episode_trigger,
        )  # fmt: skip
        super().__init__(env)
        self.video_folder = Path(video_folder)
        self.name_prefix = name_prefix
        self.video_format = video_format
        self.fps = fps
        self.episode_trigger = episode_trigger or (lambda episode: True)
        self.video_paths: list[Path] = []
        self._episode = -1
        self._frames: list[np.ndarray] = []

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(
            seed=seed, options=options
        )  # a refused reset keeps the recording
        self._flush()
        self._episode += 1
        if self.episode_trigger(self._episode):
            self._frames = [obs.copy()]
        return obs, info

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        if self._frames:
            self._frames.append(obs.copy())
            if terminated or truncated:
                self._flush()
        return obs, reward, terminated, truncated, info

    def close(self) -> None:
        self._flush()
        super().close()

    def _flush(self) -> None:
        if not self._frames:
            return
        frames, self._frames = self._frames, []
        path = self.video_folder / f"{self.name_prefix}-episode-{self._episode}.{self.video_format}"
        self.video_paths.append(save_video(frames, path, self.fps))
