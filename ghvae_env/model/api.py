"""The world-model contract: what the envs, the planner and the benchmarks ask of a model.

A world model predicts 64x64 RGB frames from context frames and 4-dim actions (DESIGN.md).
It implements :class:`WorldModel`:

* ``model_type``: the name its checkpoints carry (``"ghvae"``, ``"svg-prime"``, yours);
* ``config``: a :class:`ModelConfig` (image size and channels, action size, training horizon);
* ``start(context_frames B x C x 3 x 64 x 64, context_actions B x (C-1) x A) -> state``: consume
  the context and return a *complete* :class:`ModelState` (every recurrent tensor present,
  so that vector envs can merge states of different batches);
* ``step(state, action B x A, generator=None, sample=True) -> (frame B x 3 x 64 x 64, state)``:
  one imagined frame in [0, 1]; ``sample=False`` is the deterministic (mean) prediction;
* ``rollout(context_frames, actions B x (C-1+H) x A, num_samples=1, generator=None,
  sample=True)``:
  ``B x H x 3 x 64 x 64`` (``B x N x H x ...`` for N samples); :func:`rollout_by_steps` is
  the shared implementation on top of ``start`` and ``step``.
* optionally a ``temperature`` keyword on ``step`` and ``rollout`` (the GHVAE and SVG' have
  it): latent samples ``mean + temperature * std * eps``, 1 the model's own distribution, 0
  its mean. Callers pass it only when it is not 1 (:func:`accepts_temperature`), so a model
  without it still works everywhere at the default.

Checkpoints record ``model_type``; :func:`model_class` maps it to the class through
:data:`MODEL_TYPES`, which holds import paths, not classes, so this file imports no model
(no import cycle). :func:`register_model_type` adds your own.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import math
from typing import Any, Protocol, runtime_checkable

import torch

__all__ = [
    "MODEL_TYPES",
    "accepts_temperature",
    "check_temperature",
    "temperature_kwargs",
    "ModelConfig",
    "ModelState",
    "WorldModel",
    "check_context",
    "check_rollout_inputs",
    "model_class",
    "register_model_type",
    "rollout_by_steps",
]


@runtime_checkable
class ModelConfig(Protocol):
    """What the envs and the planner read from a model's config (a frozen dataclass)."""

    image_size: int  # 64
    image_channels: int  # 3
    action_dim: int  # 4
    context_frames: int  # context the model was trained with
    horizon: int  # steps it was trained to predict (predictions blur beyond)

    def to_dict(self) -> dict[str, Any]: ...


@runtime_checkable
class ModelState(Protocol):
    """A batch of recurrent states: ``B`` rows, subset and overwritten by the vector env."""

    frame: torch.Tensor  # x_t, B x 3 x 64 x 64

    def index(self, idx: torch.Tensor | slice | list[int]) -> ModelState: ...

    def assign(self, idx: torch.Tensor, other: ModelState) -> None: ...


@runtime_checkable
class WorldModel(Protocol):
    """An action-conditioned video model (see the module docstring for shapes)."""

    model_type: str
    config: ModelConfig

    def start(
        self, context_frames: torch.Tensor, context_actions: torch.Tensor | None = None
    ) -> ModelState: ...

    def step(
        self,
        state: ModelState,
        action: torch.Tensor,
        generator: torch.Generator | None = None,
        sample: bool = True,
    ) -> tuple[torch.Tensor, ModelState]: ...

    def rollout(
        self,
        context_frames: torch.Tensor,
        actions: torch.Tensor,
        num_samples: int = 1,
        generator: torch.Generator | None = None,
        sample: bool = True,
    ) -> torch.Tensor: ...


# ----------------------------------------------------------------------------- registry
# model_type -> "module:Class". The class has a ``config_class`` with ``from_dict``.
MODEL_TYPES: dict[str, str] = {
    "ghvae": "ghvae_env.model.ghvae:GHVAE",
    "svg-prime": "ghvae_env.baselines.svg_prime:SVGPrime",
}


def register_model_type(name: str, target: str | type) -> None:
    """Make checkpoints of ``model_type == name`` loadable: ``target`` is the class or its
    ``"module:Class"`` path (imported when first needed)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"model type name must be a non-empty str, actual value: {name!r}")
    if isinstance(target, type):
        target = f"{target.__module__}:{target.__qualname__}"
    if not isinstance(target, str) or ":" not in target:
        raise ValueError(f"target must be a class or 'module:Class', actual value: {target!r}")
    MODEL_TYPES[name] = target


def model_class(name: str) -> type:
    """The class registered for ``name``; KeyError naming the known types otherwise."""
    if name not in MODEL_TYPES:
        raise KeyError(f"unknown model_type {name!r}; known: {sorted(MODEL_TYPES)}")
    module, _, qualname = MODEL_TYPES[name].partition(":")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


# ----------------------------------------------------------------------------- checks
def _check_frames(cfg: ModelConfig, frames: torch.Tensor) -> None:
    if not isinstance(frames, torch.Tensor) or not frames.is_floating_point():
        raise TypeError(
            f"context_frames must be a float tensor in [0, 1], got {type(frames).__name__} "
            f"{getattr(frames, 'dtype', '')}"
        )
    shape = (cfg.image_channels, cfg.image_size, cfg.image_size)
    if frames.ndim != 5 or tuple(frames.shape[2:]) != shape or frames.shape[1] < 1:
        raise ValueError(
            f"context_frames must be B x C x {' x '.join(map(str, shape))} with C >= 1, "
            f"actual shape: {tuple(frames.shape)}"
        )


def check_context(cfg: ModelConfig, frames: torch.Tensor, actions: torch.Tensor | None) -> None:
    """``start``'s inputs: frames B x C x 3 x 64 x 64 float (C >= 1), actions B x (C-1) x A
    (required when C > 1). Raises TypeError / ValueError naming the argument."""
    _check_frames(cfg, frames)
    B, C = frames.shape[:2]
    if actions is None:
        if C > 1:
            raise ValueError(
                f"{C} context frames need context_actions B x {C - 1} x {cfg.action_dim} "
                "(the actions between them), actual value: None"
            )
        return
    if not isinstance(actions, torch.Tensor) or not actions.is_floating_point():
        raise TypeError(
            f"context_actions must be a float tensor, got {type(actions).__name__} "
            f"{getattr(actions, 'dtype', '')}"
        )
    if tuple(actions.shape) != (B, C - 1, cfg.action_dim):
        raise ValueError(
            f"context_actions must be B x (C-1) x {cfg.action_dim} = "
            f"{(B, C - 1, cfg.action_dim)}, actual shape: {tuple(actions.shape)}"
        )


def check_rollout_inputs(
    cfg: ModelConfig, frames: torch.Tensor, actions: torch.Tensor, num_samples: int
) -> None:
    """``rollout``'s inputs (see :class:`WorldModel`). Errors name the argument."""
    _check_frames(cfg, frames)
    if not isinstance(actions, torch.Tensor) or not actions.is_floating_point():
        raise TypeError(
            f"actions must be a float tensor, got {type(actions).__name__} {getattr(actions, 'dtype', '')}"
        )
    B, C = frames.shape[:2]
    if (
        actions.ndim != 3
        or actions.shape[0] != B
        or actions.shape[2] != cfg.action_dim
        or actions.shape[1] < C
    ):
        raise ValueError(
            f"actions must be B x (C-1+H) x {cfg.action_dim} with B={B}, C={C}, H >= 1, "
            f"actual shape: {tuple(actions.shape)}"
        )
    if not torch.isfinite(actions).all():
        raise ValueError("actions contain NaN or inf")
    if not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"num_samples must be an int >= 1, actual value: {num_samples!r}")


def check_temperature(temperature: Any) -> float:
    """The latent sampling temperature as a float: a finite real >= 0 (1: the model's own
    prior, 0: its mean); ValueError naming the value otherwise."""
    ok = isinstance(temperature, int | float) and not isinstance(temperature, bool)
    if not ok or not math.isfinite(temperature) or temperature < 0:
        raise ValueError(
            f"temperature must be a finite float >= 0 (1: sample the prior as trained, 0: its "
            f"mean), actual value: {temperature!r}"
        )
    return float(temperature)


def accepts_temperature(model: Any, method: str = "step") -> bool:
    """``model.<method>`` (``step`` or ``rollout``) takes a ``temperature`` keyword (see the
    module docstring)."""
    fn = getattr(model, method, None)
    if fn is None:
        return False
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "temperature" in params or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()
    )


def temperature_kwargs(model: Any, temperature: float, method: str = "step") -> dict[str, Any]:
    """The keyword a caller passes to ``model.<method>``: none at 1 (a model without the
    keyword works), ``{"temperature": T}`` otherwise; TypeError when ``model.<method>`` does
    not take it. ``temperature`` must already be valid (:func:`check_temperature`)."""
    if temperature == 1.0:
        return {}
    if not accepts_temperature(model, method):
        raise TypeError(
            f"temperature={temperature} needs a model whose {method}() takes a temperature "
            f"keyword; {type(model).__name__}.{method} does not"
        )
    return {"temperature": float(temperature)}


@torch.no_grad()
def rollout_by_steps(
    model: WorldModel,
    context_frames: torch.Tensor,
    actions: torch.Tensor,
    num_samples: int = 1,
    generator: torch.Generator | None = None,
    sample: bool = True,
    temperature: float = 1.0,
) -> torch.Tensor:
    """``rollout`` of any :class:`WorldModel` from its ``start`` and ``step``
    (``sample=False``: every step decodes the prior's mean; ``temperature`` scales the
    latent noise of a sampled step and is passed to ``step`` only when it is not 1)."""
    check_rollout_inputs(model.config, context_frames, actions, num_samples)
    extra = temperature_kwargs(model, check_temperature(temperature))
    B, C = context_frames.shape[:2]
    H = actions.shape[1] - (C - 1)
    if num_samples > 1:  # (B, ...) -> (B*N, ...), sample n of clip b at row b*N + n
        context_frames = context_frames.repeat_interleave(num_samples, 0)
        actions = actions.repeat_interleave(num_samples, 0)
    ctx_actions = actions[:, : C - 1]
    if B > 1 and _broadcast_rows(context_frames) and _broadcast_rows(ctx_actions):
        # the planner's candidates share one context: consume it once
        # and broadcast the state (~7 % of a VP2 planning step's FLOPs were these copies)
        rows = context_frames.shape[0]  # B * num_samples
        state = _expand_rows(model.start(context_frames[:1], ctx_actions[:1]), rows)
    else:
        state = model.start(context_frames, ctx_actions)
    out = []
    for t in range(H):
        frame, state = model.step(state, actions[:, C - 1 + t], generator, sample=sample, **extra)
        out.append(frame)
    pred = torch.stack(out, 1)  # (B*N, H, 3, 64, 64)
    return pred.unflatten(0, (B, num_samples)) if num_samples > 1 else pred


def _broadcast_rows(x: torch.Tensor) -> bool:
    """Every row of ``x`` equals the first (an expand, stride 0, or equal values)."""
    return x.numel() == 0 or x.stride(0) == 0 or torch.equal(x, x[:1].expand_as(x))


def _expand_rows(state: Any, n: int) -> Any:
    """A batch-1 model state (dataclass of tensors, lists and tuples of them) broadcast to
    ``n`` rows without copies; ``step`` writes fresh tensors, never into these."""
    if isinstance(state, torch.Tensor):
        return state.expand(n, *state.shape[1:])
    if isinstance(state, (list, tuple)):
        return type(state)(_expand_rows(s, n) for s in state)
    if state is None:
        return None
    if dataclasses.is_dataclass(state):
        return dataclasses.replace(
            state,
            **{f.name: _expand_rows(getattr(state, f.name), n) for f in dataclasses.fields(state)},
        )
    raise TypeError(f"cannot broadcast a model state of type {type(state).__name__}")
