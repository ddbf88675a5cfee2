"""The spaces every env of the package shares (DESIGN.md), their sizes and the one action check.

* observation: ``Box(0, 255, (64, 64, 3), uint8)``, channel-last RGB, upright;
* action: ``Box(-1, 1, (4,), float32)``: end-effector dx, dy, dz (OSC_POSITION) and gripper.

The imagined env (``GHVAE-RoboNet-v0``), its vector env and the simulator
(``RoboNet-Sim-v0``) build their spaces here and validate actions with
:func:`validate_actions`, so a policy moves between them unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

__all__ = [
    "ACTION_DIM",
    "FRAME_SHAPE",
    "InvalidActionError",
    "action_space",
    "observation_space",
    "validate_actions",
]

FRAME_SHAPE = (64, 64, 3)  # DESIGN.md: channel-last RGB observations
ACTION_DIM = 4  # DESIGN.md: eef dx, dy, dz, gripper (the seed's 4-dim robot action space)


class InvalidActionError(ValueError):
    """An action of the wrong shape or dtype, or with NaN/inf; the env is left untouched."""


def observation_space() -> spaces.Box:
    return spaces.Box(0, 255, FRAME_SHAPE, np.uint8)


def action_space() -> spaces.Box:
    return spaces.Box(-1.0, 1.0, (ACTION_DIM,), np.float32)


def validate_actions(action: Any, num_envs: int | None = None) -> np.ndarray:
    """Check an action (``num_envs=None``: shape ``(4,)``) or a batch (``(num_envs, 4)``) and
    return it clipped to [-1, 1] as a new array (float64 for one action, as the simulator
    takes it; float32 for a batch, as the model takes it). Raises :class:`InvalidActionError`
    naming the problem (shape, dtype, NaN/inf, and for a batch which envs)."""
    shape = (ACTION_DIM,) if num_envs is None else (num_envs, ACTION_DIM)
    name = "action" if num_envs is None else "actions"
    try:
        a = np.asarray(action)
    except Exception as e:  # ragged sequences and the like
        raise InvalidActionError(
            f"{name} must be a float array of shape {shape}, actual value: {action!r}"
        ) from e
    if not np.issubdtype(a.dtype, np.floating):
        raise InvalidActionError(f"{name} must have a float dtype, actual value: dtype {a.dtype}")
    if a.shape != shape:
        raise InvalidActionError(f"{name} must have shape {shape}, actual value: shape {a.shape}")
    bad = ~np.isfinite(a.reshape(-1, ACTION_DIM)).all(axis=1)
    if bad.any():
        where = (
            a.tolist() if num_envs is None else f"NaN or inf in envs {np.flatnonzero(bad).tolist()}"
        )
        raise InvalidActionError(f"{name} must be finite, actual value: {where}")
    return np.clip(a.astype(np.float64 if num_envs is None else np.float32), -1.0, 1.0)
