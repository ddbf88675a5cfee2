"""iCEM, VP2's MPPI and the VP2 cost on toy problems with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ghvae_env.planning.agent import VisualMPCAgent
from ghvae_env.planning.config import PlannerConfig
from ghvae_env.planning.costs import PixelGoalCost
from ghvae_env.planning.planners import Planner, SequenceScorer, coloured_noise

CTX = torch.zeros(2, 3, 64, 64)
CTX_ACTIONS = torch.zeros(1, 4)
GOAL = torch.zeros(3, 64, 64)
TARGET = torch.linspace(-0.6, 0.6, 10)[:, None].repeat(1, 4)  # (H, A) a smooth optimum


class Quadratic:
    """Scores action sequences by their squared distance to ``TARGET`` (no frames)."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def score_sequences(self, frames, actions, goal):
        self.batches.append(len(actions))
        future = actions[:, frames.shape[1] - 1 :]  # (N, H, A)
        return ((future - TARGET) ** 2).sum(dim=(1, 2)), None


def _best(method: str, seed: int, **kw) -> float:
    cfg = PlannerConfig(method=method, num_samples=32, iterations=3, seed=seed, **kw)
    result = Planner(Quadratic(), cfg).plan(CTX, CTX_ACTIONS, GOAL)
    return min(float(c.min()) for c in result.iteration_costs)


def test_icem_beats_random_shooting_with_the_same_samples():
    assert isinstance(Quadratic(), SequenceScorer)
    icem = [_best("icem", s, num_elites=4) for s in range(4)]
    rand = [_best("random", s) for s in range(4)]
    # 3 x 32 candidates each; random shooting in 40 dimensions stays far from the optimum
    assert max(icem) < 0.6 * min(rand), (icem, rand)


def test_icem_keeps_elites_across_iterations_and_steps():
    model = Quadratic()
    cfg = PlannerConfig(method="icem", num_samples=16, iterations=2, num_elites=4, seed=0)
    agent_plan = Planner(model, cfg).plan(CTX, CTX_ACTIONS, GOAL)
    assert model.batches == [16, 16]  # kept elites replace new samples, the batch stays N
    assert agent_plan.elites.shape == (4, 10, 4)
    # the kept elites are re-scored: the second round's best is never worse than the first's
    first, second = agent_plan.iteration_costs
    assert second.min() <= first.min() + 1e-6
    agent = VisualMPCAgent(Quadratic(), cfg.replace(warm_start_pad="last"))
    frames = np.zeros((2, 64, 64, 3), np.uint8)
    agent.act(frames, np.zeros((1, 4), np.float32), frames[0])
    shifted = agent._warm_elites()
    np.testing.assert_array_equal(shifted[:, :-1], agent.last_plan.elites[:, 1:])
    np.testing.assert_array_equal(shifted[:, -1], agent.last_plan.elites[:, -1])


def test_coloured_noise_has_unit_variance_and_more_correlation_with_the_exponent():
    g = torch.Generator().manual_seed(0)
    white = coloured_noise(20000, 10, 2, 0.0, g)
    brown = coloured_noise(20000, 10, 2, 2.0, g)
    assert brown.shape == (20000, 10, 2)
    torch.testing.assert_close(brown.var(dim=0), torch.ones(10, 2), atol=0.05, rtol=0)

    def lag1(x):
        return float(
            torch.corrcoef(torch.stack([x[:, :-1, 0].flatten(), x[:, 1:, 0].flatten()]))[0, 1]
        )

    assert abs(lag1(white)) < 0.03 and lag1(brown) > 0.5


def test_vp2_preset_plans_with_vp2s_noise_weights_and_frozen_gripper():
    cfg = PlannerConfig.vp2(num_samples=64, seed=0)
    planner = Planner(Quadratic(), cfg)
    noise = planner._correlated_noise(20000)  # VP2: n_t = 0.5 n_{t-1} + 0.5 e_t
    std = noise.std(dim=0)[:, 0]
    assert std[0] == pytest.approx(1.0, abs=0.03)
    assert std[-1] == pytest.approx((0.25 / 0.75) ** 0.5, abs=0.03)
    result = planner.plan(CTX, CTX_ACTIONS, GOAL)
    assert np.all(result.actions[:, 3] == 0.0)  # init std 0 on the gripper
    plan_cost = float(((torch.from_numpy(result.actions) - TARGET) ** 2).sum())
    assert plan_cost < float((TARGET**2).sum())  # moved from the zero plan toward TARGET
    # weights exp(-gamma (c - c_min)) on raw costs: a huge gamma picks the best candidate
    sharp = Planner(Quadratic(), cfg.replace(gamma=1e6)).plan(CTX, CTX_ACTIONS, GOAL)
    sharp_cost = float(((torch.from_numpy(sharp.actions) - TARGET) ** 2).sum())
    assert sharp_cost == pytest.approx(float(sharp.iteration_costs[0].min()), rel=1e-4)


def test_sse_cost_is_vp2s_summed_squared_error():
    pred = torch.zeros(2, 3, 3, 4, 4)
    pred[1, 0] = 0.5  # one frame of candidate 1 off by 0.5 everywhere
    goal = torch.zeros(3, 4, 4)
    costs = PixelGoalCost("sse", final_step_weight=1.0)(pred, goal)
    torch.testing.assert_close(costs, torch.tensor([0.0, 0.25 * 48]))
    mse = PixelGoalCost("mse", final_step_weight=1.0)(pred, goal)
    torch.testing.assert_close(mse, torch.tensor([0.0, 0.25 / 3]))
