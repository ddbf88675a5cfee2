"""The random interaction policy, driven by a fake kinematic end effector (no simulator)."""

from __future__ import annotations

import numpy as np
import pytest

from ghvae_env.sim.policy import PolicyConfig, RandomInteractionPolicy
from ghvae_env.sim.scene import ObjectSpec

TOP = np.array([0.0, 0.0, 0.8])
SCALE = 0.04
OBJECTS = [
    ObjectSpec("box", (0.03, 0.02, 0.025), (1.0, 0.0, 0.0, 1.0)),
    ObjectSpec("ball", (0.025, 0.025, 0.025), (0.0, 0.0, 1.0, 1.0)),
]
POSITIONS = np.array([[0.05, -0.05, 0.825], [-0.08, 0.07, 0.825]])


def _drive(seed: int, steps: int = 60, config: PolicyConfig | None = None):
    """Follow the policy with an end effector that moves 60 % of each commanded step."""
    policy = RandomInteractionPolicy(
        config or PolicyConfig(), TOP, SCALE, np.random.default_rng(seed)
    )
    policy.reset(OBJECTS)
    eef = np.array([-0.07, 0.0, 0.93])
    actions, path = [], []
    for _ in range(steps):
        a = policy.act(eef, POSITIONS)
        actions.append(a)
        eef = eef + 0.6 * SCALE * a[:3]
        path.append(eef.copy())
    return np.array(actions), np.array(path), policy


def test_actions_are_valid_and_deterministic():
    a1, _, _ = _drive(0)
    a2, _, _ = _drive(0)
    a3, _, _ = _drive(1)
    assert a1.dtype == np.float32 and a1.shape == (60, 4)
    assert np.all(np.abs(a1) <= 1.0)
    assert set(np.unique(a1[:, 3])) <= {-1.0, 1.0}
    np.testing.assert_array_equal(a1, a2)
    assert not np.array_equal(a1, a3)


def test_object_bias_reaches_objects():
    """With p_object = 1 the end effector gets within 3 cm of an object in every run."""
    cfg = PolicyConfig(p_object=1.0)
    for seed in range(10):
        _, path, policy = _drive(seed, steps=30, config=cfg)
        assert policy.primitives[0].split(":")[0] in {"push", "grasp"}
        d = np.linalg.norm(path[:, None, :2] - POSITIONS[None, :, :2], axis=-1).min()
        assert d < 0.03, f"seed {seed}: closest approach {d:.3f} m"


def test_random_only_policy_stays_in_workspace():
    cfg = PolicyConfig(p_object=0.0)
    _, path, policy = _drive(3, steps=80, config=cfg)
    assert set(policy.primitives) == {"random"}
    assert np.all(np.abs(path[:, :2]) < cfg.workspace_half_extent + 0.05)


def test_policy_config_errors_name_field():
    with pytest.raises(ValueError, match=r"PolicyConfig.p_object must be in \[0, 1\]"):
        PolicyConfig(p_object=1.5)
    with pytest.raises(ValueError, match="action_scale_m must be > 0"):
        RandomInteractionPolicy(PolicyConfig(), TOP, 0.0, np.random.default_rng(0))
