"""VisualMPCAgent with the toy blob model: uint8 inputs, replanning schedule, warm start."""

from __future__ import annotations

import numpy as np
import pytest

from ghvae_env.data.frames import to_uint8_hwc
from ghvae_env.planning.agent import VisualMPCAgent
from ghvae_env.planning.config import PlannerConfig
from ghvae_env.planning.policies import NoOpPolicy, RandomPolicy

ACTIONS = np.zeros((1, 4), np.float32)


@pytest.fixture(scope="module")
def obs(blob) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frames 2 x 64 x 64 x 3 uint8 with a blob at the centre, actions 1 x 4, goal 8 px below)."""
    frames = to_uint8_hwc(blob.image((32.0, 32.0)))[None].repeat(2, axis=0)
    return frames, ACTIONS, to_uint8_hwc(blob.image((40.0, 32.0)))


def test_act_returns_a_bounded_float32_action_and_moves_towards_goal(blob, obs):
    agent = VisualMPCAgent(blob.Model(), PlannerConfig(num_samples=32, iterations=3, horizon=3))
    action = agent.act(*obs)
    assert action.shape == (4,) and action.dtype == np.float32
    assert np.all(np.abs(action) <= 1.0)
    assert action[0] > 0.2, action  # the goal blob is below: move down (rows grow)
    assert agent.replanned and agent.stats["plans"] == 1
    assert agent.last_plan is not None and agent.last_plan.predicted.shape == (3, 3, 64, 64)


def test_replan_every_keeps_the_remaining_plan(blob, obs):
    model = blob.Model()
    cfg = PlannerConfig(num_samples=8, iterations=2, horizon=4, replan_every=2)
    agent = VisualMPCAgent(model, cfg)
    out = [agent.act(*obs) for _ in range(5)]
    assert len(model.batch_sizes) == 3 * cfg.iterations  # plans at steps 0, 2, 4
    assert [agent.plan_step] == [0]
    np.testing.assert_array_equal(out[4], agent.last_plan.actions[0])
    assert agent.stats["plans"] == 3 and agent.stats["model_time_s"] > 0


def test_warm_start_shifts_the_previous_mean(blob, obs):
    cfg = PlannerConfig(num_samples=8, iterations=1, horizon=4)
    agent = VisualMPCAgent(blob.Model(), cfg)
    agent.act(*obs)
    mean = agent.last_plan.mean
    shifted = agent._warm_start()
    np.testing.assert_array_equal(shifted[:3], mean[1:])
    np.testing.assert_array_equal(shifted[3], np.zeros(4))
    cold = VisualMPCAgent(blob.Model(), cfg.replace(warm_start=False))
    cold.act(*obs)
    assert cold._warm_start() is None


def test_reset_reseeds_and_forgets(blob, obs):
    agent = VisualMPCAgent(blob.Model(), PlannerConfig(num_samples=8, iterations=1, horizon=3))
    agent.reset(seed=5)
    a = [agent.act(*obs) for _ in range(2)]
    agent.reset(seed=5)
    b = [agent.act(*obs) for _ in range(2)]
    np.testing.assert_array_equal(np.stack(a), np.stack(b))
    assert agent.stats["plans"] == 2


@pytest.mark.parametrize(
    "change, match",
    [
        ({"frames": "float"}, "frames must be uint8"),
        ({"actions": np.zeros((2, 4), np.float32)}, r"actions must .*shape \(1, 4\)"),
        ({"goal": "crop"}, "goal_image must be uint8 64 x 64 x 3"),
        ({"actions": np.full((1, 4), np.nan, np.float32)}, "finite"),
    ],
)
def test_bad_inputs_raise(blob, obs, change, match):
    frames, actions, goal = obs
    if change.get("frames") == "float":
        frames = frames.astype(np.float32)
    if change.get("goal") == "crop":
        goal = goal[:32]
    actions = change.get("actions", actions)
    agent = VisualMPCAgent(blob.Model(), PlannerConfig(num_samples=4, iterations=1, horizon=2))
    with pytest.raises(ValueError, match=match):
        agent.act(frames, actions, goal)


def test_baseline_policies(obs):
    rnd = RandomPolicy()
    rnd.reset(seed=1)
    a = rnd.act(*obs)
    rnd.reset(seed=1)
    np.testing.assert_array_equal(a, rnd.act(*obs))
    assert a.dtype == np.float32 and np.all(np.abs(a) <= 1)
    np.testing.assert_array_equal(NoOpPolicy().act(*obs), np.zeros(4))
