"""The toy scene: determinism, shapes, and that the future depends on the action."""

from __future__ import annotations

import numpy as np
import pytest

from ghvae_env.data.toy import (
    AGENT_SIDE,
    MAX_STEP_PX,
    OBJECT_SIDE,
    SCENE_METADATA,
    SIZE,
    STATE_DIM,
    WALL,
    ToyScene,
    rollout_episode,
)


def _scene(agent, objects, height=0.0, closed=False) -> ToyScene:
    objects = np.asarray(objects, dtype=float).reshape(-1, 2)
    return ToyScene(
        agent=np.asarray(agent, dtype=float),
        objects=objects,
        colours=np.arange(len(objects)),
        height=height,
        gripper_closed=closed,
    )


def test_rollout_shapes_and_ranges():
    ep = rollout_episode(seed=3, steps=12)
    assert ep["frames"].shape == (12, SIZE, SIZE, 3) and ep["frames"].dtype == np.uint8
    assert ep["actions"].shape == (11, 4) and ep["actions"].dtype == np.float32
    assert ep["states"].shape == (12, STATE_DIM) and ep["states"].dtype == np.float32
    assert np.all(np.abs(ep["actions"]) <= 1.0)
    assert set(np.unique(ep["actions"][:, 3])) <= {-1.0, 1.0}  # gripper is open/close


def test_rollout_is_deterministic_per_seed():
    a, b, c = rollout_episode(7, 20), rollout_episode(7, 20), rollout_episode(8, 20)
    for k in ("frames", "actions", "states"):
        assert a[k].tobytes() == b[k].tobytes(), k
    assert not np.array_equal(a["frames"], c["frames"])


def test_different_actions_give_different_futures_from_the_same_start():
    right = np.tile(np.float32([1, 0, 0, -1]), (8, 1))
    left = np.tile(np.float32([-1, 0, 1, 1]), (8, 1))
    r, le = rollout_episode(5, 9, actions=right), rollout_episode(5, 9, actions=left)
    assert np.array_equal(r["frames"][0], le["frames"][0])  # layout depends on the seed only
    assert not np.array_equal(r["frames"][-1], le["frames"][-1])
    assert np.array_equal(r["actions"], right)
    # replaying the policy's own actions reproduces the policy rollout exactly
    ep = rollout_episode(5, 9)
    assert np.array_equal(rollout_episode(5, 9, actions=ep["actions"])["frames"], ep["frames"])


def test_agent_pushes_block_it_runs_into():
    scene = _scene(agent=(20.0, 32.0), objects=[(30.0, 32.0)])
    before = scene.render()
    for _ in range(4):
        scene.step([1.0, 0.0, 0.0, -1.0])
    assert scene.agent[0] == pytest.approx(20.0 + 4 * MAX_STEP_PX)
    # the block now sits just ahead of the agent, same row
    assert scene.objects[0, 0] == pytest.approx(scene.agent[0] + (AGENT_SIDE + OBJECT_SIDE) / 2)
    assert scene.objects[0, 1] == pytest.approx(32.0)
    after = scene.render()
    red = np.all(after == (230, 50, 45), axis=-1)
    assert red.sum() == OBJECT_SIDE**2 and not np.array_equal(before, after)
    cols = np.nonzero(red.any(axis=0))[0]
    assert cols.min() > 30 - OBJECT_SIDE / 2  # moved right


def test_block_stays_put_when_agent_moves_away():
    scene = _scene(agent=(20.0, 32.0), objects=[(30.0, 32.0)])
    for _ in range(3):
        scene.step([-1.0, 0.5, 0.0, 1.0])
    assert np.array_equal(scene.objects, [[30.0, 32.0]])


def test_blocks_push_blocks_and_walls_stop_them_without_overlap():
    hi = SIZE - WALL - OBJECT_SIDE / 2
    scene = _scene(agent=(30.0, 20.0), objects=[(38.0, 20.0), (47.0, 20.0)])
    for _ in range(20):
        scene.step([1.0, 0.0, 0.0, 0.0])
    (x0, y0), (x1, y1) = scene.objects
    assert x1 == pytest.approx(hi, abs=1e-3)  # pushed into the wall, not through it
    assert (
        x1 - x0 >= OBJECT_SIDE - 1e-6
        and x0 - scene.agent[0] >= (AGENT_SIDE + OBJECT_SIDE) / 2 - 1e-6
    )
    assert y0 == y1 == 20.0


def test_gripper_sets_colour_and_height_sets_shade():
    open_, closed = _scene((32.0, 32.0), [(10.0, 10.0)]), _scene((32.0, 32.0), [(10.0, 10.0)])
    open_.step([0, 0, 0, -1.0])
    closed.step([0, 0, 0, 1.0])
    po, pc = open_.render()[32, 32], closed.render()[32, 32]
    assert po[0] == po[1] == po[2]  # open: grey/white
    assert pc[0] > pc[2] + 100  # closed: yellow
    low, high = (
        _scene((32.0, 32.0), [(10.0, 10.0)], height=0.5),
        _scene((32.0, 32.0), [(10.0, 10.0)], height=0.5),
    )
    low.step([0, 0, -1.0, -1.0])
    high.step([0, 0, 1.0, -1.0])
    assert int(high.render()[32, 32, 0]) > int(low.render()[32, 32, 0])


def test_policy_interacts_with_objects():
    moved = 0
    for seed in range(10):
        st = rollout_episode(seed, 30)["states"]
        obj = st[:, 4:]
        present = obj[0] >= 0
        moved += bool(np.abs(obj[-1, present] - obj[0, present]).max() * SIZE > 1.0)
    assert moved >= 5


def test_metadata_and_bad_arguments():
    for key in ("scene", "robot", "controller", "camera"):
        assert key in SCENE_METADATA
    with pytest.raises(ValueError, match="steps must be an int >= 2, got 1"):
        rollout_episode(0, 1)
    with pytest.raises(ValueError, match=r"actions must have shape \(4, 4\)"):
        rollout_episode(0, 5, actions=np.zeros((5, 4)))
    with pytest.raises(ValueError, match="action must have 4 entries"):
        _scene((32.0, 32.0), [(10.0, 10.0)]).step([0.0, 0.0])
