"""The visual-MPC agent: plan in the model, execute the first action(s), replan.

The agent sees what an env user sees -- the last ``C`` uint8 observations, the ``C-1`` actions
between them and a goal image -- converts them once (:mod:`ghvae_env.data.frames`) and hands
them to a :class:`~ghvae_env.planning.planners.Planner`. It replans every
``config.replan_every`` steps and executes its stored plan in between; with
``config.warm_start`` each new plan starts from the previous mean shifted by the executed steps.
"""

from __future__ import annotations

import time
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from ghvae_env.data.frames import to_float_chw
from ghvae_env.model.api import WorldModel
from ghvae_env.planning.config import PlannerConfig
from ghvae_env.planning.costs import CostFn
from ghvae_env.planning.planners import Planner, PlanResult

__all__ = ["Policy", "VisualMPCAgent", "check_policy_inputs"]


@runtime_checkable
class Policy(Protocol):
    """What :func:`~ghvae_env.planning.tasks.run_episode` drives: the agent and the baselines."""

    def reset(self, seed: int | None = None) -> None: ...

    def act(
        self, frames: np.ndarray, actions: np.ndarray, goal_image: np.ndarray
    ) -> np.ndarray: ...


def check_policy_inputs(
    frames: np.ndarray, actions: np.ndarray, goal_image: np.ndarray, action_dim: int = 4
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate ``act`` inputs; returns them as arrays (frames and goal uint8, actions float32).

    frames: ``C x 64 x 64 x 3`` uint8 (C >= 1, oldest first); actions: ``(C-1) x action_dim``;
    goal_image: ``64 x 64 x 3`` uint8.
    """
    frames = np.asarray(frames)
    goal_image = np.asarray(goal_image)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) < 1:
        raise ValueError(
            f"frames must be uint8 C x H x W x 3 with C >= 1, actual value: dtype {frames.dtype} "
            f"shape {frames.shape}"
        )
    if goal_image.dtype != np.uint8 or goal_image.shape != frames.shape[1:]:
        raise ValueError(
            f"goal_image must be uint8 {' x '.join(map(str, frames.shape[1:]))} like one frame, "
            f"actual value: dtype {goal_image.dtype} shape {goal_image.shape}"
        )
    try:
        acts = np.asarray(actions, dtype=np.float32).reshape(-1, action_dim)
    except ValueError as e:
        raise ValueError(
            f"actions must have shape ({len(frames) - 1}, {action_dim}), actual value: "
            f"shape {np.shape(actions)}"
        ) from e
    if acts.shape != (len(frames) - 1, action_dim) or not np.all(np.isfinite(acts)):
        raise ValueError(
            f"actions must be finite with shape ({len(frames) - 1}, {action_dim}) (one per "
            f"transition between frames), actual value: shape {np.shape(actions)}"
        )
    return frames, acts, goal_image


class VisualMPCAgent:
    """Model-predictive control from pixels (Visual Foresight; seed section 4, "Real Robot
    Performance": a 64 x 64 goal image, 2 context frames, 10 planned actions).

    Args:
        model: a world model with the ``rollout`` API (:class:`~ghvae_env.model.GHVAE`,
            :class:`~ghvae_env.planning.tasks.SimulatorModel`, ...).
        config: planner settings (default :class:`PlannerConfig`).
        cost_fn: custom ``(pred B x H x 3 x 64 x 64, goal 3 x 64 x 64) -> B`` costs.
        device: planning device (default: the model's).
        imagine: also roll out MPPI's final mean so that :attr:`last_plan` carries its
            imagined frames (CEM and random shooting always do, for free).

    Attributes:
        last_plan: the most recent :class:`PlanResult` (``None`` before the first plan).
        replanned: whether the last :meth:`act` call planned.
        stats: ``plans``, ``plan_time_s`` and ``model_time_s`` summed since :meth:`reset`.

    ```python
    agent = VisualMPCAgent(load_model(), PlannerConfig(num_samples=64))
    agent.reset(seed=0)
    action = agent.act(frames, actions, goal_image)  # (C,64,64,3) u8, (C-1,4), (64,64,3) u8
    ```
    """

    def __init__(
        self,
        model: WorldModel,
        config: PlannerConfig | None = None,
        cost_fn: CostFn | None = None,
        device: torch.device | str | None = None,
        imagine: bool = False,
    ) -> None:
        self.planner = Planner(model, config, cost_fn=cost_fn, device=device)
        self.config = self.planner.config
        self.imagine = bool(imagine)
        self.last_plan: PlanResult | None = None
        self.replanned = False
        self.stats: dict[str, float] = {}
        self._plan: np.ndarray | None = None  # (H, A) actions being executed
        self._mean: np.ndarray | None = None  # (H, A) sampling mean of the last plan
        self._executed = 0  # actions of the current plan already returned
        self.reset(self.config.seed)

    @property
    def model(self) -> WorldModel:
        return self.planner.model

    def reset(self, seed: int | None = None) -> None:
        """Forget the current plan and statistics; reseed the planner (None: fresh entropy)."""
        self.planner.reset(seed)
        self._plan = self._mean = None
        self._executed = 0
        self.last_plan = None
        self.replanned = False
        self.stats = {"plans": 0, "plan_time_s": 0.0, "model_time_s": 0.0}

    def _needs_plan(self) -> bool:
        return (
            self._plan is None
            or self._executed >= self.config.replan_every
            or self._executed >= len(self._plan)
        )

    def _shift(self, plan: np.ndarray) -> np.ndarray:
        """``... x H x A`` shifted by the executed steps, padded with the box centre or (
        ``warm_start_pad="last"``, VP2) the plan's last action."""
        k = self._executed
        if k == 0:
            return plan.copy()
        if self.config.warm_start_pad == "last":
            pad = np.repeat(plan[..., -1:, :], k, axis=-2)
        else:
            pad = np.broadcast_to(self.planner.centre, (*plan.shape[:-2], k, plan.shape[-1]))
        return np.concatenate([plan[..., k:, :], pad], axis=-2)

    def _warm_start(self) -> np.ndarray | None:
        """The previous mean shifted by the executed steps (H x A), or None."""
        if not self.config.warm_start or self._mean is None:
            return None
        return self._shift(self._mean)

    def _warm_elites(self) -> np.ndarray | None:
        """iCEM: the previous step's elites shifted by the executed steps (K x H x A)."""
        plan = self.last_plan
        if not self.config.warm_start or plan is None or plan.elites is None:
            return None
        return self._shift(plan.elites)

    def set_task(self, task: Any) -> None:
        """Hand the task to a model that needs it (the simulator oracle's state cost);
        :func:`~ghvae_env.planning.tasks.run_episode` calls this before the first step."""
        hook = getattr(self.model, "set_task", None)
        if callable(hook):
            hook(task)

    @torch.no_grad()
    def act(self, frames: np.ndarray, actions: np.ndarray, goal_image: np.ndarray) -> np.ndarray:
        """Next action ``(A,)`` float32 for the context ``frames`` (C x 64 x 64 x 3 uint8),
        the ``(C-1) x A`` ``actions`` between them and ``goal_image`` (64 x 64 x 3 uint8)."""
        frames, acts, goal_image = check_policy_inputs(
            frames, actions, goal_image, self.config.action_dim
        )
        self.replanned = self._needs_plan()
        if self.replanned:
            t0 = time.perf_counter()
            result = self.planner.plan(
                to_float_chw(frames),  # (C, 3, 64, 64)
                torch.from_numpy(acts),
                to_float_chw(goal_image),  # (3, 64, 64)
                init_mean=self._warm_start(),
                imagine=self.imagine,
                init_elites=self._warm_elites(),
            )
            self.last_plan = result
            self._plan, self._mean, self._executed = result.actions, result.mean, 0
            self.stats["plans"] += 1
            self.stats["plan_time_s"] += time.perf_counter() - t0
            self.stats["model_time_s"] += result.model_time_s
        assert self._plan is not None
        action = self._plan[self._executed].astype(np.float32, copy=True)
        self._executed += 1
        return action

    @property
    def plan_step(self) -> int:
        """Index into ``last_plan`` of the action :meth:`act` returned last (0 after a replan)."""
        return self._executed - 1

    def describe(self) -> dict[str, Any]:
        """JSON-serialisable description (config and planner class) for result files."""
        return {"policy": "visual-mpc", "model": type(self.model).__name__, **self.config.to_dict()}
