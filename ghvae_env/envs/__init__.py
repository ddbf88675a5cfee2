"""``GHVAE-RoboNet-v0``: the GHVAE world model as a Gymnasium env and its native vector env.

Importing this package registers the env and stays cheap: torch and the model load when
an env is constructed (the classes below are imported on first attribute access).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gymnasium.envs.registration import register, registry

__all__ = [
    "GHVAERoboNetEnv",
    "GHVAERoboNetVectorEnv",
    "InvalidOptionError",
    "goal_reward",
    "load_clips",
    "save_clips",
]

if TYPE_CHECKING:
    from ghvae_env.envs.assets import load_clips, save_clips
    from ghvae_env.envs.model_env import GHVAERoboNetEnv, InvalidOptionError, goal_reward
    from ghvae_env.envs.vector import GHVAERoboNetVectorEnv

_LAZY = {
    "GHVAERoboNetEnv": "ghvae_env.envs.model_env",
    "InvalidOptionError": "ghvae_env.envs.model_env",
    "goal_reward": "ghvae_env.envs.model_env",
    "GHVAERoboNetVectorEnv": "ghvae_env.envs.vector",
    "load_clips": "ghvae_env.envs.assets",
    "save_clips": "ghvae_env.envs.assets",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ghvae_env.envs' has no attribute {name!r}")


if "GHVAE-RoboNet-v0" not in registry:
    register(
        id="GHVAE-RoboNet-v0",
        entry_point="ghvae_env.envs.model_env:GHVAERoboNetEnv",
        vector_entry_point="ghvae_env.envs.vector:GHVAERoboNetVectorEnv",
        # no TimeLimit: an episode is truncated by the env when its held-out clip ends
        # (L - context_frames steps, 10 for the bundled clips), where its goal frame lies
        max_episode_steps=None,
        # stepping is bit-stable under a fixed seed on CPU (tests/envs/test_env.py)
        nondeterministic=False,
    )
