"""TorchRL's GymWrapper on the native vector env (``autoreset_mode=DISABLED``, the mode
TorchRL resets with ``reset_mask``): its spec check and a rollout across an episode end."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from ghvae_env.envs.model_env import InvalidOptionError
from ghvae_env.envs.vector import GHVAERoboNetVectorEnv


def test_vector_env_has_the_attributes_of_gymnasiums_vector_envs(kw):
    venv = gym.make_vec("GHVAE-RoboNet-v0", num_envs=2, **kw)
    sync = gym.vector.SyncVectorEnv([lambda: gym.make("GHVAE-RoboNet-v0", **kw)])
    public = {a for a in dir(sync) if not a.startswith("_")} - {"envs", "env_fns"}
    assert not public - set(dir(venv)), public - set(dir(venv))  # envs/env_fns: Sync only
    assert venv.autoreset_mode is AutoresetMode.NEXT_STEP and venv.observation_mode == "same"


def test_autoreset_disabled_leaves_resets_to_the_caller(kw):
    venv = GHVAERoboNetVectorEnv(2, max_episode_steps=2, autoreset_mode="disabled", **kw)
    assert venv.autoreset_mode is AutoresetMode.DISABLED
    assert venv.metadata["autoreset_mode"] is AutoresetMode.DISABLED
    assert GHVAERoboNetVectorEnv.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
    venv.reset(seed=0)
    acts = np.zeros((2, 4), np.float32)
    venv.step(acts)
    assert venv.step(acts)[3].all()
    _, _, _, truncated, info = venv.step(acts)  # no autoreset: the episode just goes on
    assert "clip_index" not in info and (info["step"] == 3).all()
    obs, info = venv.reset(options={"reset_mask": np.array([True, False])})
    assert info["_clip_index"].tolist() == [True, False]
    np.testing.assert_array_equal(obs[0], venv.clips.frames[info["clip_index"][0], 1])
    with pytest.raises(InvalidOptionError, match="autoreset_mode"):
        GHVAERoboNetVectorEnv(2, autoreset_mode=AutoresetMode.SAME_STEP, **kw)


def test_torchrl_gym_wrapper_check_env_specs_and_rollout(kw):
    pytest.importorskip("torchrl")
    from torchrl.envs import GymWrapper
    from torchrl.envs.utils import check_env_specs

    venv = gym.make_vec(
        "GHVAE-RoboNet-v0", num_envs=16, autoreset_mode=AutoresetMode.DISABLED, **kw
    )
    env = GymWrapper(venv)
    assert tuple(env.batch_size) == (16,)
    check_env_specs(env, seed=0)
    td = env.rollout(12, break_when_any_done=False)  # through the clip end at step 10
    assert td["next", "observation"].shape == (16, 12, 64, 64, 3)
    truncated = td["next", "truncated"][..., 0]
    assert truncated[:, 9].all() and not truncated[:, :9].any()
    reward = td["next", "reward"][..., 0]
    assert (reward[:, :10] < 0).all()  # the clip goal's negative pixel distance
    # after TorchRL's partial reset the episode restarts from a clip's last context frame
    restarted = td["observation"][:, 10].numpy()
    frames = venv.clips.frames[:, 1]  # (clips, 64, 64, 3)
    assert all((frames == o).all(axis=(1, 2, 3)).any() for o in restarted)
