"""SB3VecEnvAdapter: the native vector env as a stable-baselines3 VecEnv."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("stable_baselines3")

from stable_baselines3.common.vec_env import VecEnv, VecMonitor  # noqa: E402

from ghvae_env.wrappers import SB3VecEnvAdapter  # noqa: E402


@pytest.fixture
def venv(kw):
    return SB3VecEnvAdapter(
        gym.make_vec("GHVAE-RoboNet-v0", num_envs=3, max_episode_steps=2, goal_from_clip=True, **kw)
    )


def _actions(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (n, 4)).astype(np.float32)


def test_steps_and_resets_done_envs_within_the_step(venv):
    assert isinstance(venv, VecEnv) and venv.num_envs == 3
    assert venv.observation_space.shape == (64, 64, 3)
    venv.seed(0)
    obs = venv.reset()
    assert obs.shape == (3, 64, 64, 3) and obs.dtype == np.uint8
    assert all("clip_index" in info for info in venv.reset_infos)
    obs, rewards, dones, infos = venv.step(_actions(3))
    assert rewards.dtype == np.float32 and (rewards < 0).all() and not dones.any()
    assert all(info["TimeLimit.truncated"] is False for info in infos)
    last = obs
    obs, rewards, dones, infos = venv.step(_actions(3, 1))
    assert dones.all()
    for i, info in enumerate(infos):
        assert info["TimeLimit.truncated"] is True
        assert info["terminal_observation"].shape == (64, 64, 3)
        assert not np.array_equal(info["terminal_observation"], last[i])
        # the returned obs is the first frame of the next episode: a clip's last context frame
        clip = venv.reset_infos[i]["clip_index"]
        np.testing.assert_array_equal(obs[i], venv.venv.clips.frames[clip, 1])
    # the native env's own autoreset was cancelled: the next step is a real step
    _, _, dones, infos = venv.step(_actions(3, 2))
    assert not dones.any() and [info["step"] for info in infos] == [1, 1, 1]


def test_seed_reproducible_and_options(venv):
    venv.seed(4)
    a = venv.reset()
    venv.seed(4)
    np.testing.assert_array_equal(a, venv.reset())
    goal = np.zeros((64, 64, 3), np.uint8)
    venv.set_options({"goal_image": goal})
    venv.reset()
    np.testing.assert_array_equal(venv.venv.goal_images, np.stack([goal] * 3))
    venv.set_options([{"clip_index": 0}, {}, {"clip_index": 1}])
    with pytest.raises(ValueError, match="same option keys"):
        venv.reset()


def test_attributes_and_monitor(venv):
    assert venv.get_attr("render_mode") == [None] * 3
    assert venv.get_attr("max_episode_steps", indices=[1]) == [2]
    assert venv.env_is_wrapped(gym.Wrapper) == [False] * 3
    with pytest.raises(ValueError, match="indices=None"):
        venv.set_attr("sample", False, indices=[0])
    venv.set_attr("sample", False)
    assert venv.venv.sample is False
    monitored = VecMonitor(venv)
    monitored.reset()
    for t in range(2):
        _, _, dones, infos = monitored.step(_actions(3, t))
    assert dones.all() and all(info["episode"]["l"] == 2 for info in infos)
    monitored.close()


def test_refuses_same_step_vector_envs(kw):
    sync = gym.make_vec(
        "GHVAE-RoboNet-v0", num_envs=2, vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP}, **kw,
    )  # fmt: skip
    with pytest.raises(ValueError, match="NEXT_STEP"):
        SB3VecEnvAdapter(sync)
