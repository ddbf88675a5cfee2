"""PlannerConfig: every knob of the visual-MPC planners, validated, with reasons for the defaults.

The seed paper (Wu et al., CVPR 2021, section 4, "Real Robot Performance") plans with the
GHVAE from a single 64 x 64 goal image, 2 context frames and 10 future actions, by random
shooting (its Appendix B) over the 4-d action space; Visual Foresight (Ebert et al. 2018) plans
the same way with CEM, and the VP2 benchmark (Tian, Finn, Wu, ICLR 2023) uses the same horizon. The seed does not give
the optimiser's budgets; the defaults below are our choices, each with a one-line reason.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

__all__ = ["PlannerConfig", "PlannerConfigError", "METHODS", "COSTS", "PRESETS"]

METHODS = ("cem", "icem", "mppi", "random")
COSTS = ("mse", "l1", "sse")
NOISE_FORMS = ("stationary", "vp2")
WARM_START_PADS = ("centre", "last")
PRESETS = ("cem", "vp2", "icem", "push")


class PlannerConfigError(ValueError):
    """A PlannerConfig field has an invalid value (the message names field and value)."""


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_real(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


@dataclass(frozen=True)
class PlannerConfig:
    """Sampling-based trajectory optimisation over action sequences (``H x action_dim``).

    A plan has ``horizon`` actions; with ``action_repeat = r`` only ``ceil(horizon / r)`` of
    them are free and each is held for ``r`` steps. Every iteration samples ``num_samples``
    sequences around a mean and scores all of them with one batched ``model.rollout``.
    ``action_low`` / ``action_high`` accept a scalar (same bound for every dimension) or one
    value per action dimension; they are stored as tuples. Random shooting samples uniformly
    in the box and ignores ``init_std``, ``noise_beta``, ``num_elites`` and ``temperature``.
    ``init_std`` is stored as a tuple too. Presets: :meth:`vp2` (VP2's MPPI), :meth:`icem`,
    :meth:`push` (VP2's MPPI on a blurred cost in the table's plane: ``ghvae plan``'s default).
    """

    # "cem" (cross-entropy method, refit mean and std to the elites), "icem" (improved CEM,
    # Pinneri et al. 2020: coloured noise, elites kept across iterations and steps, momentum),
    # "mppi" (cost-weighted mean, Williams et al. 2017 / PDDM / VP2) or "random" (random
    # shooting, one round of samples).
    # CEM is the default: it refines where random shooting (the seed's choice, "random"
    # reproduces it) only resamples, so it needs fewer model rollouts for the same cost.
    method: str = "cem"
    # Candidates per iteration = the batch of one model rollout. GPU visual-MPC setups use a
    # few hundred; 64 keeps a planning step with the bundled cpu-small model at a few
    # seconds on 2 CPU cores while still covering 4-d actions over a 10-step horizon.
    num_samples: int = 64
    # Refinement rounds per planning step; 3, the usual budget of Visual-Foresight-style CEM:
    # most of the cost reduction comes in the first rounds.
    iterations: int = 3
    # CEM elites refit per round; None: num_samples // 8, at least 1 (5-10% is usual with a
    # few hundred samples; a larger share suits our smaller batch, fewer overfit one sample).
    num_elites: int | None = None
    # Actions per plan, and frames the model imagines: VP2's planning horizon.
    horizon: int = 10
    # Hold each planned action this many steps (fewer free variables); 1 = no repeat, since
    # 10 Hz OSC steps of 1.5-2.3 cm are already coarse.
    action_repeat: int = 1
    # Temporal correlation of the sampling noise, AR(1): n_t = beta n_{t-1} + sqrt(1-beta^2)
    # e_t, unit stationary variance (PDDM's filtered noise / iCEM's coloured noise; PDDM's
    # filter coefficient is 1 - beta here). 0.5: pushes need several steps in one direction.
    noise_beta: float = 0.5
    # Std of the first iteration's samples, in action units, one value or one per action
    # dimension (stored as a tuple; 0 freezes a dimension at the mean, VP2 freezes the
    # gripper): 0.5 reaches the bounds of [-1, 1] at 2 sigma, so the first round explores the
    # whole box without mostly clipping.
    init_std: tuple[float, ...] | float = 0.5
    # How the AR(1) noise is scaled: "stationary" (innovations sqrt(1 - beta^2), every step
    # has variance init_std^2) or "vp2" (VP2's CorrelatedNoiseSampler: innovations (1 - beta),
    # so later steps have a smaller std, 0.58 init_std at beta 0.5).
    noise_form: str = "stationary"
    # iCEM only: exponent of the coloured noise's power spectrum 1/f^exponent along time (0
    # white, 2 brown: Pinneri et al. use 2-2.5 for manipulation); replaces noise_beta.
    noise_exponent: float = 2.0
    # iCEM only: fraction of the elites carried into the next iteration (and, shifted, into
    # the next planning step); Pinneri et al. keep 0.3.
    keep_elites: float = 0.3
    # iCEM only: weight of the old mean and std in each refit (Pinneri et al.: 0.1).
    momentum: float = 0.1
    # MPPI: weights exp(-(c - c_min) / (temperature * std(c))). Costs are divided by their
    # spread in that round, so the temperature is scale-free; 0.5 gives a sample one cost-std
    # worse than the best weight e^-2.
    temperature: float = 0.5
    # MPPI with VP2's weights instead: exp(-gamma (c - c_min)) on the raw costs (VP2's
    # MPPIOptimizer, gamma 0.05 with the "sse" cost); None: the scale-free temperature above.
    gamma: float | None = None
    # Candidate 0 of each Gaussian round is the mean itself (iCEM): a warm-started plan is
    # re-scored rather than lost. VP2's MPPI does not do this.
    keep_mean: bool = True
    # Start each replanning from the previous mean shifted by the steps executed since
    # (iCEM, PETS): the plan carries over instead of being rediscovered each step.
    warm_start: bool = True
    # What fills the end of a shifted warm start: "centre" of the action box, or "last"
    # (repeat the plan's last action, as VP2's MPPI does).
    warm_start_pad: str = "centre"
    # Replan after this many executed actions (1 = classic MPC). In between the agent
    # executes the remaining actions of its last plan.
    replan_every: int = 1
    # Lower and upper bounds of the action box: the env's Box(-1, 1, (4,)).
    action_low: tuple[float, ...] | float = -1.0
    action_high: tuple[float, ...] | float = 1.0
    action_dim: int = 4  # DESIGN.md: eef dx, dy, dz, gripper
    # Per-frame image distance of the default cost: "mse" (mean squared, punishes large
    # errors, the usual Visual Foresight pixel cost), "l1" (mean absolute) or "sse" (VP2's
    # SquaredError: squared RGB error summed over pixels and frames, frame weights not
    # normalised; the scale VP2's gamma expects).
    cost: str = "mse"
    # Weight of the last imagined frame relative to the others (each weighted 1): the goal
    # image describes the end state; the earlier frames still reward getting closer sooner.
    final_step_weight: float = 10.0
    # Gaussian blur (std in pixels) applied to the frames and the goal before the distance;
    # 0: none (VP2). A raw pixel distance charges an arm a few pixels off its goal pose twice
    # (where it is and where it should be) and credits nothing for near misses, so the
    # planner's cheapest frame has the arm out of view (our option; measured in RESULTS.md).
    cost_blur: float = 0.0
    # Weight of a chroma term in the pixel cost (RGB minus each pixel's grey level: the grey
    # arm and white table drop out of it, coloured objects stay); 0: none (VP2). Our option
    # (issue 16: the goal image's arm outweighs the object in the pixel cost).
    cost_chroma: float = 0.0
    # Seed of the planner's sampling noise and of the model's latent samples (None: fresh
    # entropy on every reset).
    seed: int | None = 0
    # Score candidates on the model's deterministic prediction (``rollout(..., sample=False)``:
    # the prior's mean latent) instead of one latent sample each. VP2 samples; on the bundled
    # model the prior mean scored 0.8 dB PSNR above a sample on held-out clips, and a sampled
    # cost ranks candidates with the latent noise mixed in (our option; issue 16). Measured
    # worse on 20 push tasks with VP2's MPPI: 3/20 solved vs 7/20 sampled (RESULTS.md).
    prior_mean: bool = False
    # Latent sampling temperature of the candidates' rollouts (``model.rollout(...,
    # temperature=T)``: z = mean + T std eps; 1 the prior as trained, 0 its mean). Not MPPI's
    # ``temperature`` above. Our option (issue 13's "Sampling temperature" in RESULTS.md).
    latent_temperature: float = 1.0
    # Latent samples per candidate (PETS's "particles", Chua et al. 2018): each candidate is
    # rolled out ``particles`` times and its cost is their mean, the expected cost under the
    # model instead of one sample's. Costs ``particles`` times the model time per candidate.
    # VP2 uses 1. Our option (RESULTS.md, "Particles").
    particles: int = 1

    def __post_init__(self) -> None:
        def fail(name: str, expected: str) -> None:
            raise PlannerConfigError(
                f"{name} needs to be {expected}, actual value: {getattr(self, name)!r}"
            )

        if self.method not in METHODS:
            fail("method", f"one of {list(METHODS)}")
        for name in ("num_samples", "iterations", "num_elites", "horizon", "action_repeat"):
            value = getattr(self, name)
            if name == "num_elites" and value is None:
                continue
            if not _is_int(value) or value < 1:
                fail(name, ">= 1")
        if self.num_elites is not None and self.num_elites > self.num_samples:
            raise PlannerConfigError(
                f"num_elites needs to be in [1, num_samples={self.num_samples}], "
                f"actual value: {self.num_elites}"
            )
        if self.action_repeat > self.horizon:
            raise PlannerConfigError(
                f"action_repeat needs to be in [1, horizon={self.horizon}], "
                f"actual value: {self.action_repeat}"
            )
        if not _is_int(self.replan_every) or not 1 <= self.replan_every <= self.horizon:
            fail("replan_every", f"an int in [1, horizon={self.horizon}]")
        if not _is_real(self.noise_beta) or not 0.0 <= self.noise_beta < 1.0:
            fail("noise_beta", "in [0, 1)")
        t = self.temperature
        if not _is_real(t) or not math.isfinite(t) or t <= 0:
            fail("temperature", "> 0")
        if self.gamma is not None and (
            not _is_real(self.gamma) or not math.isfinite(self.gamma) or self.gamma <= 0
        ):
            fail("gamma", "None or a finite float > 0")
        for name in ("warm_start", "keep_mean", "prior_mean"):
            if not isinstance(getattr(self, name), bool):
                fail(name, "a bool")
        for name, choices in (("noise_form", NOISE_FORMS), ("warm_start_pad", WARM_START_PADS)):
            if getattr(self, name) not in choices:
                fail(name, f"one of {list(choices)}")
        e = self.noise_exponent
        if not _is_real(e) or not math.isfinite(e) or e < 0:
            fail("noise_exponent", "a finite float >= 0")
        for name in ("keep_elites", "momentum"):
            value = getattr(self, name)
            if not _is_real(value) or not 0.0 <= value < 1.0:
                fail(name, "in [0, 1)")
        if not _is_int(self.action_dim) or self.action_dim < 1:
            fail("action_dim", ">= 1")
        object.__setattr__(self, "init_std", self._per_dim("init_std"))
        if any(v < 0 for v in self.init_std) or not any(v > 0 for v in self.init_std):
            raise PlannerConfigError(
                f"init_std needs to be > 0 (or per dimension >= 0, at least one > 0), actual "
                f"value: {self.init_std}"
            )
        for name in ("action_low", "action_high"):
            object.__setattr__(self, name, self._per_dim(name))
        bad = [
            i
            for i, (lo, hi) in enumerate(zip(self.action_low, self.action_high, strict=True))
            if lo >= hi
        ]
        if bad:
            raise PlannerConfigError(
                f"action_low needs to be < action_high in every dimension, actual value: "
                f"action_low={self.action_low}, action_high={self.action_high} (dimensions {bad})"
            )
        if self.cost not in COSTS:
            fail("cost", f"one of {list(COSTS)}")
        w = self.final_step_weight
        if not _is_real(w) or not math.isfinite(w) or w < 0:
            fail("final_step_weight", ">= 0")
        b = self.cost_blur
        if not _is_real(b) or not math.isfinite(b) or b < 0:
            fail("cost_blur", ">= 0 (pixels)")
        cc = self.cost_chroma
        if not _is_real(cc) or not math.isfinite(cc) or cc < 0:
            fail("cost_chroma", "a finite float >= 0")
        if self.horizon == 1 and w == 0:
            raise PlannerConfigError(
                "final_step_weight needs to be > 0 when horizon is 1 (it weighs the only "
                "frame), actual value: 0"
            )
        lt = self.latent_temperature
        if not _is_real(lt) or not math.isfinite(lt) or lt < 0:
            fail("latent_temperature", "a finite float >= 0 (1: sample the prior as trained)")
        if self.seed is not None and (not _is_int(self.seed) or self.seed < 0):
            fail("seed", "None or an int >= 0")
        if not _is_int(self.particles) or self.particles < 1:
            fail("particles", "an int >= 1 (latent samples per candidate)")
        if self.particles > 1 and self.prior_mean:
            raise PlannerConfigError(
                f"particles needs to be 1 with prior_mean=True (the prior mean is one "
                f"deterministic rollout), actual value: {self.particles}"
            )

    # ------------------------------------------------------------------ presets
    @classmethod
    def vp2(cls, **changes: Any) -> PlannerConfig:
        """VP2's planner (Tian, Finn, Wu, ICLR 2023; its ``mppi.yaml`` and
        ``correlated_noise.yaml``): MPPI, 200 samples, one round per step, horizon 10,
        weights ``exp(-0.05 (c - c_min))`` on the squared RGB error summed over all predicted
        frames and pixels (no extra final-frame weight), correlated noise beta 0.5 in VP2's
        form, init std (0.5, 0.5, 0.5, 0) (gripper frozen), warm start from the previous
        mean shifted by one step and padded with its last action, no mean candidate, replan
        every step. ``changes`` override fields (e.g. ``num_samples=64``)."""
        base = dict(
            method="mppi", num_samples=200, iterations=1, horizon=10, action_repeat=1,
            noise_beta=0.5, noise_form="vp2", init_std=(0.5, 0.5, 0.5, 0.0), gamma=0.05,
            keep_mean=False, warm_start=True, warm_start_pad="last", replan_every=1,
            cost="sse", final_step_weight=1.0,
        )  # fmt: skip
        return cls(**{**base, **changes})

    @classmethod
    def icem(cls, **changes: Any) -> PlannerConfig:
        """iCEM (Pinneri et al., CoRL 2020) on the VP2 cost: coloured noise (exponent 2),
        30% of the elites kept across iterations and steps, momentum 0.1, the mean as a
        candidate, the best sequence executed; 3 rounds of 64 samples, 8 elites."""
        base = dict(
            method="icem", num_samples=64, iterations=3, num_elites=8, horizon=10,
            noise_exponent=2.0, keep_elites=0.3, momentum=0.1, init_std=(0.5, 0.5, 0.5, 0.0),
            warm_start=True, warm_start_pad="last", replan_every=1, cost="sse",
            final_step_weight=1.0,
        )  # fmt: skip
        return cls(**{**base, **changes})

    @classmethod
    def push(cls, **changes: Any) -> PlannerConfig:
        """VP2's MPPI (:meth:`vp2`) with what the push tasks measured it needs (RESULTS.md,
        "Visual MPC"): both images blurred (std 8 px) before the squared error, so a near miss
        costs less than an arm out of view; planning in the table's plane (init std (0.5, 0.5,
        0, 0): with z free, failed episodes start by lifting the arm); and 128 samples instead
        of 200, so 100 tasks fit in an hour on 2 cores. ``ghvae plan``'s default."""
        base = dict(num_samples=128, cost_blur=8.0, init_std=(0.5, 0.5, 0.0, 0.0))
        return cls.vp2(**{**base, **changes})

    @classmethod
    def preset(cls, name: str, **changes: Any) -> PlannerConfig:
        """A named configuration: ``"cem"`` (the field defaults: CEM 64 x 3), ``"vp2"``,
        ``"icem"``, ``"push"``."""
        if name not in PRESETS:
            raise PlannerConfigError(
                f"preset needs to be one of {list(PRESETS)}, actual value: {name!r}"
            )
        return cls(**changes) if name == "cem" else getattr(cls, name)(**changes)

    def _per_dim(self, name: str) -> tuple[float, ...]:
        value = getattr(self, name)
        if _is_real(value):
            value = (float(value),) * self.action_dim
        try:
            out = tuple(float(v) for v in value)
        except (TypeError, ValueError):
            out = ()
        if len(out) != self.action_dim or not all(math.isfinite(v) for v in out):
            raise PlannerConfigError(
                f"{name} needs to be a finite float or {self.action_dim} finite floats, "
                f"actual value: {value!r}"
            )
        return out

    @property
    def elites(self) -> int:
        """``num_elites``, or its default ``max(1, num_samples // 8)`` when None."""
        return self.num_elites if self.num_elites is not None else max(1, self.num_samples // 8)

    @property
    def free_steps(self) -> int:
        """Independent actions per plan: ``ceil(horizon / action_repeat)``."""
        return -(-self.horizon // self.action_repeat)

    def replace(self, **changes: Any) -> PlannerConfig:
        """A validated copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable fields (tuples as lists)."""
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlannerConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`PlannerConfigError`."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise PlannerConfigError(
                f"PlannerConfig has no fields {unknown}; known fields: {sorted(names)}"
            )
        return cls(**data)
