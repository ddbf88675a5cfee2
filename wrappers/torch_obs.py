"""``TorchObsWrapper``: observations as float ``3 x 64 x 64`` tensors on the model's device."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from ghvae_env.data.frames import to_float_chw

__all__ = ["TorchObsWrapper"]


class TorchObsWrapper(
    gym.ObservationWrapper[torch.Tensor, np.ndarray, np.ndarray], gym.utils.RecordConstructorArgs
):
    """Frames as float32 ``3 x 64 x 64`` tensors in [0, 1] on ``device``; torch actions accepted.

    What a torch agent or a model-based learner feeds its networks, without writing the
    uint8 HWC -> float CHW conversion again (it is :func:`ghvae_env.data.frames.to_float_chw`).
    ``device=None`` uses the wrapped env's model device (``env.unwrapped.device``) when it
    has one, else the CPU. Actions may be numpy arrays or tensors (moved to the CPU).

    The declared ``observation_space`` is ``Box(0, 1, (3, 64, 64), float32)``, the values and
    layout of the tensors; Gymnasium spaces hold numpy arrays, so ``space.contains`` does not
    accept the tensors themselves (as with Gymnasium's own ``NumpyToTorch``).
    """

    def __init__(
        self, env: gym.Env[np.ndarray, np.ndarray], device: str | torch.device | None = None
    ) -> None:
        space = env.observation_space
        if not (
            isinstance(space, spaces.Box)
            and space.dtype == np.uint8
            and len(space.shape) == 3
            and space.shape[-1] == 3
        ):
            raise TypeError(
                f"TorchObsWrapper needs uint8 H x W x 3 image observations, actual value: {space}"
            )
        gym.utils.RecordConstructorArgs.__init__(self, device=device)
        super().__init__(env)
        if device is None:
            device = getattr(env.unwrapped, "device", "cpu")
        self.device = torch.device(device)
        h, w, c = space.shape
        self.observation_space = spaces.Box(0.0, 1.0, (c, h, w), np.float32)

    def observation(self, observation: np.ndarray) -> torch.Tensor:
        return to_float_chw(observation, self.device)  # (3, 64, 64)

    def step(self, action: Any) -> tuple[torch.Tensor, float, bool, bool, dict[str, Any]]:
        if isinstance(action, torch.Tensor):
            action = action.detach().cpu().numpy()
        return super().step(action)
