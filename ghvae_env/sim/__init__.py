"""The robosuite simulator: tabletop scene, random interaction policy, ``RoboNet-Sim-v0``.

Importing this package registers ``RoboNet-Sim-v0`` with Gymnasium and stays cheap:
robosuite and MuJoCo are imported only when a scene (or the env) is constructed.
"""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

from ghvae_env.sim.env import MAX_EPISODE_STEPS, InvalidActionError, RoboNetSimEnv
from ghvae_env.sim.policy import PolicyConfig, RandomInteractionPolicy
from ghvae_env.sim.scene import (
    SCENE_METADATA,
    STATE_LABELS,
    SceneConfig,
    TabletopScene,
    rollout_episode,
)

__all__ = [
    "RoboNetSimEnv",
    "InvalidActionError",
    "SceneConfig",
    "TabletopScene",
    "PolicyConfig",
    "RandomInteractionPolicy",
    "rollout_episode",
    "SCENE_METADATA",
    "STATE_LABELS",
]

if "RoboNet-Sim-v0" not in registry:
    register(
        id="RoboNet-Sim-v0",
        entry_point="ghvae_env.sim.env:RoboNetSimEnv",
        max_episode_steps=MAX_EPISODE_STEPS,
    )
