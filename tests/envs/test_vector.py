"""The native vector env: make_vec, 64 envs, seeds, NEXT_STEP autoreset, partial resets.

Autoreset semantics are pinned against Gymnasium's own ``SyncVectorEnv`` running N single
envs (``vectorization_mode="sync"``) with the prior mean (``sample=False``), where both
must produce the same flags, clips and rewards, and frames equal up to float rounding.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from ghvae_env.envs.model_env import InvalidActionError, InvalidOptionError
from ghvae_env.envs.vector import GHVAERoboNetVectorEnv


def _actions(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (n, 4)).astype(np.float32)


def test_make_vec_default_mode_is_the_native_vector_env_with_64_envs(kw):
    venv = gym.make_vec("GHVAE-RoboNet-v0", num_envs=64, **kw)
    assert isinstance(venv, GHVAERoboNetVectorEnv)
    assert venv.spec.kwargs["vectorization_mode"] == "vector_entry_point"
    assert venv.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
    assert venv.max_episode_steps is None and venv.autoreset_mode is AutoresetMode.NEXT_STEP
    assert venv.single_observation_space == gym.spaces.Box(0, 255, (64, 64, 3), np.uint8)
    assert venv.action_space.shape == (64, 4) and venv.observation_space.shape == (64, 64, 64, 3)
    obs, info = venv.reset(seed=0)
    assert obs.shape == (64, 64, 64, 3) and obs.dtype == np.uint8
    assert info["_step"].all() and info["clip_index"].shape == (64,)
    for t in range(2):
        obs2, rewards, terminated, truncated, info = venv.step(_actions(64, t))
        assert obs2.shape == (64, 64, 64, 3) and not np.shares_memory(obs, obs2)
        assert rewards.shape == (64,) and rewards.dtype == np.float64 and (rewards < 0).all()
        assert info["_is_success"].all() and info["is_success"].dtype == bool
        assert terminated.dtype == bool and not terminated.any() and not truncated.any()
        assert (info["step"] == t + 1).all()
    venv.close()


def test_explicit_vector_entry_point_and_sync_mode_share_one_model(kw):
    native = gym.make_vec(
        "GHVAE-RoboNet-v0", num_envs=2, vectorization_mode="vector_entry_point", **kw
    )
    sync = gym.make_vec("GHVAE-RoboNet-v0", num_envs=2, vectorization_mode="sync", **kw)
    models = {id(native.model), *(id(e.unwrapped.model) for e in sync.envs)}
    assert len(models) == 1


def test_per_env_seeds_match_single_envs(kw):
    venv = GHVAERoboNetVectorEnv(4, **kw)
    obs, info = venv.reset(seed=10)
    single = gym.make("GHVAE-RoboNet-v0", **kw)
    for i in range(4):
        o, inf = single.reset(seed=10 + i)
        np.testing.assert_array_equal(obs[i], o)
        assert info["clip_index"][i] == inf["clip_index"]
    obs_list, _ = venv.reset(seed=[13, None, 11, 12])
    np.testing.assert_array_equal(obs_list[0], single.reset(seed=13)[0])
    np.testing.assert_array_equal(obs_list[2], obs[1])
    with pytest.raises(InvalidOptionError, match="seed must be"):
        venv.reset(seed=[1, 2])


def test_seeded_vector_rollouts_are_bit_identical(kw):
    def run(seed):
        venv = GHVAERoboNetVectorEnv(3, **kw)
        frames = [venv.reset(seed=seed)[0]]
        frames += [venv.step(_actions(3, t))[0] for t in range(3)]
        return np.stack(frames)

    a = run(5)
    np.testing.assert_array_equal(a, run(5))
    assert not np.array_equal(a[1:], run(6)[1:])


def test_autoreset_next_step_matches_sync_vector_env(kw):
    """NEXT_STEP, staggered episode ends, goals from clips: native == SyncVectorEnv."""
    args = dict(num_envs=3, max_episode_steps=3, sample=False, goal_from_clip=True, **kw)
    native = gym.make_vec("GHVAE-RoboNet-v0", vectorization_mode="vector_entry_point", **args)
    sync = gym.make_vec("GHVAE-RoboNet-v0", vectorization_mode="sync", **args)
    (o1, i1), (o2, i2) = native.reset(seed=0), sync.reset(seed=0)
    np.testing.assert_array_equal(o1, o2)
    np.testing.assert_array_equal(i1["clip_index"], i2["clip_index"])
    saw_autoreset = False
    for t in range(8):
        if t == 1:  # stagger: env 1 starts a new episode one step later than the others
            mask = np.array([False, True, False])
            r1, r2 = (
                native.reset(options={"reset_mask": mask}),
                sync.reset(options={"reset_mask": mask}),
            )
            np.testing.assert_array_equal(r1[0], r2[0])
        acts = _actions(3, t)
        o1, rew1, te1, tr1, i1 = native.step(acts)
        o2, rew2, te2, tr2, i2 = sync.step(acts)
        np.testing.assert_array_equal(te1, te2)
        np.testing.assert_array_equal(tr1, tr2)
        np.testing.assert_array_equal(i1["step"], i2["step"])
        assert (
            np.abs(o1.astype(int) - o2.astype(int)).max() <= 1
        )  # batched vs batch-1 float rounding
        np.testing.assert_allclose(rew1, rew2, atol=2 / 255)
        if "clip_index" in i2:  # rows that were autoreset this step
            saw_autoreset = True
            reset_rows = i2["_clip_index"]
            np.testing.assert_array_equal(i1["_clip_index"], reset_rows)
            np.testing.assert_array_equal(
                i1["clip_index"][reset_rows], i2["clip_index"][reset_rows]
            )
            np.testing.assert_array_equal(o1[reset_rows], o2[reset_rows])  # context frames, exact
            assert (rew1[reset_rows] == 0).all() and (i1["step"][reset_rows] == 0).all()
    assert saw_autoreset


def test_default_truncates_at_the_clip_end_like_single_envs(kw):
    """No max_episode_steps: each sub-env ends when its clip does (12 - 2 steps), as sync."""
    args = dict(num_envs=2, sample=False, **kw)
    native = gym.make_vec("GHVAE-RoboNet-v0", vectorization_mode="vector_entry_point", **args)
    sync = gym.make_vec("GHVAE-RoboNet-v0", vectorization_mode="sync", **args)
    native.reset(seed=1)
    sync.reset(seed=1)
    truncs = []
    for t in range(11):
        *_, tr1, i1 = native.step(_actions(2, t))
        *_, tr2, i2 = sync.step(_actions(2, t))
        np.testing.assert_array_equal(tr1, tr2)
        np.testing.assert_array_equal(i1["is_success"], i2["is_success"])
        truncs.append(tr1.tolist())
    assert truncs == [[False, False]] * 9 + [[True, True], [False, False]]
    assert native.get_attr("context_frames") == (2, 2)
    assert native.call("has_goal")[0].all()
    native.set_attr("sample", [False, False])
    with pytest.raises(InvalidOptionError, match="set_attr"):
        native.set_attr("sample", [True, False])


def test_autoreset_ignores_the_action_and_restarts_from_a_clip(kw):
    venv = GHVAERoboNetVectorEnv(2, max_episode_steps=1, **kw)
    venv.reset(seed=0)
    _, _, _, truncated, _ = venv.step(_actions(2))
    assert truncated.all()
    obs, rewards, terminated, truncated, info = venv.step(_actions(2, 1))
    assert not (terminated.any() or truncated.any() or rewards.any())
    for i in range(2):
        np.testing.assert_array_equal(obs[i], venv.clips.frames[info["clip_index"][i], 1])
    assert venv.step(_actions(2, 2))[3].all()


def test_partial_reset(kw):
    venv = GHVAERoboNetVectorEnv(3, context_frames=1, max_episode_steps=2, **kw)
    with pytest.raises(gym.error.ResetNeeded):
        venv.reset(options={"reset_mask": np.array([True, False, False])})
    venv.reset(seed=0)
    venv.step(_actions(3))
    before = venv.step(_actions(3, 1))[0]  # all truncated: autoreset pending
    mask = np.array([False, True, False])
    obs, info = venv.reset(options={"reset_mask": mask, "clip_index": 5})
    np.testing.assert_array_equal(obs[[0, 2]], before[[0, 2]])
    np.testing.assert_array_equal(obs[1], venv.clips.frames[5, 0])
    np.testing.assert_array_equal(info["_step"], mask)
    _, _, _, _, info = venv.step(_actions(3, 2))
    np.testing.assert_array_equal(info["step"], [0, 1, 0])  # 0, 2 autoreset; 1 stepped
    for bad, match in [
        (np.array([1, 0, 0]), "bool numpy array"),
        (np.zeros(3, bool), "at least one"),
        (np.ones(2, bool), r"shape \(3,\)"),
    ]:
        with pytest.raises(InvalidOptionError, match=match):
            venv.reset(options={"reset_mask": bad})


def test_batched_and_broadcast_options(kw):
    venv = GHVAERoboNetVectorEnv(2, **kw)
    goal = np.full((64, 64, 3), 7, np.uint8)
    ctx = venv.clips.frames[:2, :3]  # (2, 3, 64, 64, 3)
    obs, info = venv.reset(
        seed=0,
        options={
            "context_frames": ctx,
            "context_actions": venv.clips.actions[:2, :2],
            "goal_image": goal,
        },
    )
    np.testing.assert_array_equal(obs, ctx[:, -1])
    assert "clip_index" not in info and info["_goal_distance"].all()
    _, rewards, _, _, info = venv.step(_actions(2))
    assert (rewards < 0).all()
    np.testing.assert_array_equal(rewards, -info["goal_distance"])
    with pytest.raises(InvalidOptionError, match=r"'context_frames'.*num_envs=2"):
        venv.reset(options={"context_frames": np.zeros((3, 2, 64, 64, 3), np.uint8)})
    with pytest.raises(InvalidOptionError, match=r"'goal_image'.*uint8"):
        venv.reset(options={"goal_image": goal.astype(np.float32)})


def test_invalid_actions_name_the_problem_and_leave_env_usable(kw):
    venv = GHVAERoboNetVectorEnv(3, **kw)
    venv.reset(seed=0)
    bad = _actions(3)
    bad[1, 2] = np.nan
    for actions, match in [
        (bad, r"NaN or inf in envs \[1\]"),
        (_actions(2), r"shape \(3, 4\)"),
        (np.zeros((3, 4), np.int32), "float dtype"),
    ]:
        with pytest.raises(InvalidActionError, match=match):
            venv.step(actions)
    assert (venv.step(_actions(3) * 10)[4]["step"] == 1).all()  # out of bounds: clipped


def test_step_before_reset_and_bad_kwargs(kw):
    with pytest.raises(gym.error.ResetNeeded):
        GHVAERoboNetVectorEnv(2, **kw).step(_actions(2))
    with pytest.raises(InvalidOptionError, match="num_envs"):
        GHVAERoboNetVectorEnv(0, **kw)
    with pytest.raises(InvalidOptionError, match="max_episode_steps"):
        GHVAERoboNetVectorEnv(2, max_episode_steps=0, **kw)


def test_render(kw):
    venv = GHVAERoboNetVectorEnv(2, render_mode="rgb_array", **kw)
    obs, _ = venv.reset(seed=0)
    frames = venv.render()
    assert len(frames) == 2
    np.testing.assert_array_equal(np.stack(frames), obs)


def test_temperature_zero_is_the_prior_mean_and_a_plain_model_is_refused(kw, plain_model):
    mode = dict(vectorization_mode="vector_entry_point", num_envs=2)
    cold = gym.make_vec("GHVAE-RoboNet-v0", temperature=0.0, **mode, **kw)
    mean = gym.make_vec("GHVAE-RoboNet-v0", sample=False, **mode, **kw)
    cold.reset(seed=2)
    mean.reset(seed=2)
    for t in range(3):
        o1, o2 = cold.step(_actions(2, t))[0], mean.step(_actions(2, t))[0]
        assert np.abs(o1.astype(int) - o2.astype(int)).max() <= 1
    assert cold.unwrapped.temperature == 0.0

    others = {k: v for k, v in kw.items() if k != "checkpoint"}
    with pytest.raises(InvalidOptionError, match="PlainModel.step does not"):
        gym.make_vec("GHVAE-RoboNet-v0", model=plain_model, temperature=0.5, **mode, **others)
    gym.make_vec("GHVAE-RoboNet-v0", model=plain_model, **mode, **others).close()  # the default
