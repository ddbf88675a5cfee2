"""``GHVAERoboNetVectorEnv``: N imagined envs stepped by ONE batched ``model.step``.

``gym.make_vec("GHVAE-RoboNet-v0", num_envs=N)`` builds this class (the registration's
``vector_entry_point`` is Gymnasium's default when present); ``vectorization_mode="sync"``
instead builds N :class:`~ghvae_env.envs.model_env.GHVAERoboNetEnv` sharing one model.
"""

from __future__ import annotations

import os
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from ghvae_env._threads import apply_threads
from ghvae_env.data.frames import to_uint8_hwc
from ghvae_env.envs.assets import HeldoutClips
from ghvae_env.envs.model_env import (
    SUCCESS_DISTANCE,
    InvalidOptionError,
    ResetRequest,
    check_clip_index,
    check_env_kwargs,
    clip_episode_steps,
    draw_seed,
    goal_reward,
    load_env_clips,
    parse_reset_options,
    resolve_model,
    resolve_temperature,
    start_rollout,
    temperature_kwargs,
)
from ghvae_env.model.api import ModelState, WorldModel
from ghvae_env.spaces import FRAME_SHAPE, action_space, observation_space, validate_actions

__all__ = ["GHVAERoboNetVectorEnv"]


def _autoreset_mode(value: Any) -> AutoresetMode | None:
    """An AutoresetMode, its value ("Disabled") or its name in any case ("disabled")."""
    if isinstance(value, AutoresetMode):
        return value
    if isinstance(value, str):
        for mode in AutoresetMode:
            if value in (mode.value, mode.name) or value.upper().replace("-", "_") == mode.name:
                return mode
    return None


def _is_seed(s: Any) -> bool:
    return isinstance(s, int | np.integer) and not isinstance(s, bool) and s >= 0


class GHVAERoboNetVectorEnv(gym.vector.VectorEnv):
    """``num_envs`` copies of ``GHVAE-RoboNet-v0`` as rows of one batched model rollout.

    Each sub-environment behaves like :class:`~ghvae_env.envs.model_env.GHVAERoboNetEnv`
    (see its docstring for spaces, rewards, goals, options; by default a sub-env is truncated
    when its clip ends, ``L - context_frames`` steps after reset), under
    ``TimeLimit(max_episode_steps)`` when ``max_episode_steps`` is given, with these vector
    specifics:

    * **One forward per step**: ``step`` runs one ``model.step`` on the ``N x ...`` state;
      sub-envs that start a new episode are (re)started with one batched ``model.start`` and
      merged in with ``state.assign`` (:class:`~ghvae_env.model.api.ModelState`).
    * **Autoreset** ``AutoresetMode.NEXT_STEP`` by default (Gymnasium's default, which every
      vector wrapper accepts): when sub-env i ends (``truncated[i]``; it never terminates),
      the *next* ``step`` ignores ``actions[i]``, resets sub-env i and returns its first
      observation with reward 0, ``terminated = truncated = False`` and its reset info.
      ``autoreset_mode=AutoresetMode.DISABLED`` (the mode TorchRL's ``GymWrapper`` needs):
      no automatic reset; reset the ended sub-envs with ``reset(options={"reset_mask": m})``.
    * **Seeds**: ``reset(seed=s)`` seeds sub-env i with ``s + i``; a list gives one seed
      (or None) per sub-env; None keeps each sub-env's generator. Sub-env i then draws its
      clips exactly as a single env reset with the same seed, so the first observations
      match. z^K is drawn from ONE ``torch.Generator`` for the batch (``GHVAE.step`` takes
      one generator), seeded at every ``reset()`` call from seeds drawn from the reset
      sub-envs: sampled frames follow the same distribution as N single envs and are
      reproducible under the same seeds, but are not the single envs' exact samples.
    * **Partial reset**: ``reset(options={"reset_mask": m})`` (bool ``(N,)``) resets only the
      sub-envs where ``m`` is True (and cancels their pending autoreset), as in
      ``SyncVectorEnv``; the other rows of the returned observation are their current frames.
    * **Options**: ``context_frames``, ``context_actions``, ``goal_image``, ``clip_index`` as
      in the single env, each either one value for every sub-env or batched with a leading
      ``N`` dimension; rows of sub-envs outside ``reset_mask`` are ignored. Autoresets take
      no options: a goal then comes from ``goal_from_clip`` or is cleared.
    * **Info**: ``step``, ``clip_index``, ``goal_distance``, ``is_success`` as arrays with
      Gymnasium's boolean ``_key`` masks saying which sub-envs hold a value.
    * **Attributes** of Gymnasium's own vector envs are all here (``autoreset_mode``,
      ``observation_mode``, ``call``, ``get_attr``, ``set_attr`` besides the
      ``VectorEnv`` ones), so TorchRL's ``GymWrapper`` and other consumers accept it. The
      sub-envs share one object: ``get_attr(name)`` returns its attribute once per sub-env,
      ``call(name, ...)`` calls the method once and returns its result once per sub-env,
      ``set_attr(name, values)`` needs one value for all (a single value or N equal ones).

    Arguments are those of the single env plus ``num_envs``, ``max_episode_steps`` (None
    by default, as registered: only the clip end truncates; an int adds a step limit) and
    ``autoreset_mode`` (``NEXT_STEP`` or ``DISABLED``, above).
    """

    metadata = {
        "render_modes": ["rgb_array"],
        "render_fps": 10,
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }
    copy = True  # as SyncVectorEnv(copy=True): reset and step always return fresh arrays

    def __init__(
        self,
        num_envs: int,
        checkpoint: str | os.PathLike | None = None,
        clips: str | os.PathLike | None = None,
        device: str | torch.device = "auto",
        context_frames: int = 2,
        render_mode: str | None = None,
        sample: bool = True,
        goal_from_clip: bool = True,
        max_episode_steps: int | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        threads: int | None = None,
        model: WorldModel | None = None,
        temperature: float | None = None,
    ) -> None:
        mode = _autoreset_mode(autoreset_mode)
        if mode not in (AutoresetMode.NEXT_STEP, AutoresetMode.DISABLED):
            raise InvalidOptionError(
                "autoreset_mode must be AutoresetMode.NEXT_STEP or AutoresetMode.DISABLED, "
                f"actual value: {autoreset_mode!r}"
            )
        # per instance: the class-level metadata names the default mode
        self.metadata = {**type(self).metadata, "autoreset_mode": mode}
        if not isinstance(num_envs, int) or isinstance(num_envs, bool) or num_envs < 1:
            raise InvalidOptionError(f"num_envs must be an int >= 1, actual value: {num_envs!r}")
        if max_episode_steps is not None and (
            not isinstance(max_episode_steps, int)
            or isinstance(max_episode_steps, bool)
            or max_episode_steps < 1
        ):
            raise InvalidOptionError(
                f"max_episode_steps must be an int >= 1 or None, actual value: {max_episode_steps!r}"
            )
        check_env_kwargs(
            context_frames=context_frames,
            render_mode=render_mode,
            sample=sample,
            goal_from_clip=goal_from_clip,
            clips=clips,
            render_modes=self.metadata["render_modes"],
            temperature=temperature,
        )
        self.num_envs = num_envs
        self.render_mode = render_mode
        self.context_frames = context_frames
        self.sample = sample
        self.goal_from_clip = goal_from_clip
        self.max_episode_steps = max_episode_steps
        self.model, self.device = resolve_model(model, checkpoint, device)
        self.temperature = resolve_temperature(self.model, temperature)
        self._temperature = temperature_kwargs(self.model, self.temperature)
        # torch threads (process-wide): threads, or the policy of ghvae_env._threads
        self.threads = apply_threads(threads, batch=num_envs, device=self.device)

        self.single_observation_space = observation_space()
        self.single_action_space = action_space()
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)

        self._clips_path = clips
        self._clips: HeldoutClips | None = None
        self._rngs: list[np.random.Generator | None] = [None] * num_envs
        self._generator = torch.Generator(device=self.device)
        self._state: ModelState | None = None
        self._obs: np.ndarray | None = None  # (N, 64, 64, 3)
        self._steps = np.zeros(num_envs, dtype=np.int64)
        self._goals = np.zeros((num_envs, *FRAME_SHAPE), dtype=np.uint8)
        self._has_goal = np.zeros(num_envs, dtype=bool)
        self._autoreset = np.zeros(num_envs, dtype=bool)
        self._episode_steps = np.zeros(num_envs, dtype=np.int64)  # clip end; 0: none

    @property
    def autoreset_mode(self) -> AutoresetMode:
        """The mode in ``metadata["autoreset_mode"]`` (``make_vec(autoreset_mode=...)``), as
        ``SyncVectorEnv.autoreset_mode`` (read by TorchRL)."""
        return self.metadata["autoreset_mode"]

    @property
    def observation_mode(self) -> str:
        """``"same"``: every sub-env has the same observation space (``SyncVectorEnv``'s)."""
        return "same"

    # ------------------------------------------------------------------ gym API
    def reset(
        self,
        *,
        seed: int | list[int | None] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        n = self.num_envs
        options = dict(options) if options is not None else {}
        mask = self._reset_mask(options.pop("reset_mask", None))
        seeds = self._seed_list(seed)
        req = parse_reset_options(options, lead=(n,))
        if req.context_frames is None:
            clips = self.clips
            if req.clip_index is not None:
                check_clip_index(clips, req.clip_index[mask])
        # validated: from here on nothing raises on user input
        for i in np.flatnonzero(mask):
            if seeds[i] is not None or self._rngs[i] is None:
                self._rngs[i], _ = seeding.np_random(seeds[i])
        info = self._restart(mask, req, reseed=True)
        self._autoreset[mask] = False
        assert self._obs is not None
        return self._obs.copy(), info

    @torch.no_grad()
    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if self._state is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        a = validate_actions(actions, self.num_envs)
        restart = self._autoreset.copy()  # NEXT_STEP: these rows start their next episode now
        # (always all False with DISABLED: the caller resets ended rows with a reset_mask)
        if restart.any():
            _ = self.clips  # autoresets draw from the clips: fail (if missing) before any change
        a_t = torch.as_tensor(a, device=self.device)  # (N, 4)
        _, self._state = self.model.step(
            self._state, a_t, generator=self._generator, sample=self.sample, **self._temperature
        )
        self._steps += 1
        info: dict[str, Any] = {}
        if restart.any():  # also refreshes self._obs
            info = self._restart(restart, ResetRequest(), reseed=False)
        else:
            self._obs = to_uint8_hwc(self._state.frame)  # (N, 64, 64, 3)
        assert self._obs is not None

        rewards = np.zeros(self.num_envs, dtype=np.float64)
        goal_distance = np.zeros(self.num_envs, dtype=np.float64)
        if self._has_goal.any():
            g = self._has_goal
            goal_distance[g] = -goal_reward(self._obs[g], self._goals[g])
            rewards[g & ~restart] = -goal_distance[g & ~restart]
        terminated = np.zeros(self.num_envs, dtype=bool)
        truncated = (self._episode_steps > 0) & (self._steps >= self._episode_steps)
        if self.max_episode_steps is not None:
            truncated |= self._steps >= self.max_episode_steps
        truncated &= ~restart
        if self.autoreset_mode is AutoresetMode.NEXT_STEP:
            self._autoreset = terminated | truncated

        info["step"], info["_step"] = self._steps.copy(), np.ones(self.num_envs, dtype=bool)
        if self._has_goal.any():
            info["goal_distance"], info["_goal_distance"] = goal_distance, self._has_goal.copy()
            info["is_success"] = self._has_goal & (goal_distance < SUCCESS_DISTANCE)
            info["_is_success"] = self._has_goal.copy()
        return self._obs.copy(), rewards, terminated, truncated, info

    def render(self) -> tuple[np.ndarray, ...] | None:
        if self.render_mode is None:
            gym.logger.warn(
                "render() called without a render_mode; make the env with "
                'render_mode="rgb_array" to get frames'
            )
            return None
        if self._obs is None:
            raise gym.error.ResetNeeded("call reset() before render()")
        return tuple(self._obs.copy())

    def call(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        """``getattr(self, name)(*args, **kwargs)`` (or the attribute), once per sub-env."""
        value = getattr(self, name)
        if callable(value):
            value = value(*args, **kwargs)
        return (value,) * self.num_envs

    def get_attr(self, name: str) -> tuple[Any, ...]:
        """The shared attribute ``name``, once per sub-env (as ``SyncVectorEnv.get_attr``)."""
        return (getattr(self, name),) * self.num_envs

    def set_attr(self, name: str, values: list[Any] | tuple[Any, ...] | Any) -> None:
        """Set the shared attribute ``name``: one value, or a list of N identical values."""
        if isinstance(values, list | tuple):
            if len(values) != self.num_envs or any(v != values[0] for v in values[1:]):
                raise InvalidOptionError(
                    f"set_attr({name!r}) needs one value for all {self.num_envs} sub-envs "
                    f"(they share one vector env), actual value: {values!r}"
                )
            values = values[0]
        setattr(self, name, values)

    def close_extras(self, **kwargs: Any) -> None:
        self._state = None  # the model stays in the per-process cache

    # ---------------------------------------------------------------- extras
    @property
    def clips(self) -> HeldoutClips:
        """The held-out context clips (read-only arrays), loaded on first use."""
        if self._clips is None:
            self._clips = load_env_clips(self._clips_path, self.context_frames, self.model)
        return self._clips

    @property
    def goal_images(self) -> np.ndarray:
        """``N x 64 x 64 x 3`` copy of the goals (rows without a goal are zeros)."""
        return self._goals.copy()

    @property
    def has_goal(self) -> np.ndarray:
        return self._has_goal.copy()

    # -------------------------------------------------------------- helpers
    def _reset_mask(self, mask: Any) -> np.ndarray:
        n = self.num_envs
        if mask is None:
            return np.ones(n, dtype=bool)
        if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_ or mask.shape != (n,):
            raise InvalidOptionError(
                f"options['reset_mask'] must be a bool numpy array of shape ({n},), actual "
                f"value: {type(mask).__name__} {getattr(mask, 'dtype', '')} {getattr(mask, 'shape', '')}"
            )
        if not mask.any():
            raise InvalidOptionError(
                "options['reset_mask'] must select at least one sub-env, actual value: all False"
            )
        if self._state is None and not mask.all():
            raise gym.error.ResetNeeded("call reset() without reset_mask before a partial reset")
        return mask.copy()

    def _seed_list(self, seed: int | list[int | None] | None) -> list[int | None]:
        n = self.num_envs
        if seed is None:
            return [None] * n
        if _is_seed(seed):
            return [int(seed) + i for i in range(n)]  # type: ignore[arg-type]
        if (
            isinstance(seed, list | tuple)
            and len(seed) == n
            and all(s is None or _is_seed(s) for s in seed)
        ):
            return [None if s is None else int(s) for s in seed]
        raise InvalidOptionError(
            f"seed must be None, an int >= 0 or a list of {n} ints >= 0 / None, actual value: {seed!r}"
        )

    def _restart(self, mask: np.ndarray, req: ResetRequest, *, reseed: bool) -> dict[str, Any]:
        """Start new episodes in the sub-envs of ``mask``; update state, obs, goals; return info.

        Per sub-env, the draws from its generator mirror the single env's reset: the clip
        index (unless given), then a torch seed. ``reseed``: seed the batch generator from
        those torch seeds (explicit resets); autoresets keep its stream.
        """
        n = self.num_envs
        rows = np.flatnonzero(mask)
        clip_index = np.full(n, -1, dtype=np.int64)
        torch_seeds: list[int] = []
        frames_rows, actions_rows = [], []
        for i in rows:
            rng = self._rngs[i]
            assert rng is not None
            if req.context_frames is not None:
                frames_rows.append(req.context_frames[i])
                actions_rows.append(req.context_actions[i])  # type: ignore[index]
            else:
                clips = self.clips
                idx = (
                    int(req.clip_index[i])
                    if req.clip_index is not None
                    else int(rng.integers(clips.num_clips))
                )
                clip_index[i] = idx
                frames_rows.append(clips.frames[idx, : self.context_frames])
                actions_rows.append(clips.actions[idx, : self.context_frames - 1])
            torch_seeds.append(draw_seed(rng))
        if reseed:
            seq = np.random.SeedSequence(torch_seeds)
            self._generator.manual_seed(int(seq.generate_state(1, np.uint64)[0] >> np.uint64(1)))

        frames = np.stack(frames_rows)  # (B, C, 64, 64, 3)
        new = start_rollout(self.model, frames, np.stack(actions_rows), self.device)
        if self._state is None or mask.all():
            self._state = new
        else:
            self._state.assign(torch.as_tensor(rows, device=self.device), new)
        self._obs = to_uint8_hwc(self._state.frame)  # (N, 64, 64, 3)

        drawn = clip_index >= 0
        if req.goal_image is not None:
            self._goals[mask] = req.goal_image[mask]
            self._has_goal[mask] = True
        elif self.goal_from_clip:
            self._goals[drawn] = self.clips.frames[clip_index[drawn], -1]
            self._has_goal[mask] = drawn[mask]
        else:
            self._has_goal[mask] = False
        self._steps[mask] = 0
        self._episode_steps[mask] = 0
        if self.goal_from_clip and drawn.any():
            self._episode_steps[drawn] = clip_episode_steps(self.clips, self.context_frames)

        info: dict[str, Any] = {"step": self._steps.copy(), "_step": mask.copy()}
        if drawn.any():
            info["clip_index"], info["_clip_index"] = clip_index, drawn
        with_goal = mask & self._has_goal
        if with_goal.any():
            dist = np.zeros(n, dtype=np.float64)
            dist[with_goal] = -goal_reward(self._obs[with_goal], self._goals[with_goal])
            info["goal_distance"], info["_goal_distance"] = dist, with_goal
            info["is_success"] = with_goal & (dist < SUCCESS_DISTANCE)
            info["_is_success"] = with_goal.copy()
        return info
