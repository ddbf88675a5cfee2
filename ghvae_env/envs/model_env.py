"""``GHVAE-RoboNet-v0``: a world model (the bundled GHVAE by default) as a Gymnasium env.

The env talks to the model only through :class:`~ghvae_env.model.api.WorldModel`
(``start``, ``step``, ``config``): the GHVAE, the SVG' baseline or your own model.

Read top to bottom: errors and the goal reward -> option parsing (shared with the native
vector env in :mod:`ghvae_env.envs.vector`) -> starting a rollout -> the env.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from ghvae_env._device import model_device, resolve_device
from ghvae_env._threads import apply_threads
from ghvae_env.data.frames import to_float_chw, to_uint8_hwc
from ghvae_env.envs.assets import (
    HeldoutClips,
    load_clips,
    load_model_cached,
    warn_scene_mismatch,
)
from ghvae_env.model.api import ModelState, WorldModel, check_temperature
from ghvae_env.model.api import temperature_kwargs as api_temperature_kwargs
from ghvae_env.model.checkpoint import model_temperature
from ghvae_env.sim.env import MAX_EPISODE_STEPS
from ghvae_env.spaces import (
    ACTION_DIM,
    FRAME_SHAPE,
    InvalidActionError,
    action_space,
    observation_space,
    validate_actions,
)

__all__ = [
    "GHVAERoboNetEnv",
    "InvalidOptionError",
    "InvalidActionError",
    "goal_reward",
    "MAX_EPISODE_STEPS",
    "RESET_OPTIONS",
    "SUCCESS_DISTANCE",
]

RESET_OPTIONS = ("context_frames", "context_actions", "goal_image", "clip_index")
_SEED_HIGH = 2**63 - 1  # torch.Generator seeds are drawn from np_random in [0, 2**63 - 1)
# info["is_success"]: goal_distance (mean |obs - goal| / 255) below 5% of the pixel range.
# Bundled held-out clips start 0.045-0.10 from their last frame; rolled out under the clip's
# own actions the bundled model ends 0.05-0.11 from it, under random actions 0.06-0.10.
SUCCESS_DISTANCE = 0.05


class InvalidOptionError(ValueError):
    """A reset option or constructor argument the env refuses; the message names it."""


def goal_reward(achieved: np.ndarray, desired: np.ndarray) -> np.ndarray:
    """Negative mean absolute pixel distance in [0, 1] units: ``-mean|a - d| / 255``.

    achieved, desired: uint8 ``... x 64 x 64 x 3`` (broadcast over leading dims) -> float64
    ``...`` in [-1, 0]. Computed from integer sums, so it is exact and independent of the
    batch layout: the env's reward and a batched HER ``compute_reward`` agree bit for bit.
    """
    a, d = np.asarray(achieved), np.asarray(desired)
    for name, x in (("achieved_goal", a), ("desired_goal", d)):
        if x.dtype != np.uint8 or x.ndim < 3 or x.shape[-3:] != FRAME_SHAPE:
            raise ValueError(
                f"{name} must be uint8 ... x 64 x 64 x 3 images, actual value: "
                f"dtype {x.dtype} shape {x.shape}"
            )
    diff = np.abs(a.astype(np.int16) - d.astype(np.int16))
    total = diff.sum(axis=(-3, -2, -1), dtype=np.int64)
    return -(total / (255.0 * np.prod(FRAME_SHAPE)))


# ------------------------------------------------------------------------- options
@dataclass
class ResetRequest:
    """Validated reset options; arrays carry the leading ``lead`` dims (``()`` or ``(N,)``).

    context_frames: uint8 ``*lead x C x 64 x 64 x 3``; context_actions: float32
    ``*lead x (C-1) x 4`` clipped to [-1, 1]; goal_image: uint8 ``*lead x 64 x 64 x 3``;
    clip_index: int64 ``*lead``. Absent options are None.
    """

    context_frames: np.ndarray | None = None
    context_actions: np.ndarray | None = None
    goal_image: np.ndarray | None = None
    clip_index: np.ndarray | None = None


def _option_array(name: str, value: Any, single_ndim: int, lead: tuple[int, ...]) -> np.ndarray:
    """np.asarray(value), broadcast to ``lead`` when given for one env (vector envs)."""
    try:
        a = np.asarray(value)
    except Exception as e:  # ragged nested sequences and the like
        raise InvalidOptionError(
            f"options[{name!r}] must be an array, actual value: {type(value).__name__}"
        ) from e
    if lead and a.ndim == single_ndim:
        a = np.broadcast_to(a, lead + a.shape)
    return a


def _shape_text(lead: tuple[int, ...], tail: str) -> str:
    return f"({', '.join([f'num_envs={n}' for n in lead] + [tail])})"


def parse_reset_options(
    options: dict[str, Any] | None,
    *,
    lead: tuple[int, ...] = (),
    allowed: tuple[str, ...] = RESET_OPTIONS,
) -> ResetRequest:
    """Validate reset options without touching any env state. Errors name the option.

    With ``lead = (N,)`` (vector envs) each option is either one value for every env (the
    single-env shape) or a batch with a leading ``N`` dimension.
    """
    if options is None:
        return ResetRequest()
    if not isinstance(options, dict):
        raise InvalidOptionError(f"options must be a dict or None, actual value: {options!r}")
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise InvalidOptionError(
            f"options may only contain {list(allowed)}, actual value: unknown keys {unknown}"
        )
    req = ResetRequest()
    frames = options.get("context_frames")
    actions = options.get("context_actions")
    if frames is None and actions is not None:
        raise InvalidOptionError(
            "options['context_actions'] was given without options['context_frames']"
        )
    if frames is not None:
        if options.get("clip_index") is not None:
            raise InvalidOptionError(
                "options['clip_index'] and options['context_frames'] are exclusive: "
                "the context comes either from a held-out clip or from you"
            )
        req.context_frames, req.context_actions = _parse_context(frames, actions, lead)
    if options.get("goal_image") is not None:
        g = _option_array("goal_image", options["goal_image"], 3, lead)
        if g.dtype != np.uint8:
            raise InvalidOptionError(
                f"options['goal_image'] must be uint8, actual value: dtype {g.dtype}"
            )
        if g.shape != lead + FRAME_SHAPE:
            raise InvalidOptionError(
                f"options['goal_image'] must have shape {_shape_text(lead, '64, 64, 3')}, "
                f"actual value: shape {g.shape}"
            )
        req.goal_image = np.array(g, copy=True)
    if options.get("clip_index") is not None:
        c = _option_array("clip_index", options["clip_index"], 0, lead)
        if not np.issubdtype(c.dtype, np.integer) or c.shape != lead:
            raise InvalidOptionError(
                f"options['clip_index'] must be an int{' or int array of shape (num_envs,)' if lead else ''}, "
                f"actual value: {options['clip_index']!r}"
            )
        req.clip_index = np.array(c, dtype=np.int64, copy=True)
    return req


def _parse_context(
    frames: Any, actions: Any, lead: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    f = _option_array("context_frames", frames, 4, lead)
    if f.dtype != np.uint8:
        raise InvalidOptionError(
            f"options['context_frames'] must be uint8, actual value: dtype {f.dtype}"
        )
    n = len(lead)
    if f.ndim != n + 4 or f.shape[:n] != lead or f.shape[n + 1 :] != FRAME_SHAPE or f.shape[n] < 1:
        raise InvalidOptionError(
            f"options['context_frames'] must have shape {_shape_text(lead, 'C, 64, 64, 3')} "
            f"with C >= 1, actual value: shape {f.shape}"
        )
    c = f.shape[n]
    want = lead + (c - 1, ACTION_DIM)
    if actions is None:
        if c > 1:
            raise InvalidOptionError(
                f"options['context_actions'] of shape {_shape_text(lead, f'{c - 1}, {ACTION_DIM}')} "
                f"is required with {c} context frames, actual value: None"
            )
        a = np.zeros(want, dtype=np.float32)
    else:
        a = _option_array("context_actions", actions, 2, lead)
        if not np.issubdtype(a.dtype, np.floating):
            raise InvalidOptionError(
                f"options['context_actions'] must have a float dtype, actual value: dtype {a.dtype}"
            )
        if a.shape != want:
            raise InvalidOptionError(
                f"options['context_actions'] must have shape "
                f"{_shape_text(lead, f'{c - 1}, {ACTION_DIM}')} (one fewer than the "
                f"{c} context frames), actual value: shape {a.shape}"
            )
        if not np.all(np.isfinite(a)):
            raise InvalidOptionError(
                "options['context_actions'] must be finite, actual value: contains NaN or inf"
            )
        a = np.clip(a, -1.0, 1.0).astype(np.float32)
    return np.array(f, copy=True), a


def check_env_kwargs(
    *,
    context_frames: Any,
    render_mode: Any,
    sample: Any,
    goal_from_clip: Any,
    clips: Any,
    render_modes: list[str],
    temperature: Any = None,
) -> None:
    """Constructor checks shared by the single and the vector env (no file is read)."""
    if temperature is not None:
        try:
            check_temperature(temperature)
        except ValueError as err:
            raise InvalidOptionError(str(err)) from None
    if render_mode is not None and render_mode not in render_modes:
        raise InvalidOptionError(
            f"render_mode must be None or one of {render_modes}, actual value: {render_mode!r}"
        )
    if (
        not isinstance(context_frames, int)
        or isinstance(context_frames, bool)
        or context_frames < 1
    ):
        raise InvalidOptionError(
            f"context_frames must be an int >= 1, actual value: {context_frames!r}"
        )
    for name, value in (("sample", sample), ("goal_from_clip", goal_from_clip)):
        if not isinstance(value, bool):
            raise InvalidOptionError(f"{name} must be a bool, actual value: {value!r}")
    if clips is not None:
        if not isinstance(clips, str | os.PathLike):
            raise InvalidOptionError(f"clips must be a path or None, actual value: {clips!r}")
        if not Path(clips).is_file():
            raise FileNotFoundError(f"clips file not found: {clips}")


def resolve_temperature(model: WorldModel, temperature: float | None) -> float:
    """``temperature``, or for None the model's checkpoint's recorded one (else 1)."""
    return model_temperature(model) if temperature is None else float(temperature)


def temperature_kwargs(model: WorldModel, temperature: float) -> dict[str, Any]:
    """:func:`ghvae_env.model.api.temperature_kwargs` for ``model.step``, its TypeError an
    InvalidOptionError (the envs' error for a bad kwarg)."""
    try:
        return api_temperature_kwargs(model, temperature)
    except TypeError as err:
        raise InvalidOptionError(str(err)) from None


def check_clip_length(clips: HeldoutClips, context_frames: int) -> None:
    if clips.length < context_frames + 1:
        raise InvalidOptionError(
            f"context_frames={context_frames} needs clips of at least {context_frames + 1} frames "
            f"(context plus a goal frame), actual value: clips of {clips.length} frames in {clips.path}"
        )


def load_env_clips(path: str | None, context_frames: int, model: WorldModel) -> HeldoutClips:
    """The clips an env draws its contexts from: loaded (cached per process), long enough for
    ``context_frames``, and checked against the model's scene (one warning on a mismatch)."""
    clips = load_clips(path)
    check_clip_length(clips, context_frames)
    warn_scene_mismatch(model, clips)
    return clips


def check_clip_index(clips: HeldoutClips, index: np.ndarray) -> None:
    if np.any(index < 0) or np.any(index >= clips.num_clips):
        raise InvalidOptionError(
            f"options['clip_index'] must be in [0, {clips.num_clips}) ({clips.path}), "
            f"actual value: {index.tolist()}"
        )


def resolve_model(
    model: WorldModel | None, checkpoint: str | os.PathLike | None, device: str | torch.device
) -> tuple[WorldModel, torch.device]:
    """The env's model and device: ``model`` as given (on its own device when ``device`` is
    "auto"), or the checkpoint (None: the bundled one) loaded once per process on ``device``."""
    if model is None:
        dev = resolve_device(device)
        return load_model_cached(checkpoint, dev), dev
    if checkpoint is not None:
        raise InvalidOptionError(
            f"pass either checkpoint or model, not both, actual value: checkpoint={checkpoint!r}"
        )
    if not isinstance(model, WorldModel):
        raise InvalidOptionError(
            "model must implement ghvae_env.model.api.WorldModel (model_type, config, start, "
            f"step, rollout), actual value: a {type(model).__name__}"
        )
    want = {"image_size": FRAME_SHAPE[0], "image_channels": FRAME_SHAPE[2]}
    want["action_dim"] = ACTION_DIM
    for name, value in want.items():
        if getattr(model.config, name) != value:
            raise InvalidOptionError(
                f"model.config.{name} must be {value} (the env's spaces), actual value: "
                f"{getattr(model.config, name)!r}"
            )
    dev = model_device(model) if device == "auto" else resolve_device(device)
    return model, dev


# ------------------------------------------------------------------------- rollout start
def start_rollout(
    model: WorldModel, frames: np.ndarray, actions: np.ndarray, device: torch.device
) -> ModelState:
    """Consume contexts: uint8 ``B x C x 64 x 64 x 3`` frames, float32 ``B x (C-1) x 4`` actions.

    ``model.start`` returns a complete state (the protocol), so vector envs can merge states
    of different resets with ``state.assign``.
    """
    frames = frames if frames.flags.writeable else frames.copy()  # clips are read-only
    ctx = to_float_chw(frames, device)  # (B, C, 3, 64, 64)
    return model.start(ctx, torch.tensor(actions, dtype=torch.float32, device=device))


def draw_seed(rng: np.random.Generator) -> int:
    return int(rng.integers(0, _SEED_HIGH))


def clip_episode_steps(clips: HeldoutClips, context_frames: int) -> int:
    """Steps from the last context frame to the clip's last frame (the goal): ``L - C``."""
    return clips.length - context_frames


def _goal_info(obs: np.ndarray, goal: np.ndarray) -> dict[str, Any]:
    distance = -float(goal_reward(obs, goal))
    return {"goal_distance": distance, "is_success": distance < SUCCESS_DISTANCE}


# ------------------------------------------------------------------------- the env
class GHVAERoboNetEnv(gym.Env[np.ndarray, np.ndarray]):
    """The GHVAE world model trained on the tabletop scene, imagined one frame per step.

    ## Description
    An action-conditioned video-prediction model (Greedy Hierarchical VAE, Wu et al. 2021)
    stands in for the robot: each ``step(action)`` samples the deepest latent z^K from the
    learned prior and decodes the next 64x64 camera frame (one ``GHVAE.step``; the recurrent
    state carries the past, no history is re-run). The spaces are those of
    ``RoboNet-Sim-v0``, the simulator the training data came from, so a policy or planner
    moves between the imagined and the simulated env unchanged.

    ## Action Space
    ``Box(-1, 1, (4,), float32)``: end-effector displacement request along x, y, z and the
    gripper (``> 0`` close), as in ``RoboNet-Sim-v0``. Values outside [-1, 1] are clipped;
    wrong shapes, non-float dtypes, NaN or inf raise
    :class:`~ghvae_env.sim.env.InvalidActionError` (a ``ValueError``) and leave the env
    untouched.

    ## Observation Space
    ``Box(0, 255, (64, 64, 3), uint8)``: the imagined frame, channel-last RGB, upright, a
    fresh array on every call. ``reset`` returns the last context frame.

    ## Rewards
    Goal reaching. By default (``goal_from_clip=True``) the goal is a real future frame: the
    last frame of the held-out clip the context came from, which the recorded trajectory
    reached ``L - context_frames`` steps after the context (L: clip length, 30 for the bundled
    clips, so 28 steps). ``options["goal_image"]`` replaces it with your own image. The
    reward is the negative mean absolute pixel distance between the observation and the
    goal, in [0, 1] pixel units: ``-mean|obs - goal| / 255`` in [-1, 0]
    (:func:`goal_reward`; ``info["goal_distance"]`` is its negation). Without a goal
    (``goal_from_clip=False`` and no ``goal_image``) the reward is ``0.0``.

    ## Starting State
    The model consumes ``context_frames`` frames (and the actions between them) before the
    first step. Without options they are the first ``context_frames`` frames/actions of a
    clip drawn with ``self.np_random`` from the held-out clips (``clips``; the bundled
    ``ghvae_env/assets/heldout_clips.npz`` by default). ``reset(options=...)`` accepts:

    * ``context_frames``: uint8 ``C x 64 x 64 x 3`` (any C >= 1) and ``context_actions``:
      float ``(C-1) x 4`` (required when C > 1; clipped to [-1, 1]), your own context;
    * ``clip_index``: int, use that held-out clip instead of a random one;
    * ``goal_image``: uint8 ``64 x 64 x 3``, the goal of the reward above.

    Invalid options raise :class:`InvalidOptionError` naming the option; the env is left as
    it was. All randomness comes from ``self.np_random``: after the clip draw, ``reset``
    draws a seed for the ``torch.Generator`` (on the model's device) that samples z^K.
    Stepping is bit-for-bit reproducible under the same seed on CPU, across processes, for a
    fixed ``torch.get_num_threads()`` (another thread count may move a pixel by 1/255).

    ## Episode End
    Never terminates. With ``goal_from_clip=True`` (the default) and a context drawn from a
    clip, the episode is truncated when the clip ends: after ``L - context_frames`` steps
    (10 with the bundled clips), the step at which the observation should show the goal
    frame. Goal and truncation thus line up. The registered env has no ``TimeLimit``
    (``max_episode_steps=None``): ``gym.make(..., max_episode_steps=n)`` adds one (the
    episode then ends at whichever comes first). With your own ``context_frames``, or
    ``goal_from_clip=False``, there is no clip end: only a ``TimeLimit`` truncates.
    Predictions blur as the rollout goes beyond the model's training horizon
    (``model.config.horizon`` steps).

    ## Info
    ``step``: steps since reset; ``clip_index``: the held-out clip the context came from
    (absent for your own context); when a goal is set, ``goal_distance`` (float, the negated
    reward) and ``is_success`` (bool, ``goal_distance < SUCCESS_DISTANCE`` = 0.05, i.e. the
    frame is on average within 5% of the pixel range of the goal).

    ## Arguments
    * ``checkpoint``: path of a model checkpoint (any registered ``model_type``: GHVAE,
      SVG'); ``None`` is the bundled ``ghvae_tabletop_cpu-small.pt``. Loaded once per process
      per (file, device).
    * ``model``: instead of ``checkpoint``, a model object implementing
      :class:`~ghvae_env.model.api.WorldModel` (README, "Your own model"); with
      ``device="auto"`` it stays on its own device.
    * ``clips``: path of a clips ``.npz`` (``frames`` uint8 N x L x 64 x 64 x 3, ``actions``
      float32 N x (L-1) x 4); ``None`` is the bundled one. Read on the first reset that
      needs it.
    * ``device``: ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda:N"``.
    * ``context_frames``: frames taken from a clip as context (default 2, as in training).
    * ``render_mode``: ``None`` or ``"rgb_array"`` (``render()`` returns the current frame).
    * ``sample``: ``True`` samples z^K from the prior; ``False`` uses the prior mean (a
      deterministic, blurrier rollout).
    * ``temperature``: scales the sampled noise, z^K = mean + temperature * std * eps
      (1: the prior as trained; 0: the prior mean; in between, sharper samples that still
      vary). ``None`` (default): the value the checkpoint records
      (:func:`~ghvae_env.model.checkpoint.set_sampling_temperature`), else 1; the bundled
      checkpoint records none (its prior is calibrated: RESULTS.md "Sampling temperature").
      Needs a model whose ``step`` takes it when not 1 (the GHVAE and SVG' do).
    * ``goal_from_clip``: ``True`` (default): when the context is drawn from a clip and no
      ``goal_image`` is given, the clip's last frame is the goal (a frame the held-out
      trajectory reached), and the episode is truncated when the clip ends. ``False``: no
      goal unless ``options["goal_image"]``, no clip-end truncation.
    * ``threads``: torch intra-op threads, set process-wide (``torch.set_num_threads``) on a
      CPU device; ``None`` applies ``ghvae_env._threads``' policy (1 for a single env; for
      ``make_vec``, the usable cores minus those other processes keep busy). An int outside
      [1, usable cores] raises ``ThreadsError`` (a ``ValueError``) naming the value.

    ```python
    import gymnasium as gym
    import ghvae_env

    env = gym.make("GHVAE-RoboNet-v0")
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    # reward = -info["goal_distance"]; truncated after 28 steps, when the clip ends
    venv = gym.make_vec("GHVAE-RoboNet-v0", num_envs=64)  # one batched model step per step
    ```

    ## Version History
    * v0: initial version (GHVAE cpu-small checkpoint, 64x64 frames, 4-dim actions). The
      default became goal reaching (``goal_from_clip=True``, ``info["is_success"]``,
      truncation at the clip's end instead of a 30-step ``TimeLimit``).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(
        self,
        checkpoint: str | os.PathLike | None = None,
        clips: str | os.PathLike | None = None,
        device: str | torch.device = "auto",
        context_frames: int = 2,
        render_mode: str | None = None,
        sample: bool = True,
        goal_from_clip: bool = True,
        threads: int | None = None,
        model: WorldModel | None = None,
        temperature: float | None = None,
    ) -> None:
        check_env_kwargs(
            context_frames=context_frames,
            render_mode=render_mode,
            sample=sample,
            goal_from_clip=goal_from_clip,
            clips=clips,
            render_modes=self.metadata["render_modes"],
            temperature=temperature,
        )
        self.render_mode = render_mode
        self.context_frames = context_frames
        self.sample = sample
        self.goal_from_clip = goal_from_clip
        self.model, self.device = resolve_model(model, checkpoint, device)
        self.temperature = resolve_temperature(self.model, temperature)
        self._temperature = temperature_kwargs(self.model, self.temperature)
        # torch threads (process-wide): threads, or the policy of ghvae_env._threads
        self.threads = apply_threads(threads, batch=1, device=self.device)
        self.observation_space = observation_space()
        self.action_space = action_space()
        self._clips_path = clips
        self._clips: HeldoutClips | None = None
        self._generator = torch.Generator(device=self.device)
        self._state: ModelState | None = None
        self._obs: np.ndarray | None = None
        self._goal: np.ndarray | None = None
        self._steps = 0
        self._episode_steps: int | None = None  # clip-end truncation; None: no clip end

    # ------------------------------------------------------------------ gym API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        # Validate (and load the clips) before reseeding, so a refused reset changes nothing.
        req = parse_reset_options(options)
        clips = self.clips if req.context_frames is None else None
        if clips is not None and req.clip_index is not None:
            check_clip_index(clips, req.clip_index)
        super().reset(seed=seed)

        clip_index: int | None = None
        if clips is not None:
            if req.clip_index is not None:
                clip_index = int(req.clip_index)
            else:
                clip_index = int(self.np_random.integers(clips.num_clips))
            frames = clips.frames[clip_index, : self.context_frames]
            actions = clips.actions[clip_index, : self.context_frames - 1]
        else:
            frames, actions = req.context_frames, req.context_actions
        self._generator.manual_seed(draw_seed(self.np_random))
        state = start_rollout(self.model, frames[None], actions[None], self.device)

        if req.goal_image is not None:
            goal = req.goal_image
        elif self.goal_from_clip and clips is not None and clip_index is not None:
            goal = np.array(clips.frames[clip_index, -1])
        else:
            goal = None
        self._state, self._goal, self._steps = state, goal, 0
        self._episode_steps = (
            clip_episode_steps(clips, self.context_frames)
            if self.goal_from_clip and clips is not None
            else None
        )
        self._obs = np.array(frames[-1])
        info: dict[str, Any] = {"step": 0}
        if clip_index is not None:
            info["clip_index"] = clip_index
        if goal is not None:
            info.update(_goal_info(self._obs, goal))
        return self._obs.copy(), info

    @torch.no_grad()
    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._state is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        a = validate_actions(action)  # clipped float64 (4,), raises InvalidActionError
        a_t = torch.as_tensor(a, dtype=torch.float32, device=self.device)[None]  # (1, 4)
        frame, self._state = self.model.step(
            self._state, a_t, generator=self._generator, sample=self.sample, **self._temperature
        )
        self._obs = to_uint8_hwc(frame)[0]  # (64, 64, 3)
        self._steps += 1
        info: dict[str, Any] = {"step": self._steps}
        reward = 0.0
        if self._goal is not None:
            info.update(_goal_info(self._obs, self._goal))
            reward = -info["goal_distance"]
        truncated = self._episode_steps is not None and self._steps >= self._episode_steps
        return self._obs.copy(), reward, False, truncated, info

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            gym.logger.warn(
                "render() called without a render_mode; make the env with "
                'render_mode="rgb_array" to get frames'
            )
            return None
        if self._obs is None:
            raise gym.error.ResetNeeded("call reset() before render()")
        return self._obs.copy()

    def close(self) -> None:
        self._state = None  # the model stays in the per-process cache for other envs
        super().close()

    # ---------------------------------------------------------------- extras
    @property
    def clips(self) -> HeldoutClips:
        """The held-out context clips (read-only arrays), loaded on first use."""
        if self._clips is None:
            self._clips = load_env_clips(self._clips_path, self.context_frames, self.model)
        return self._clips

    @property
    def goal_image(self) -> np.ndarray | None:
        """The current goal (a copy), or None."""
        return None if self._goal is None else self._goal.copy()

    def set_goal(self, goal_image: np.ndarray | None) -> None:
        """Set (uint8 64 x 64 x 3) or clear (None) the goal of the reward mid-episode."""
        self._goal = parse_reset_options({"goal_image": goal_image}).goal_image
