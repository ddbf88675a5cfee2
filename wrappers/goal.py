"""``GoalConditionedWrapper``: the GHVAE env as a goal-conditioned (HER-ready) env."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from ghvae_env.envs.ghvae_env import GHVAERoboNetEnv, InvalidOptionError, goal_reward

__all__ = ["GoalConditionedWrapper"]


class GoalConditionedWrapper(
    gym.Wrapper[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray],
    gym.utils.RecordConstructorArgs,
):
    """Dict observations ``observation`` / ``achieved_goal`` / ``desired_goal`` for goal reaching.

    * ``observation`` and ``achieved_goal``: the current frame (uint8 64 x 64 x 3, separate
      copies); ``desired_goal``: the goal image. The observation space is a ``Dict`` of three
      copies of the env's image ``Box``, the layout stable-baselines3's HER expects.
    * Goals: ``reset(options={"goal_image": g})`` sets ``g``; otherwise the goal is the last
      frame of the held-out clip the context was drawn from (a frame the real trajectory
      reached ``L - context_frames`` steps after the context). With your own
      ``context_frames`` there is no clip, so ``goal_image`` is then required
      (:class:`~ghvae_env.envs.ghvae_env.InvalidOptionError` otherwise, env untouched).
    * Reward: the env's goal reward ``-mean|achieved - desired| / 255``, which
      :meth:`compute_reward` reproduces exactly, batched over leading dimensions (HER
      relabels goals with it).

    ```python
    env = GoalConditionedWrapper(gym.make("GHVAE-RoboNet-v0"))
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert reward == env.compute_reward(obs["achieved_goal"], obs["desired_goal"], info)
    ```
    """

    def __init__(self, env: gym.Env[np.ndarray, np.ndarray]) -> None:
        if not isinstance(env.unwrapped, GHVAERoboNetEnv):
            raise TypeError(
                f"GoalConditionedWrapper wraps a GHVAE-RoboNet-v0 env, actual value: {env.unwrapped!r}"
            )
        gym.utils.RecordConstructorArgs.__init__(self)
        super().__init__(env)
        image = env.observation_space
        self.observation_space = spaces.Dict(
            {"observation": image, "achieved_goal": image, "desired_goal": image}
        )

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        options = {} if options is None else options
        if (
            isinstance(options, dict)
            and options.get("context_frames") is not None
            and options.get("goal_image") is None
        ):
            raise InvalidOptionError(
                "GoalConditionedWrapper needs options['goal_image'] with options['context_frames']: "
                "without a held-out clip there is no final frame to use as the goal"
            )
        obs, info = self.env.reset(seed=seed, options=options)
        base = self._base
        if base.goal_image is None:  # context drawn from clip info["clip_index"]
            base.set_goal(base.clips.frames[info["clip_index"], -1])
            info["goal_distance"] = -float(goal_reward(obs, base.goal_image))
        return self._dict_obs(obs), info

    def step(
        self, action: np.ndarray
    ) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self._dict_obs(obs), reward, terminated, truncated, info

    def compute_reward(
        self, achieved_goal: np.ndarray, desired_goal: np.ndarray, info: Any = None
    ) -> np.ndarray:
        """Reward for (achieved, desired) goal images: uint8 ``... x 64 x 64 x 3`` -> float64 ``...``.

        ``info`` (a dict or an array of dicts) is unused: the reward depends on the images only.
        """
        del info
        return goal_reward(achieved_goal, desired_goal)

    @property
    def _base(self) -> GHVAERoboNetEnv:
        base = self.env.unwrapped
        assert isinstance(base, GHVAERoboNetEnv)
        return base

    def _dict_obs(self, obs: np.ndarray) -> dict[str, np.ndarray]:
        goal = self._base.goal_image
        assert goal is not None  # set by reset
        return {"observation": obs, "achieved_goal": obs.copy(), "desired_goal": goal}
