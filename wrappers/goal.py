"""``GoalConditionedWrapper``: the GHVAE env as a goal-conditioned (HER-ready) env."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from ghvae_env.envs.model_env import GHVAERoboNetEnv, InvalidOptionError, goal_reward
from ghvae_env.spaces import FRAME_SHAPE

__all__ = ["GoalConditionedWrapper"]

_CHANNEL_FIRST = (FRAME_SHAPE[2], FRAME_SHAPE[0], FRAME_SHAPE[1])  # (3, 64, 64)


def _channel_last(images: np.ndarray) -> np.ndarray:
    """``... x 3 x 64 x 64`` -> ``... x 64 x 64 x 3`` (a view); anything else unchanged.

    Unambiguous for 64 x 64 RGB frames: no channel-last frame ends in (3, 64, 64).
    """
    x = np.asarray(images)
    if x.ndim >= 3 and x.shape[-3:] == _CHANNEL_FIRST:
        return np.moveaxis(x, -3, -1)
    return x


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
      reached ``L - context_frames`` steps after the context, where the episode is
      truncated). With your own
      ``context_frames`` there is no clip, so ``goal_image`` is then required
      (:class:`~ghvae_env.envs.model_env.InvalidOptionError` otherwise, env untouched).
    * Reward: the env's goal reward ``-mean|achieved - desired| / 255``, which
      :meth:`compute_reward` reproduces exactly, batched over leading dimensions (HER
      relabels goals with it), for channel-last (``... x 64 x 64 x 3``, ours) and
      channel-first (``... x 3 x 64 x 64``, how stable-baselines3's replay buffers store
      images) batches. ``info["is_success"]`` comes from the env.

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
        """Reward for (achieved, desired) goal images -> float64 ``...`` in [-1, 0].

        Each of ``achieved_goal`` and ``desired_goal`` is uint8 ``... x 64 x 64 x 3``
        (channel-last) or ``... x 3 x 64 x 64`` (channel-first: SB3's HerReplayBuffer
        transposes image observations when it stores them), with any leading shape; the two
        broadcast against each other. ``info`` (a dict or an array of dicts) is unused: the
        reward depends on the images only.
        """
        del info
        try:
            return goal_reward(_channel_last(achieved_goal), _channel_last(desired_goal))
        except ValueError as e:
            raise ValueError(f"{e} (or channel-first ... x 3 x 64 x 64)") from e

    @property
    def _base(self) -> GHVAERoboNetEnv:
        base = self.env.unwrapped
        assert isinstance(base, GHVAERoboNetEnv)
        return base

    def _dict_obs(self, obs: np.ndarray) -> dict[str, np.ndarray]:
        goal = self._base.goal_image
        assert goal is not None  # set by reset
        return {"observation": obs, "achieved_goal": obs.copy(), "desired_goal": goal}
