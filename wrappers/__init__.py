"""Gymnasium wrappers for the GHVAE env, importable as ``ghvae_env.wrappers``.

Imported lazily (torch, imageio and stable-baselines3 load on first use); the
stable-baselines3 adapter needs ``pip install stable-baselines3``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "GoalConditionedWrapper",
    "SB3VecEnvAdapter",
    "TorchObsWrapper",
    "ImaginedVideoRecorder",
    "save_video",
]

if TYPE_CHECKING:
    from ghvae_env.wrappers.goal import GoalConditionedWrapper
    from ghvae_env.wrappers.sb3 import SB3VecEnvAdapter
    from ghvae_env.wrappers.torch_obs import TorchObsWrapper
    from ghvae_env.wrappers.video import ImaginedVideoRecorder, save_video

_LAZY = {
    "GoalConditionedWrapper": "goal",
    "SB3VecEnvAdapter": "sb3",
    "TorchObsWrapper": "torch_obs",
    "ImaginedVideoRecorder": "video",
    "save_video": "video",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
