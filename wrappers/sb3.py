"""``SB3VecEnvAdapter``: the native GHVAE vector env as a stable-baselines3 ``VecEnv``.

stable-baselines3 is optional: ``pip install stable-baselines3``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

try:
    from stable_baselines3.common.vec_env import VecEnv
    from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices, VecEnvStepReturn
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "SB3VecEnvAdapter needs stable-baselines3, an optional dependency of ghvae-env: "
        "pip install stable-baselines3"
    ) from e

__all__ = ["SB3VecEnvAdapter"]


def _split_info(info: dict[str, Any], num_envs: int) -> list[dict[str, Any]]:
    """Gymnasium's vector info (arrays plus ``_key`` masks) -> one dict per sub-env."""
    out: list[dict[str, Any]] = [{} for _ in range(num_envs)]
    for key, value in info.items():
        if key.startswith("_"):
            continue
        mask = np.asarray(info.get(f"_{key}", np.ones(num_envs, dtype=bool)), dtype=bool)
        parts = _split_info(value, num_envs) if isinstance(value, dict) else None
        for i in np.flatnonzero(mask):
            if parts is not None:
                out[i][key] = parts[i]
            else:
                v = value[i]
                out[i][key] = v.item() if isinstance(v, np.generic) else v
    return out


class SB3VecEnvAdapter(VecEnv):
    """A Gymnasium ``VectorEnv`` (``NEXT_STEP`` autoreset) seen through SB3's ``VecEnv`` API.

    Built for :class:`~ghvae_env.envs.vector.GHVAERoboNetVectorEnv` (one batched model
    forward per step); any Gymnasium vector env with ``NEXT_STEP`` autoreset, ``Box``
    spaces and ``reset(options={"reset_mask": ...})`` works (``SyncVectorEnv`` does).

    SB3 expects a finished sub-env to be reset within the same ``step``: when sub-env i is
    done, its last frame goes to ``infos[i]["terminal_observation"]``,
    ``infos[i]["TimeLimit.truncated"]`` says whether it was a time-out, and the returned
    ``obs[i]`` is the first frame of its next episode, obtained with a partial
    ``reset(options={"reset_mask": dones})`` (which also cancels the vector env's own
    pending autoreset). ``seed()`` and ``set_options()`` apply at the next ``reset()``;
    per-env options are stacked into the vector env's batched options.

    The sub-envs are rows of one vector env, so attributes and methods are those of the
    vector env: ``get_attr`` returns its attribute once per requested index,
    ``env_method`` calls the method once, ``set_attr`` refuses a subset of indices.

    ```python
    venv = gym.make_vec("GHVAE-RoboNet-v0", num_envs=8, goal_from_clip=True)
    model = PPO("CnnPolicy", SB3VecEnvAdapter(venv)).learn(10_000)
    ```
    """

    def __init__(self, venv: gym.vector.VectorEnv) -> None:
        if not isinstance(venv, gym.vector.VectorEnv):
            raise TypeError(f"venv must be a gymnasium.vector.VectorEnv, actual value: {venv!r}")
        mode = venv.metadata.get("autoreset_mode")
        if mode != AutoresetMode.NEXT_STEP:
            raise ValueError(
                f"venv must autoreset in AutoresetMode.NEXT_STEP, actual value: autoreset_mode {mode!r}"
            )
        for name in ("single_observation_space", "single_action_space"):
            if not isinstance(getattr(venv, name), spaces.Box):
                raise TypeError(f"venv.{name} must be a Box, actual value: {getattr(venv, name)}")
        self.venv = venv
        self._actions: np.ndarray | None = None
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)

    # ------------------------------------------------------------------ VecEnv API
    def reset(self) -> np.ndarray:
        seeds = None if all(s is None for s in self._seeds) else list(self._seeds)
        obs, info = self.venv.reset(seed=seeds, options=self._batched_options())
        self.reset_infos = _split_info(info, self.num_envs)
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> VecEnvStepReturn:
        if self._actions is None:
            raise RuntimeError("step_async(actions) must be called before step_wait()")
        actions, self._actions = self._actions, None
        obs, rewards, terminated, truncated, info = self.venv.step(actions)
        dones = np.logical_or(terminated, truncated)
        infos = _split_info(info, self.num_envs)
        for i in range(self.num_envs):
            infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
        if dones.any():
            reset_obs, reset_info = self.venv.reset(options={"reset_mask": dones.copy()})
            reset_infos = _split_info(reset_info, self.num_envs)
            for i in np.flatnonzero(dones):
                infos[i]["terminal_observation"] = obs[i].copy()
                self.reset_infos[i] = reset_infos[i]
            obs[dones] = reset_obs[dones]
        return obs, np.asarray(rewards, dtype=np.float32), dones, infos

    def close(self) -> None:
        self.venv.close()

    def get_images(self) -> Sequence[np.ndarray | None]:
        frames = self.venv.render()
        return [None] * self.num_envs if frames is None else list(frames)

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        value = getattr(self.venv, attr_name)
        return [value for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        if sorted(self._get_indices(indices)) != list(range(self.num_envs)):
            raise ValueError(
                f"set_attr({attr_name!r}) needs indices=None: the {self.num_envs} sub-envs share "
                f"one vector env, actual value: indices {indices!r}"
            )
        setattr(self.venv, attr_name, value)

    def env_method(
        self,
        method_name: str,
        *method_args: Any,
        indices: VecEnvIndices = None,
        **method_kwargs: Any,
    ) -> list[Any]:
        result = getattr(self.venv, method_name)(*method_args, **method_kwargs)
        return [result for _ in self._get_indices(indices)]

    def env_is_wrapped(
        self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None
    ) -> list[bool]:
        return [False for _ in self._get_indices(indices)]  # rows of a vector env wear no wrappers

    # -------------------------------------------------------------- helpers
    def _batched_options(self) -> dict[str, Any] | None:
        """SB3's per-env option dicts -> one dict of arrays with a leading num_envs dim."""
        if not any(self._options):
            return None
        keys = set(self._options[0])
        if any(set(o) != keys for o in self._options):
            raise ValueError(
                "set_options() must give every sub-env the same option keys, actual value: "
                f"{[sorted(o) for o in self._options]}"
            )
        return {k: np.stack([np.asarray(o[k]) for o in self._options]) for k in sorted(keys)}
