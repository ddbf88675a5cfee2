"""``RoboNet-Sim-v0``: Gymnasium conformance, state round trips, goal images, action checks.

One simulator is shared by the whole module (building one costs seconds).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import ghvae_env.sim  # noqa: F401  (registers RoboNet-Sim-v0)
from ghvae_env.sim import InvalidActionError, RoboNetSimEnv

pytestmark = pytest.mark.sim

ACTION = np.array([0.6, -0.4, -0.5, 1.0], dtype=np.float32)


@pytest.fixture(scope="module")
def env():
    env = gym.make("RoboNet-Sim-v0", render_mode="rgb_array")
    yield env
    env.close()


def test_registration_and_spaces(env):
    assert env.spec.id == "RoboNet-Sim-v0"
    assert env.spec.max_episode_steps == 30
    assert isinstance(env.unwrapped, RoboNetSimEnv)
    assert env.observation_space == gym.spaces.Box(0, 255, (64, 64, 3), np.uint8)
    assert env.action_space == gym.spaces.Box(-1.0, 1.0, (4,), np.float32)


def test_check_env(env):
    check_env(env.unwrapped, skip_render_check=False)


def test_reset_step_contract(env):
    obs, info = env.reset(seed=0)
    assert obs.dtype == np.uint8 and obs.shape == (64, 64, 3)
    n = info["object_positions"].shape[0]
    assert 1 <= n <= 3 and info["object_positions"].shape == (n, 3)
    assert info["eef_pos"].shape == (3,)
    assert info["state"].dtype == np.float64 and info["state"].ndim == 1
    obs2, reward, terminated, truncated, info2 = env.step(ACTION)
    assert type(reward) is float and reward == 0.0
    assert terminated is False and truncated is False
    assert not np.shares_memory(obs, obs2)
    assert not np.shares_memory(info["state"], info2["state"])
    moved = np.linalg.norm(info2["eef_pos"] - info["eef_pos"])
    assert 0.005 < moved < 0.05, f"one step moved the end effector {moved:.4f} m"


def test_frames_are_upright_and_not_blank(env):
    """Objects land where the camera model projects them; the table fills the lower half."""
    obs, info = env.reset(seed=1)
    assert obs.std() > 20, "blank frame"
    # The white table is at the bottom of an upright frame, the background at the top.
    assert obs[48:].mean() > obs[:16].mean() + 50
    scene = env.unwrapped.scene
    pos = info["object_positions"]
    a, b = pos.copy(), pos.copy()
    # Opposite tray corners, projecting to rows ~52 and ~23, columns ~37 and ~24: far from
    # the image centre lines, so a flipped or mirrored frame cannot pass by coincidence.
    a[0, :2], b[0, :2] = (0.14, 0.14), (-0.14, -0.14)
    diff = (
        np.abs(
            env.unwrapped.render_goal(a).astype(int) - env.unwrapped.render_goal(b).astype(int)
        ).sum(-1)
        > 30
    )
    for p in (a[:1], b[:1]):
        row, col = np.round(scene.project_to_pixels(p)[0]).astype(int)
        assert diff[row, col], "object not where the camera projects it"
        assert not diff[63 - row, col], "frame is flipped upside down"
        assert not diff[row, 63 - col], "frame is mirrored left-right"


def test_state_round_trip_reproduces_next_observations(env):
    obs0, info = env.reset(seed=2)
    state = env.unwrapped.get_state()
    np.testing.assert_array_equal(state, info["state"])
    first = [env.step(ACTION)[0] for _ in range(3)]
    env.reset(seed=99)  # a different episode (other objects) in between
    obs, _ = env.reset(options={"state": state})
    np.testing.assert_array_equal(obs, obs0)
    again = [env.step(ACTION)[0] for _ in range(3)]
    for x, y in zip(first, again, strict=True):
        np.testing.assert_array_equal(x, y)
    env.unwrapped.set_state(state)
    np.testing.assert_array_equal(env.step(ACTION)[0], first[0])


def test_set_state_rejects_garbage(env):
    env.reset(seed=3)
    state = env.unwrapped.get_state()
    with pytest.raises(ValueError, match="state must have shape"):
        env.unwrapped.set_state(state[:-1])
    bad = state.copy()
    bad[0] = 7.0
    with pytest.raises(ValueError, match="version"):
        env.unwrapped.set_state(bad)
    np.testing.assert_array_equal(env.unwrapped.get_state(), state)


def test_render_goal_moves_objects_and_restores_state(env):
    obs, info = env.reset(seed=4)
    state = info["state"]
    target = info["object_positions"].copy()
    target[:, 0] += 0.06
    goal = env.unwrapped.render_goal(target)
    assert goal.dtype == np.uint8 and goal.shape == (64, 64, 3) and goal.std() > 20
    changed = (np.abs(goal.astype(int) - obs.astype(int)).sum(-1) > 30).mean()
    assert changed > 0.01, "goal image shows no change"
    np.testing.assert_array_equal(env.unwrapped.get_state(), state)
    np.testing.assert_array_equal(env.render(), obs)
    with pytest.raises(ValueError, match="object_positions must have shape"):
        env.unwrapped.render_goal(target[:, :2])


def test_object_pixel_counts_see_occlusion_and_restore_state(env):
    obs, info = env.reset(seed=4)
    scene = env.unwrapped.scene
    state = env.unwrapped.get_state()
    n = len(info["object_positions"])
    seen, alone = scene.object_pixel_counts(), scene.object_pixel_counts(stow_arm=True)
    assert seen.shape == alone.shape == (n,) and seen.dtype == np.int64
    assert np.all(alone > 0), "every object on the table is in view with the arm stowed"
    assert np.all(seen <= alone), "the arm can only hide pixels"
    np.testing.assert_array_equal(env.unwrapped.get_state(), state)
    np.testing.assert_array_equal(env.render(), obs)  # the RGB render is unchanged after it
    # put the end effector right above object 0, between it and the camera: it hides some
    pos = info["object_positions"][0]
    for _ in range(25):
        eef = scene.eef_pos
        a = np.zeros(4, np.float32)
        a[:3] = np.clip((pos + [0.0, 0.0, 0.06] - eef) / scene.config.action_scale_m, -1, 1)
        env.step(a)
    covered = scene.object_pixel_counts()[0]
    assert covered < scene.object_pixel_counts(stow_arm=True)[0]


@pytest.mark.parametrize(
    ("action", "match"),
    [
        (np.zeros(3, np.float32), r"shape \(4,\)"),
        (np.zeros((1, 4), np.float32), r"shape \(4,\)"),
        (np.array([1, 0, 0, 0]), "float dtype"),
        (np.array([np.nan, 0, 0, 0], np.float32), "finite"),
        (np.array([0, np.inf, 0, 0], np.float32), "finite"),
        ("left", "float dtype"),
    ],
)
def test_bad_actions_raise_and_env_keeps_working(env, action, match):
    env.reset(seed=5)
    state = env.unwrapped.get_state()
    with pytest.raises(InvalidActionError, match=match) as err:
        env.unwrapped.step(action)
    assert "action" in str(err.value)
    np.testing.assert_array_equal(env.unwrapped.get_state(), state)
    obs, *_ = env.step(ACTION)
    assert obs.shape == (64, 64, 3)


def test_out_of_range_actions_are_clipped(env):
    env.reset(seed=6)
    state = env.unwrapped.get_state()
    big = env.step(np.array([5.0, 0, 0, 1], np.float32))[0]
    env.unwrapped.set_state(state)
    np.testing.assert_array_equal(env.step(np.array([1.0, 0, 0, 1], np.float32))[0], big)


def test_step_before_reset_and_after_close():
    env = RoboNetSimEnv()
    with pytest.raises(gym.error.ResetNeeded):
        env.step(ACTION)
    env.close()
    env.close()  # idempotent
    with pytest.raises(gym.error.ClosedEnvironmentError):
        env.reset(seed=0)
