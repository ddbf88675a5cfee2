"""Costs of imagined futures: how far predicted frames are from a goal image.

A cost function maps ``pred`` (``B x H x 3 x 64 x 64`` float in [0, 1], the imagined frames of
B candidate plans) and ``goal`` (``3 x 64 x 64`` float in [0, 1]) to ``B`` costs, lower is
better. The default is the goal-image pixel distance of Visual Foresight (Ebert et al. 2018)
and VP2 (Tian et al. 2023), averaged over the horizon with a heavier last frame; ``"sse"`` is
VP2's own scale (squared error summed over frames and pixels). Pass any
``Callable[[pred, goal], costs]`` to the planner or agent to plan for something else.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch

from ghvae_env.planning.config import COSTS, PlannerConfig

__all__ = [
    "CostFn",
    "CostError",
    "PixelGoalCost",
    "gaussian_blur",
    "step_weights",
    "check_costs",
    "particle_mean_costs",
]

CostFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class CostError(ValueError):
    """A cost function returned something that is not ``B`` finite costs."""


def step_weights(horizon: int, final_step_weight: float, normalise: bool = True) -> torch.Tensor:
    """Per-frame weights ``(H,)``: 1 for frames 1..H-1, ``final_step_weight`` for frame H,
    normalised to sum to 1 (so costs stay on the scale of one frame's distance) unless
    ``normalise`` is False (VP2's sum over frames)."""
    w = torch.ones(horizon)
    w[-1] = final_step_weight
    total = float(w.sum())
    if not normalise:
        return w
    if total <= 0:
        raise ValueError(
            f"step weights sum to zero (horizon={horizon}, final_step_weight={final_step_weight})"
        )
    return w / total


class PixelGoalCost:
    """Weighted per-frame pixel distance to the goal image.

    ``cost_b = sum_t w_t d(pred[b, t], goal)`` with ``d`` the mean over channels and pixels of
    the squared (``"mse"``) or absolute (``"l1"``) difference, both on [0, 1] intensities, and
    ``w`` from :func:`step_weights` (sums to 1). MSE is the default: it punishes a misplaced
    object more than many slightly-off background pixels; L1 is more forgiving of the
    blurriness of predicted frames. ``"sse"`` is VP2's ``SquaredError``: ``d`` sums the
    squared difference over channels and pixels and ``w`` is not normalised (1 per frame,
    ``final_step_weight`` for the last), so one frame of 64 x 64 x 3 counts 12288x the MSE.

    With ``blur`` > 0 both images are first smoothed by a Gaussian of that std (pixels,
    separable, reflect padding): an arm or object a few pixels from its goal pose then costs
    less than one far away, where a raw pixel distance charges both the same (twice the
    area, once where it is and once where it should be) and prefers the arm out of view.

    With ``chroma`` > 0 the distance adds ``chroma`` times the same distance between the
    images' chroma (each pixel's RGB minus its grey level, the mean of its channels): grey
    and white pixels (the arm, the table, shadows) vanish from that term and coloured
    objects stay, so a misplaced object weighs more against a misplaced arm.

    Args:
        metric: ``"mse"``, ``"l1"`` or ``"sse"``.
        final_step_weight: weight of the last frame relative to each earlier one (>= 0).
        blur: Gaussian std in pixels (0: none).
        chroma: weight of the chroma term (0: none).
    """

    def __init__(
        self,
        metric: str = "mse",
        final_step_weight: float = 10.0,
        blur: float = 0.0,
        chroma: float = 0.0,
    ) -> None:
        if metric not in COSTS:
            raise ValueError(f"metric needs to be one of {list(COSTS)}, actual value: {metric!r}")
        if not final_step_weight >= 0:
            raise ValueError(
                f"final_step_weight needs to be >= 0, actual value: {final_step_weight!r}"
            )
        if not (blur >= 0 and math.isfinite(blur)):
            raise ValueError(f"blur needs to be finite and >= 0 (pixels), actual value: {blur!r}")
        if not (chroma >= 0 and math.isfinite(chroma)):
            raise ValueError(f"chroma needs to be finite and >= 0, actual value: {chroma!r}")
        self.metric = metric
        self.final_step_weight = float(final_step_weight)
        self.blur = float(blur)
        self.chroma = float(chroma)

    @classmethod
    def from_config(cls, config: PlannerConfig) -> PixelGoalCost:
        return cls(config.cost, config.final_step_weight, config.cost_blur, config.cost_chroma)

    def per_frame(self, pred: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        """``B x H x 3 x h x w`` and ``3 x h x w`` -> ``B x H`` distances."""
        goal = goal.to(pred.dtype)
        if self.blur > 0:
            pred, goal = gaussian_blur(pred, self.blur), gaussian_blur(goal, self.blur)
        d = self._distance(pred - goal)  # goal broadcasts over (B, H)
        if self.chroma > 0:
            grey = pred.mean(dim=-3, keepdim=True) - goal.mean(dim=-3, keepdim=True)
            d = d + self.chroma * self._distance(pred - goal - grey)
        return d  # (B, H)

    def _distance(self, diff: torch.Tensor) -> torch.Tensor:
        """B x H x C x h x w differences -> B x H distances (the metric's reduction)."""
        d = (diff.abs() if self.metric == "l1" else diff.square()).flatten(2)
        return d.sum(dim=2) if self.metric == "sse" else d.mean(dim=2)

    def __call__(self, pred: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        """``pred`` B x H x 3 x 64 x 64, ``goal`` 3 x 64 x 64 -> B costs."""
        if pred.ndim != 5 or goal.ndim != 3 or tuple(pred.shape[2:]) != tuple(goal.shape):
            raise ValueError(
                f"pred must be B x H x C x h x w and goal C x h x w, actual shapes: "
                f"pred {tuple(pred.shape)}, goal {tuple(goal.shape)}"
            )
        w = step_weights(pred.shape[1], self.final_step_weight, normalise=self.metric != "sse")
        w = w.to(pred.device, pred.dtype)
        return self.per_frame(pred, goal) @ w  # (B,)

    def __repr__(self) -> str:
        return (
            f"PixelGoalCost(metric={self.metric!r}, final_step_weight={self.final_step_weight}, "
            f"blur={self.blur}, chroma={self.chroma})"
        )


def gaussian_blur(images: torch.Tensor, std: float) -> torch.Tensor:
    """``... x C x h x w`` images smoothed by a separable Gaussian of ``std`` pixels (kernel
    radius ``ceil(3 std)``, reflect padding, clipped to the image); same shape.

    Computed as ``M_h @ x @ M_w^T`` with the padding folded into the two blur matrices. For a
    VP2 planning step's 2,000 frames (std 8, one thread, AMD EPYC) a 1-channel ``conv2d``
    took 4.6 s and the two matmuls 0.22 s (RESULTS.md, planning).
    """
    h, w = images.shape[-2:]
    m_h = _blur_matrix(h, float(std), images.dtype, images.device)
    m_w = m_h if w == h else _blur_matrix(w, float(std), images.dtype, images.device)
    return m_h @ images @ m_w.T


@functools.lru_cache(maxsize=16)
def _blur_matrix(n: int, std: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``n x n``: row i holds the Gaussian weights of pixel i's neighbours, indices reflected
    at the borders (``F.pad(mode="reflect")``: -1 -> 1, n -> n - 2)."""
    radius = min(math.ceil(3 * std), n - 1)
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (offsets / std) ** 2)
    k = k / k.sum()
    m = torch.zeros(n, n, dtype=torch.float64)
    for i in range(n):
        for o, weight in zip(range(-radius, radius + 1), k.tolist(), strict=True):
            j = i + o
            j = -j if j < 0 else (2 * (n - 1) - j if j > n - 1 else j)
            m[i, j] += weight
    return m.to(dtype=dtype, device=device)


def check_costs(costs: object, batch: int) -> torch.Tensor:
    """Validate a cost function's output: a float tensor of ``batch`` finite values."""
    if not isinstance(costs, torch.Tensor) or not costs.is_floating_point():
        raise CostError(
            f"cost function must return a float tensor of shape ({batch},), "
            f"actual value: {type(costs).__name__} {getattr(costs, 'dtype', '')}"
        )
    if tuple(costs.shape) != (batch,):
        raise CostError(
            f"cost function must return shape ({batch},) (one cost per candidate), "
            f"actual value: shape {tuple(costs.shape)}"
        )
    if not torch.isfinite(costs).all():
        raise CostError("cost function returned NaN or inf costs")
    return costs.detach().float().cpu()


def particle_mean_costs(cost_fn: CostFn, pred: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
    """``pred`` ``N x K x H x 3 x h x w`` (K latent samples, "particles", per candidate) ->
    ``(N,)``: each candidate's mean cost over its K samples (checked as N x K costs)."""
    n, k = pred.shape[:2]
    return check_costs(cost_fn(pred.flatten(0, 1), goal), n * k).view(n, k).mean(dim=1)
