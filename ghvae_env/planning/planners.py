"""Sampling-based planners over action sequences: CEM (default), MPPI, random shooting.

Each iteration draws ``N = num_samples`` candidate sequences (``N x H x A``), imagines their
futures with ONE batched ``model.rollout`` call (the context repeated N times) and scores the
``N x H x 3 x 64 x 64`` predictions against the goal image. The model is a
:class:`~ghvae_env.model.api.WorldModel` (the GHVAE, SVG', your own); the planner calls only
its ``rollout``, so the simulator-backed :class:`~ghvae_env.planning.policies.SimulatorModel`
and test doubles that implement just ``rollout`` plan as well.

* CEM (Rubinstein 1999; Visual Foresight): refit a diagonal Gaussian to the ``num_elites``
  lowest-cost candidates.
* MPPI (Williams et al. 2017; PDDM, Nagabandi et al. 2019): the new mean is the
  ``exp(-cost / temperature)``-weighted average of all candidates; the std stays ``init_std``.
  With ``gamma`` set, VP2's weights ``exp(-gamma (cost - cost_min))`` on the raw costs.
* iCEM (Pinneri et al., CoRL 2020): CEM with coloured noise (power spectrum ``1/f^exponent``
  along time), a ``keep_elites`` share of the elites carried into the next iteration and,
  shifted by the executed steps, into the next planning step, and momentum in the refit.
* Random shooting (Nagabandi et al. 2018): candidates uniform in the action box; the best
  one over all iterations wins.

CEM and MPPI sample temporally correlated noise (AR(1) with coefficient ``noise_beta``, see
:class:`~ghvae_env.planning.config.PlannerConfig`) and include the current mean itself as
candidate 0 (iCEM; ``keep_mean``), so a warm-started plan is re-scored rather than lost.

A model that scores candidates itself (:class:`SequenceScorer`, e.g. the simulator with a
state cost) is asked for costs instead of frames.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from ghvae_env._device import model_device
from ghvae_env.model.api import WorldModel, temperature_kwargs
from ghvae_env.planning.config import PlannerConfig
from ghvae_env.planning.costs import CostFn, PixelGoalCost, check_costs, particle_mean_costs

__all__ = ["PlanResult", "Planner", "PlanningError", "SequenceScorer", "coloured_noise"]

_MIN_STD = 1e-3  # CEM std floor: a single-elite refit must not freeze the search entirely


class PlanningError(RuntimeError):
    """The model or the inputs handed to the planner do not fit together."""


@runtime_checkable
class SequenceScorer(Protocol):
    """A model that scores candidate action sequences itself (no frames to a cost function).

    ``score_sequences(context_frames N x C x 3 x 64 x 64, actions N x (C-1+H) x A, goal
    3 x 64 x 64)`` returns ``(costs (N,), predicted N x H x 3 x 64 x 64 or None)``.
    """

    def score_sequences(
        self, context_frames: torch.Tensor, actions: torch.Tensor, goal: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]: ...


def coloured_noise(
    n: int, steps: int, dims: int, exponent: float, generator: torch.Generator
) -> torch.Tensor:
    """``n x steps x dims`` Gaussian noise with power spectrum ``1 / f^exponent`` along time.

    Each (sample, dim) series is drawn in the frequency domain (independent complex normal
    amplitudes scaled by ``f^(-exponent/2)``, the lowest frequency ``1/steps`` standing in
    for DC) and transformed back; the result is divided by the series' theoretical std so
    every step has unit variance. ``exponent`` 0 is white noise; iCEM uses 2-2.5.
    """
    if exponent == 0.0 or steps == 1:
        return torch.randn(n, steps, dims, generator=generator)
    freqs = torch.fft.rfftfreq(steps, dtype=torch.float64)  # (steps // 2 + 1,)
    freqs[0] = 1.0 / steps
    scale = freqs ** (-exponent / 2.0)
    shape = (n, dims, len(freqs))
    real = torch.randn(shape, generator=generator, dtype=torch.float64) * scale
    imag = torch.randn(shape, generator=generator, dtype=torch.float64) * scale
    imag[..., 0] = 0.0  # the DC term of a real series is real
    if steps % 2 == 0:
        imag[..., -1] = 0.0  # so is the Nyquist term
    # Var of series value = (sum over the full spectrum of |amplitude|^2) / steps^2, per
    # irfft's normalisation: a real-only bin (DC, Nyquist) adds scale^2, a complex one
    # 2 Re(X e^{i w t}) adds 4 scale^2.
    weight = torch.full_like(freqs, 4.0)
    weight[0] = 1.0
    if steps % 2 == 0:
        weight[-1] = 1.0
    var = float((weight * scale**2).sum()) / steps**2
    series = torch.fft.irfft(torch.complex(real, imag), n=steps)  # (n, dims, steps)
    return (series / math.sqrt(var)).transpose(1, 2).float().contiguous()


@dataclass
class PlanResult:
    """The outcome of one planning step.

    actions: ``H x A`` float32, the plan to execute (clipped to the action box). CEM and
        random shooting return the lowest-cost candidate seen over all iterations, MPPI the
        final weighted mean.
    mean: ``H x A`` float32, the final sampling mean (the warm start of the next step).
    cost: the imagined cost of ``actions``; ``None`` for an MPPI mean that was never rolled
        out (plan with ``imagine=True`` to roll it out once more).
    predicted: ``H x 3 x 64 x 64`` float CPU tensor, the imagined frames of ``actions``
        (``None`` where ``cost`` is ``None``).
    iteration_costs: one ``(N,)`` float32 array of candidate costs per iteration.
    model_time_s: seconds inside ``model.rollout`` (synchronised on CUDA).
    total_time_s: seconds of the whole :meth:`Planner.plan` call.
    rollouts / samples: model calls and candidate sequences scored.
    elites: iCEM only: ``K x H x A`` float32, the last iteration's elites (the next step's
        carried-over candidates, once shifted).
    """

    actions: np.ndarray
    mean: np.ndarray
    cost: float | None
    predicted: torch.Tensor | None
    iteration_costs: list[np.ndarray] = field(default_factory=list)
    model_time_s: float = 0.0
    total_time_s: float = 0.0
    rollouts: int = 0
    samples: int = 0
    elites: np.ndarray | None = None  # iCEM: K x H x A elites of the last iteration

    @property
    def model_share(self) -> float:
        """Fraction of the planning time spent inside model rollouts."""
        return self.model_time_s / self.total_time_s if self.total_time_s > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        """JSON-serialisable diagnostics (no frames)."""
        return {
            "cost": self.cost,
            "iteration_min_cost": [float(c.min()) for c in self.iteration_costs],
            "iteration_mean_cost": [float(c.mean()) for c in self.iteration_costs],
            "model_time_s": self.model_time_s,
            "total_time_s": self.total_time_s,
            "model_share": self.model_share,
            "rollouts": self.rollouts,
            "samples": self.samples,
        }


def _seeds(seed: int | None) -> tuple[int, int]:
    """Two independent 63-bit seeds (planner noise, model latents) from one seed."""
    seq = np.random.SeedSequence(seed)
    a, b = (int(s.generate_state(1, dtype=np.uint64)[0]) >> 1 for s in seq.spawn(2))
    return a, b


class Planner:
    """Plan ``H`` actions towards a goal image in a learned (or simulated) model.

    Args:
        model: an object with the ``rollout`` API (module docstring), or a
            :class:`SequenceScorer` that returns costs itself (``cost_fn`` is then unused).
        config: budgets and method (default :class:`PlannerConfig`).
        cost_fn: ``(pred B x H x 3 x 64 x 64, goal 3 x 64 x 64) -> B`` costs; default
            :class:`~ghvae_env.planning.costs.PixelGoalCost` from the config.
        device: where context, goal and candidates live; default the model's parameters'
            device (CPU for parameter-less models).

    ```python
    planner = Planner(model, PlannerConfig(method="cem", num_samples=64))
    result = planner.plan(context, context_actions, goal)  # C x 3 x 64 x 64, (C-1) x 4, 3 x 64 x 64
    action = result.actions[0]
    ```
    """

    def __init__(
        self,
        model: WorldModel,
        config: PlannerConfig | None = None,
        cost_fn: CostFn | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        if not callable(getattr(model, "rollout", None)) and not isinstance(model, SequenceScorer):
            raise TypeError(
                f"model must have a rollout(context_frames, actions, num_samples, generator) "
                f"or a score_sequences(context_frames, actions, goal) method, actual value: "
                f"{type(model).__name__}"
            )
        if config is not None and not isinstance(config, PlannerConfig):
            raise TypeError(f"config must be a PlannerConfig, actual value: {config!r}")
        if cost_fn is not None and not callable(cost_fn):
            raise TypeError(f"cost_fn must be callable, actual value: {cost_fn!r}")
        self.model = model
        self.config = config if config is not None else PlannerConfig()
        self.cost_fn: CostFn = (
            cost_fn if cost_fn is not None else PixelGoalCost.from_config(self.config)
        )
        self.device = torch.device(device) if device is not None else model_device(model)
        c = self.config
        self._rollout_kwargs: dict[str, Any] = {}  # latent_temperature's, checked once here
        if c.latent_temperature != 1.0 and not c.prior_mean:
            try:
                self._rollout_kwargs = temperature_kwargs(model, c.latent_temperature, "rollout")
            except TypeError as e:
                raise PlanningError(f"latent_temperature: {e}") from None
        self._low = torch.tensor(c.action_low, dtype=torch.float32)  # (A,)
        self._high = torch.tensor(c.action_high, dtype=torch.float32)
        self._std0 = torch.tensor(c.init_std, dtype=torch.float32)  # (A,)
        self._noise_gen = torch.Generator(device="cpu")
        self._model_gen = torch.Generator(device=self.device)
        self.reset(c.seed)

    def reset(self, seed: int | None = None) -> None:
        """Reseed the sampling noise and the model's latent samples (``None``: fresh entropy)."""
        noise_seed, model_seed = _seeds(seed)
        self._noise_gen.manual_seed(noise_seed)
        self._model_gen.manual_seed(model_seed)

    @property
    def centre(self) -> np.ndarray:
        """Middle of the action box ``(A,)``: the default mean, and the warm-start padding."""
        return ((self._low + self._high) / 2).numpy()

    # ------------------------------------------------------------------ sampling
    def _expand(self, free: torch.Tensor) -> torch.Tensor:
        """``N x F x A`` free actions -> ``N x H x A`` with each held ``action_repeat`` steps."""
        c = self.config
        return free.repeat_interleave(c.action_repeat, dim=1)[:, : c.horizon]

    def _correlated_noise(self, n: int) -> torch.Tensor:
        """``n x F x A`` normal noise: AR(1) in time with coefficient ``noise_beta`` (``"vp2"``
        form: innovations ``1 - beta``), or coloured noise for iCEM."""
        c = self.config
        if c.method == "icem":
            return coloured_noise(n, c.free_steps, c.action_dim, c.noise_exponent, self._noise_gen)
        eps = torch.randn(n, c.free_steps, c.action_dim, generator=self._noise_gen)
        beta = c.noise_beta
        if beta == 0.0:
            return eps
        out = torch.empty_like(eps)
        out[:, 0] = eps[:, 0]
        # "stationary" keeps the variance at 1; "vp2" is VP2's CorrelatedNoiseSampler
        scale = math.sqrt(1.0 - beta * beta) if c.noise_form == "stationary" else 1.0 - beta
        for t in range(1, c.free_steps):
            out[:, t] = beta * out[:, t - 1] + scale * eps[:, t]
        return out

    def _gaussian(
        self, mean: torch.Tensor, std: torch.Tensor, n: int | None = None
    ) -> torch.Tensor:
        """``n x F x A`` candidates around ``mean`` (F x A); candidate 0 is the mean itself
        when ``keep_mean``. ``n`` defaults to ``num_samples``."""
        n = self.config.num_samples if n is None else n
        samples = mean + std * self._correlated_noise(n)
        if self.config.keep_mean and n > 0:
            samples[0] = mean
        return torch.maximum(torch.minimum(samples, self._high), self._low)

    def _uniform(self, keep: torch.Tensor | None) -> torch.Tensor:
        """``N x F x A`` uniform in the box; candidate 0 is ``keep`` (a warm start) if given."""
        c = self.config
        u = torch.rand(c.num_samples, c.free_steps, c.action_dim, generator=self._noise_gen)
        samples = self._low + (self._high - self._low) * u
        if keep is not None:
            samples[0] = torch.maximum(torch.minimum(keep, self._high), self._low)
        return samples

    # ------------------------------------------------------------------ scoring
    def _score(
        self, context: torch.Tensor, context_actions: torch.Tensor, goal: torch.Tensor,
        free: torch.Tensor, result: PlanResult,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:  # fmt: skip
        """One batched rollout of ``N`` candidates -> (costs (N,) CPU, predictions N x H x ...
        or None from a :class:`SequenceScorer` that renders nothing)."""
        n, c = free.shape[0], self.config
        seq = self._expand(free).to(self.device)  # (N, H, A)
        ctx_actions = context_actions.unsqueeze(0).expand(n, -1, -1)  # (N, C-1, A)
        actions = torch.cat([ctx_actions, seq], dim=1)  # (N, C-1+H, A)
        frames = context.unsqueeze(0).expand(n, *context.shape)  # (N, C, 3, 64, 64)
        t0 = time.perf_counter()
        if isinstance(self.model, SequenceScorer):
            costs, pred = self.model.score_sequences(frames, actions, goal)
            result.model_time_s += time.perf_counter() - t0
            result.rollouts += 1
            result.samples += n
            return check_costs(costs, n), pred
        pred = self._rollout(frames, actions)
        if isinstance(pred, torch.Tensor) and pred.is_cuda:
            torch.cuda.synchronize(pred.device)
        result.model_time_s += time.perf_counter() - t0
        result.rollouts += 1
        result.samples += n
        k = c.particles
        expected = (n, c.horizon, *goal.shape) if k == 1 else (n, k, c.horizon, *goal.shape)
        if not isinstance(pred, torch.Tensor) or tuple(pred.shape) != expected:
            shape = "N x H x 3 x 64 x 64" if k == 1 else "N x particles x H x 3 x 64 x 64"
            raise PlanningError(
                f"model.rollout must return a tensor of shape {expected} ({shape}), "
                f"actual value: {type(pred).__name__} {tuple(getattr(pred, 'shape', ()))}"
            )
        if k == 1:
            return check_costs(self.cost_fn(pred, goal), n), pred
        # the expected cost over the particles; the first particle stands for the plan's frames
        return particle_mean_costs(self.cost_fn, pred, goal), pred[:, 0]

    def _rollout(self, frames: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """``model.rollout`` of the candidates; with ``prior_mean`` its deterministic
        prediction (``sample=False``), which a model's rollout must then accept; with a
        ``latent_temperature`` other than 1 its samples at that temperature; ``particles`` > 1
        samples per candidate (N x particles x H x ...)."""
        if not self.config.prior_mean:
            return self.model.rollout(
                frames,
                actions,
                num_samples=self.config.particles,
                generator=self._model_gen,
                **self._rollout_kwargs,
            )
        try:
            return self.model.rollout(
                frames, actions, num_samples=1, generator=self._model_gen, sample=False
            )
        except TypeError as e:
            if "sample" not in str(e):
                raise
            raise PlanningError(
                f"prior_mean=True needs model.rollout(..., sample=False) (the deterministic "
                f"prediction); {type(self.model).__name__}.rollout does not take it ({e})"
            ) from e

    # ------------------------------------------------------------------ planning
    def _check_inputs(
        self, context: torch.Tensor, context_actions: torch.Tensor, goal: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        c = self.config
        for name, t in (("context_frames", context), ("goal", goal)):
            if not isinstance(t, torch.Tensor) or not t.is_floating_point():
                raise TypeError(
                    f"{name} must be a float tensor in [0, 1] (use ghvae_env.data.frames."
                    f"to_float_chw), actual value: {type(t).__name__} {getattr(t, 'dtype', '')}"
                )
        if context.ndim != 4 or context.shape[0] < 1 or context.shape[1] != 3:
            raise ValueError(
                f"context_frames must be C x 3 x H x W with C >= 1, actual shape: "
                f"{tuple(context.shape)}"
            )
        if tuple(goal.shape) != tuple(context.shape[1:]):
            raise ValueError(
                f"goal must be {' x '.join(map(str, context.shape[1:]))} like one context frame, "
                f"actual shape: {tuple(goal.shape)}"
            )
        context_actions = torch.as_tensor(context_actions, dtype=torch.float32)
        expected = (context.shape[0] - 1, c.action_dim)
        if tuple(context_actions.shape) != expected:
            raise ValueError(
                f"context_actions must have shape {expected} ((C-1) x action_dim), actual shape: "
                f"{tuple(context_actions.shape)}"
            )
        dev = self.device
        return context.to(dev), context_actions.to(dev), goal.to(dev)

    def _initial_mean(self, init_mean: np.ndarray | torch.Tensor | None) -> torch.Tensor | None:
        """A full-horizon ``H x A`` warm start -> its free steps ``F x A`` (or None)."""
        if init_mean is None:
            return None
        c = self.config
        m = torch.as_tensor(np.asarray(init_mean, dtype=np.float32))
        if tuple(m.shape) != (c.horizon, c.action_dim) or not torch.isfinite(m).all():
            raise ValueError(
                f"init_mean must be a finite {c.horizon} x {c.action_dim} array (horizon x "
                f"action_dim), actual value: shape {tuple(m.shape)}"
            )
        return m[:: c.action_repeat].clone()  # (F, A)

    def _initial_elites(self, init_elites: np.ndarray | torch.Tensor | None) -> torch.Tensor | None:
        """``K x H x A`` elites of the previous step (shifted) -> ``K x F x A`` in the box."""
        if init_elites is None:
            return None
        c = self.config
        e = torch.as_tensor(np.asarray(init_elites, dtype=np.float32))
        if e.ndim != 3 or tuple(e.shape[1:]) != (c.horizon, c.action_dim):
            raise ValueError(
                f"init_elites must be K x {c.horizon} x {c.action_dim} (elites x horizon x "
                f"action_dim), actual value: shape {tuple(e.shape)}"
            )
        e = e[:, :: c.action_repeat]
        return torch.maximum(torch.minimum(e, self._high), self._low)

    @torch.no_grad()
    def plan(
        self,
        context_frames: torch.Tensor,
        context_actions: torch.Tensor | np.ndarray,
        goal: torch.Tensor,
        init_mean: np.ndarray | torch.Tensor | None = None,
        imagine: bool = False,
        init_elites: np.ndarray | torch.Tensor | None = None,
    ) -> PlanResult:
        """Optimise ``H`` actions from the current context towards ``goal``.

        Args:
            context_frames: ``C x 3 x 64 x 64`` float in [0, 1], the last frame is "now".
            context_actions: ``(C-1) x A``, the actions between the context frames.
            goal: ``3 x 64 x 64`` float in [0, 1].
            init_mean: ``H x A`` warm start (e.g. the previous plan shifted), or None for
                the centre of the action box.
            imagine: MPPI only: roll out the returned mean once more (one extra batch-1
                rollout) so that ``predicted`` and ``cost`` are filled.
            init_elites: iCEM only: ``K x H x A`` elites of the previous step, shifted; the
                first ``keep_elites`` share of them joins the first iteration's candidates.

        Returns:
            a :class:`PlanResult`.
        """
        t_start = time.perf_counter()
        c = self.config
        context, ctx_actions, goal = self._check_inputs(context_frames, context_actions, goal)
        warm = self._initial_mean(init_mean)
        centre = torch.as_tensor(self.centre).expand(c.free_steps, -1)  # (F, A)
        mean = warm if warm is not None else centre.clone()
        std = self._std0.expand_as(mean).clone()  # (F, A)
        frozen = self._std0 == 0  # (A,) dimensions the config holds at the mean
        result = PlanResult(actions=np.empty(0), mean=np.empty(0), cost=None, predicted=None)
        best_cost, best_free, best_pred = math.inf, mean.clone(), None
        kept = self._initial_elites(init_elites) if c.method == "icem" else None
        n_keep = int(c.keep_elites * c.elites)

        for _ in range(c.iterations):
            if c.method == "random":
                free = self._uniform(warm)
            elif c.method == "icem":
                carry = kept[:n_keep] if kept is not None and n_keep > 0 else None
                new = self._gaussian(
                    mean, std, c.num_samples - (0 if carry is None else len(carry))
                )
                free = new if carry is None else torch.cat([new, carry], dim=0)
            else:
                free = self._gaussian(mean, std)
            costs, pred = self._score(context, ctx_actions, goal, free, result)
            result.iteration_costs.append(costs.numpy().astype(np.float32))
            i = int(torch.argmin(costs))
            if float(costs[i]) < best_cost:
                best_cost, best_free = float(costs[i]), free[i].clone()
                best_pred = None if pred is None else pred[i].detach().float().cpu().clone()
            if c.method in ("cem", "icem"):
                elites = free[torch.topk(costs, c.elites, largest=False).indices]  # (K, F, A)
                new_mean = elites.mean(dim=0)
                new_std = elites.std(dim=0, unbiased=False).clamp_min(_MIN_STD)
                if c.method == "icem":  # momentum (Pinneri et al. eq. 2), elites carried over
                    new_mean = c.momentum * mean + (1 - c.momentum) * new_mean
                    new_std = c.momentum * std + (1 - c.momentum) * new_std
                    kept = elites
                    result.elites = self._expand(elites).numpy().astype(np.float32)
                mean, std = new_mean, torch.where(frozen, 0.0, new_std)
            elif c.method == "mppi":
                if c.gamma is not None:  # VP2: exp(gamma * (reward - max reward))
                    scaled = c.gamma * (costs - costs.min())
                else:
                    spread = costs.std(unbiased=False) if len(costs) > 1 else torch.tensor(0.0)
                    scaled = (costs - costs.min()) / (c.temperature * (spread + 1e-8))
                weights = torch.softmax(-scaled, dim=0)  # (N,)
                mean = torch.einsum("n,nfa->fa", weights, free)

        if c.method == "mppi":
            plan_free = torch.maximum(torch.minimum(mean, self._high), self._low)
            result.mean = self._expand(plan_free[None])[0].numpy().astype(np.float32)
            if imagine:  # latent draws restored: imagining never changes later plans
                rng_state = self._model_gen.get_state()
                costs, pred = self._score(context, ctx_actions, goal, plan_free[None], result)
                self._model_gen.set_state(rng_state)
                result.cost, result.predicted = float(costs[0]), pred[0].float().cpu()
        else:
            plan_free = best_free
            result.cost = best_cost
            result.predicted = best_pred
            source = mean if c.method in ("cem", "icem") else best_free
            result.mean = self._expand(source[None])[0].numpy().astype(np.float32)
        result.actions = self._expand(plan_free[None])[0].numpy().astype(np.float32)
        result.total_time_s = time.perf_counter() - t_start
        return result
