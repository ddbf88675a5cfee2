"""CEM, MPPI and random shooting on a toy model with a known optimum; the tiny GHVAE end to end."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ghvae_env.planning.config import PlannerConfig, PlannerConfigError
from ghvae_env.planning.costs import CostError, PixelGoalCost, gaussian_blur, step_weights
from ghvae_env.planning.planners import Planner, PlanningError

START = (32.0, 32.0)
TARGET = (42.0, 24.0)  # 10 px down, 8 px left: needs sum(a_row) = 2.5, sum(a_col) = -2 at 4 px/unit
HORIZON = 4


@pytest.fixture
def ctx(blob) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(context 2 x 3 x 64 x 64, context actions 1 x 4, goal 3 x 64 x 64)."""
    frame = blob.image(START)
    return torch.stack([frame, frame]), torch.zeros(1, 4), blob.image(TARGET)


def _final_position(actions: np.ndarray, speed: float = 4.0) -> np.ndarray:
    return np.array(START) + speed * actions[:, :2].sum(axis=0)


@pytest.mark.parametrize("method", ["cem", "mppi"])
def test_optimizers_find_the_blob_goal(method, blob, ctx):
    model = blob.Model()
    cfg = PlannerConfig(method=method, num_samples=64, iterations=6, horizon=HORIZON, seed=1)
    result = Planner(model, cfg).plan(*ctx)
    end = _final_position(result.actions)
    assert np.linalg.norm(end - np.array(TARGET)) < 1.5, f"{method} ended at {end}"
    # one batched rollout per iteration, the batch being all candidates
    expected = [64] * cfg.iterations
    assert model.batch_sizes == expected
    assert result.rollouts == cfg.iterations and result.samples == 64 * cfg.iterations
    assert len(result.iteration_costs) == cfg.iterations
    assert result.iteration_costs[-1].min() < result.iteration_costs[0].min()
    assert 0.0 < result.model_time_s <= result.total_time_s
    assert result.actions.shape == (HORIZON, 4) and result.actions.dtype == np.float32
    assert np.all(np.abs(result.actions) <= 1.0)


def test_custom_cost_hook_known_optimum(blob, ctx):
    """A user cost on the final blob centre: the optimum is exactly the target."""
    target = torch.tensor(TARGET)

    def centre_cost(pred: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        return (blob.center(pred[:, -1]) - target).norm(dim=-1)  # (B,)

    cfg = PlannerConfig(num_samples=64, iterations=5, horizon=HORIZON, seed=0)
    result = Planner(blob.Model(), cfg, cost_fn=centre_cost).plan(*ctx)
    assert result.cost is not None and result.cost < 1.0
    assert np.linalg.norm(_final_position(result.actions) - np.array(TARGET)) < 1.0


def test_random_shooting_beats_doing_nothing(blob, ctx):
    cfg = PlannerConfig(method="random", num_samples=64, iterations=2, horizon=HORIZON, seed=0)
    result = Planner(blob.Model(), cfg).plan(*ctx)
    noop_cost = float(
        PixelGoalCost()(
            blob.image(START)[None, None].expand(1, HORIZON, -1, -1, -1), blob.image(TARGET)
        )[0]
    )
    assert result.cost < noop_cost
    assert torch.allclose(
        result.predicted[-1], blob.image(_final_position(result.actions)), atol=1e-5
    )


def test_seeded_and_reseedable(blob, ctx):
    cfg = PlannerConfig(num_samples=16, iterations=2, horizon=HORIZON, seed=3)
    a = Planner(blob.Model(), cfg).plan(*ctx).actions
    b = Planner(blob.Model(), cfg).plan(*ctx).actions
    np.testing.assert_array_equal(a, b)
    planner = Planner(blob.Model(), cfg.replace(seed=4))
    assert not np.array_equal(planner.plan(*ctx).actions, a)
    planner.reset(3)
    np.testing.assert_array_equal(planner.plan(*ctx).actions, a)


def test_action_repeat_holds_actions(blob, ctx):
    cfg = PlannerConfig(num_samples=8, iterations=1, horizon=5, action_repeat=2)
    actions = Planner(blob.Model(), cfg).plan(*ctx).actions
    assert actions.shape == (5, 4)
    np.testing.assert_array_equal(actions[0], actions[1])
    np.testing.assert_array_equal(actions[2], actions[3])


def test_warm_start_is_rescored_and_kept_when_optimal(blob, ctx):
    optimal = np.zeros((HORIZON, 4), np.float32)
    optimal[:, 0], optimal[:, 1] = 2.5 / HORIZON, -2.0 / HORIZON
    cfg = PlannerConfig(num_samples=8, iterations=1, horizon=HORIZON, init_std=0.3)
    result = Planner(blob.Model(), cfg).plan(*ctx, init_mean=optimal)
    np.testing.assert_allclose(result.actions, optimal, atol=1e-6)


def test_mppi_imagine_rolls_out_the_mean_once_more(blob, ctx):
    model = blob.Model()
    cfg = PlannerConfig(method="mppi", num_samples=8, iterations=2, horizon=HORIZON)
    result = Planner(model, cfg).plan(*ctx)
    assert result.cost is None and result.predicted is None
    result = Planner(model, cfg).plan(*ctx, imagine=True)
    assert model.batch_sizes[-1] == 1 and result.predicted.shape == (HORIZON, 3, 64, 64)
    np.testing.assert_allclose(result.actions, result.mean)


def test_bad_model_output_and_bad_costs_raise(blob, ctx):
    class Wrong:
        def rollout(self, context_frames, actions, num_samples=1, generator=None):
            return torch.zeros(1, 1, 3, 64, 64)

    cfg = PlannerConfig(num_samples=4, iterations=1, horizon=2)
    with pytest.raises(PlanningError, match=r"shape \(4, 2, 3, 64, 64\)"):
        Planner(Wrong(), cfg).plan(*ctx)
    with pytest.raises(CostError, match=r"shape \(4,\)"):
        Planner(blob.Model(), cfg, cost_fn=lambda p, g: p.mean(dim=(2, 3, 4))).plan(*ctx)
    with pytest.raises(TypeError, match="rollout"):
        Planner(object(), cfg)
    ctx, acts, goal = ctx
    with pytest.raises(ValueError, match="context_actions must have shape"):
        Planner(blob.Model(), cfg).plan(ctx, torch.zeros(2, 4), goal)
    with pytest.raises(TypeError, match="to_float_chw"):
        Planner(blob.Model(), cfg).plan((ctx * 255).to(torch.uint8), acts, goal)


def test_prior_mean_plans_on_the_deterministic_rollout(blob, ctx):
    calls = []

    class Recording(blob.Model):
        def rollout(self, context_frames, actions, num_samples=1, generator=None, sample=True):
            calls.append(sample)
            return super().rollout(context_frames, actions, num_samples, generator)

    cfg = PlannerConfig(num_samples=4, iterations=2, horizon=2)
    Planner(Recording(), cfg).plan(*ctx)
    Planner(Recording(), cfg.replace(prior_mean=True)).plan(*ctx)
    assert calls == [True, True, False, False]
    # a model whose rollout cannot give its mean: a clear error naming the option
    with pytest.raises(PlanningError, match="prior_mean=True needs model.rollout"):
        Planner(blob.Model(), cfg.replace(prior_mean=True)).plan(*ctx)
    with pytest.raises(PlannerConfigError, match="prior_mean"):
        PlannerConfig(prior_mean="yes")


def test_latent_temperature_reaches_the_model_rollout(blob, ctx):
    calls = []

    class Warm(blob.Model):
        def step(self, state, action, generator=None, sample=True, temperature=1.0):
            raise AssertionError("only rollout is called")

        def rollout(self, context_frames, actions, num_samples=1, generator=None, **kw):
            calls.append(kw)
            return super().rollout(context_frames, actions, num_samples, generator)

    cfg = PlannerConfig(num_samples=4, iterations=1, horizon=2)
    Planner(Warm(), cfg).plan(*ctx)
    Planner(Warm(), cfg.replace(latent_temperature=0.5)).plan(*ctx)
    assert calls == [{}, {"temperature": 0.5}]  # the default passes nothing (any model works)
    with pytest.raises(
        PlanningError, match="latent_temperature: temperature=0.5 needs a model whose rollout"
    ):
        Planner(blob.Model(), cfg.replace(latent_temperature=0.5)).plan(*ctx)
    for bad in (-1.0, float("nan"), "warm"):
        with pytest.raises(PlannerConfigError, match="latent_temperature"):
            PlannerConfig(latent_temperature=bad)


def test_pixel_cost_weights_the_final_frame():
    w = step_weights(4, 10.0)
    assert torch.allclose(w, torch.tensor([1, 1, 1, 10]) / 13.0)
    goal = torch.zeros(3, 8, 8)
    pred = torch.zeros(2, 4, 3, 8, 8)
    pred[0, -1] = 0.5  # wrong only at the end
    pred[1, 0] = 0.5  # wrong only at the start
    mse = PixelGoalCost("mse", 10.0)(pred, goal)
    assert torch.allclose(mse, torch.tensor([0.25 * 10 / 13, 0.25 / 13]))
    l1 = PixelGoalCost("l1", 10.0)(pred, goal)
    assert torch.allclose(l1, torch.tensor([0.5 * 10 / 13, 0.5 / 13]))


def test_blurred_pixel_cost_credits_near_misses():
    """Raw SSE prefers an object gone from view to one 3 px off its goal (it charges the near
    miss twice); with cost_blur the near miss is the cheapest, the far one the dearest."""
    goal = torch.zeros(3, 64, 64)
    goal[:, 30:34, 30:34] = 1.0
    pred = torch.zeros(3, 1, 3, 64, 64)
    pred[0, 0, :, 30:34, 33:37] = 1.0  # 3 px off
    pred[1, 0, :, 30:34, 50:54] = 1.0  # 20 px off
    raw = PixelGoalCost("sse", 1.0)(pred, goal)
    assert raw[2] < raw[0] < raw[1]  # pred[2]: gone
    blurred = PixelGoalCost.from_config(PlannerConfig.vp2(cost_blur=2.0))(pred, goal)
    assert blurred[0] < blurred[2] < blurred[1]
    assert gaussian_blur(goal, 2.0).sum() == pytest.approx(float(goal.sum()), rel=1e-5)
    assert torch.equal(PixelGoalCost("sse", 1.0, blur=0.0)(pred, goal), raw)
    with pytest.raises(PlannerConfigError, match="cost_blur needs to be >= 0"):
        PlannerConfig(cost_blur=-1.0)


def test_chroma_term_weighs_a_coloured_object_over_a_grey_arm():
    """Goal: a red square on white. A frame with the object gone costs less than one with
    the object right and a grey arm too under the plain blurred SSE; with cost_chroma 30 the
    missing object is the dearer. Grey-level changes alone add nothing to the chroma term."""
    goal = torch.ones(3, 64, 64)
    goal[1:, 20:30, 20:30] = 0.0  # red
    pred = torch.ones(2, 1, 3, 64, 64)  # [0]: the object gone
    pred[1, 0] = goal
    pred[1, 0, :, 40:60, 40:60] = 0.5  # [1]: object in place, a grey arm beside it
    plain = PixelGoalCost("sse", 1.0, 8.0)(pred, goal)
    assert plain[0] < plain[1]
    cfg = PlannerConfig.push(cost_chroma=30.0)
    chroma = PixelGoalCost.from_config(cfg)(pred, goal)
    assert chroma[1] < chroma[0] and chroma[1] == pytest.approx(float(plain[1]), rel=1e-6)
    # a grey-level shift of every pixel (all channels alike) adds nothing to the chroma term
    grey_shift = PixelGoalCost("sse", 1.0, 0.0, chroma=30.0)(goal[None, None] - 0.1, goal)
    assert float(grey_shift) == pytest.approx(0.1**2 * 3 * 64 * 64, rel=1e-4)
    with pytest.raises(ValueError, match="chroma needs to be finite and >= 0"):
        PixelGoalCost(chroma=-1.0)
    with pytest.raises(PlannerConfigError, match="cost_chroma"):
        PlannerConfig(cost_chroma=float("nan"))


def test_tiny_ghvae_end_to_end(tiny_model):
    cfg = PlannerConfig(num_samples=6, iterations=2, horizon=3, seed=0)
    gen = torch.Generator().manual_seed(0)
    context = torch.rand(2, 3, 64, 64, generator=gen)
    goal = torch.rand(3, 64, 64, generator=gen)
    for method in ("cem", "mppi", "random"):
        result = Planner(tiny_model, cfg.replace(method=method)).plan(
            context, torch.zeros(1, 4), goal, imagine=True
        )
        assert result.actions.shape == (3, 4) and np.all(np.isfinite(result.actions))
        assert result.predicted.shape == (3, 3, 64, 64)
        assert result.rollouts == cfg.iterations + (method == "mppi")


@pytest.mark.parametrize("std", [1.0, 8.0, 40.0])
def test_gaussian_blur_matches_a_reflect_padded_convolution(std):
    import math

    import torch.nn.functional as F

    images = torch.rand(2, 3, 3, 64, 48, generator=torch.Generator().manual_seed(0))

    def conv(x: torch.Tensor, axis_len: int) -> torch.Tensor:  # 1-D blur along the last axis
        r = min(math.ceil(3 * std), axis_len - 1)
        k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=x.dtype) / std) ** 2)
        flat = F.pad(x.reshape(-1, 1, x.shape[-1]), (r, r), mode="reflect")
        return F.conv1d(flat, (k / k.sum()).view(1, 1, -1)).reshape(x.shape)

    ref = conv(conv(images, 48).transpose(-1, -2), 64).transpose(-1, -2)
    torch.testing.assert_close(gaussian_blur(images, std), ref, rtol=0, atol=1e-5)


def test_particles_average_the_cost_over_latent_samples(blob, ctx):
    """particles = K: one rollout of N candidates x K samples, each candidate's cost the mean
    of its K costs, the plan's frames its first particle's; bad values name the field."""
    seen = []

    class TwoWorlds(blob.Model):  # particle 0: the blob moves; particle 1: a blank frame
        def rollout(self, context_frames, actions, num_samples=1, generator=None):
            seen.append(num_samples)
            moved = super().rollout(context_frames, actions, 1, generator)
            if num_samples == 1:
                return moved
            return torch.stack([moved, torch.zeros_like(moved)], dim=1)

    cost = PixelGoalCost("mse", 1.0)
    goal = ctx[2]
    cfg = PlannerConfig(method="cem", num_samples=6, iterations=1, horizon=2, seed=0)
    one = Planner(TwoWorlds(), cfg, cost_fn=cost).plan(*ctx)
    two = Planner(TwoWorlds(), cfg.replace(particles=2), cost_fn=cost).plan(*ctx)
    assert seen == [1, 2]
    blank = float(cost(torch.zeros(1, 2, *goal.shape), goal)[0])
    # the same seeded candidates: each cost is the mean of the blob's and the blank's
    np.testing.assert_allclose(
        two.iteration_costs[0], (one.iteration_costs[0] + blank) / 2, rtol=1e-5
    )
    assert two.predicted.shape == (2, 3, 64, 64) and two.predicted.abs().sum() > 0
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(PlannerConfigError, match="particles"):
            PlannerConfig(particles=bad)
    with pytest.raises(PlannerConfigError, match="particles needs to be 1 with prior_mean"):
        PlannerConfig(particles=2, prior_mean=True)
