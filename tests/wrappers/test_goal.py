"""GoalConditionedWrapper: Dict observations, goals from clips or options, HER compute_reward."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from ghvae_env.envs.model_env import InvalidOptionError
from ghvae_env.wrappers import GoalConditionedWrapper

ACTION = np.array([0.2, 0.1, -0.4, -1.0], dtype=np.float32)


@pytest.fixture(scope="module")
def env(kw):
    return GoalConditionedWrapper(gym.make("GHVAE-RoboNet-v0", **kw))


def test_dict_observations_and_goal_from_clip(env):
    obs, info = env.reset(seed=0)
    assert set(obs) == {"observation", "achieved_goal", "desired_goal"}
    assert obs in env.observation_space
    clip = env.unwrapped.clips.frames[info["clip_index"]]
    np.testing.assert_array_equal(obs["desired_goal"], clip[-1])
    np.testing.assert_array_equal(obs["achieved_goal"], obs["observation"])
    assert not np.shares_memory(obs["achieved_goal"], obs["observation"])
    assert info["goal_distance"] == -env.compute_reward(
        obs["achieved_goal"], obs["desired_goal"], info
    )
    obs, reward, _, _, info = env.step(ACTION)
    assert type(reward) is float and reward < 0
    assert reward == env.compute_reward(obs["achieved_goal"], obs["desired_goal"], info)


def test_goal_from_options_and_own_context(env):
    goal = np.full((64, 64, 3), 200, np.uint8)
    obs, _ = env.reset(seed=1, options={"goal_image": goal})
    np.testing.assert_array_equal(obs["desired_goal"], goal)
    ctx = env.unwrapped.clips.frames[0, :1]
    with pytest.raises(InvalidOptionError, match="goal_image"):
        env.reset(options={"context_frames": ctx})
    obs, _ = env.reset(options={"context_frames": ctx, "goal_image": goal})
    np.testing.assert_array_equal(obs["observation"], ctx[0])


def test_compute_reward_is_batched_for_her(env):
    rng = np.random.default_rng(0)
    achieved = rng.integers(0, 256, (7, 64, 64, 3), dtype=np.uint8)
    desired = rng.integers(0, 256, (7, 64, 64, 3), dtype=np.uint8)
    rewards = env.compute_reward(achieved, desired, np.array([{}] * 7))
    assert rewards.shape == (7,)
    for i in range(7):
        assert rewards[i] == env.compute_reward(achieved[i], desired[i], {})
    assert env.compute_reward(desired, desired, None).max() == 0.0
    # leading dims of any rank (e.g. HER's (batch, n_envs))
    assert env.compute_reward(achieved.reshape(7, 1, 64, 64, 3), desired[:1], None).shape == (7, 1)


@pytest.mark.filterwarnings("ignore:.*different from the unwrapped version")
def test_gymnasium_and_sb3_goal_env_checks(kw):
    check_env(
        GoalConditionedWrapper(gym.make("GHVAE-RoboNet-v0", **kw).unwrapped), skip_render_check=True
    )
    sb3_checker = pytest.importorskip("stable_baselines3.common.env_checker")
    sb3_checker.check_env(GoalConditionedWrapper(gym.make("GHVAE-RoboNet-v0", **kw)))


def test_refuses_other_envs():
    with pytest.raises(TypeError, match="GHVAE-RoboNet-v0"):
        GoalConditionedWrapper(gym.make("CartPole-v1"))


def test_compute_reward_accepts_channel_first_batches(env):
    """SB3 stores image observations channel-first and relabels HER goals in that layout."""
    rng = np.random.default_rng(1)
    achieved = rng.integers(0, 256, (5, 2, 64, 64, 3), dtype=np.uint8)
    desired = rng.integers(0, 256, (5, 2, 64, 64, 3), dtype=np.uint8)
    last = env.compute_reward(achieved, desired, None)
    first = env.compute_reward(
        np.moveaxis(achieved, -1, -3), np.moveaxis(desired, -1, -3), None
    )  # (5, 2, 3, 64, 64)
    assert first.shape == (5, 2)
    np.testing.assert_array_equal(first, last)
    # mixed layouts broadcast too; wrong shapes name both layouts
    mixed = env.compute_reward(np.moveaxis(achieved, -1, -3), desired, None)
    np.testing.assert_array_equal(mixed, last)
    with pytest.raises(ValueError, match=r"achieved_goal.*3 x 64 x 64"):
        env.compute_reward(achieved[..., :2], desired, None)


def test_sb3_sac_with_her_replay_buffer_learns_on_the_goal_wrapper(kw):
    """SAC + HerReplayBuffer end to end (ran into a ValueError on channel-first goals)."""
    sb3 = pytest.importorskip("stable_baselines3")
    env = GoalConditionedWrapper(gym.make("GHVAE-RoboNet-v0", **kw))
    model = sb3.SAC(
        "MultiInputPolicy",
        env,
        replay_buffer_class=sb3.HerReplayBuffer,
        replay_buffer_kwargs=dict(n_sampled_goal=4, goal_selection_strategy="future"),
        buffer_size=300,
        batch_size=8,
        learning_starts=40,
        train_freq=4,
        policy_kwargs=dict(net_arch=[32, 32]),
        seed=0,
        device="cpu",
    )
    model.learn(300)  # 30 episodes of 10 steps (the clip ends)
    buf = model.replay_buffer
    assert buf.size() == 300 and model.num_timesteps == 300
    assert buf.observations["achieved_goal"].shape[-3:] == (3, 64, 64)  # channel-first
    batch = buf.sample(64)  # relabelled with compute_reward
    expected = env.compute_reward(
        batch.next_observations["achieved_goal"].numpy().astype(np.uint8),
        batch.observations["desired_goal"].numpy().astype(np.uint8),
        None,
    )
    np.testing.assert_allclose(batch.rewards.numpy().ravel(), expected, rtol=1e-6)
    assert (expected <= 0).all() and len(set(expected.tolist())) > 1
