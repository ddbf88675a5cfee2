"""Push tasks, episodes, the oracle and ``ghvae plan`` in ``RoboNet-Sim-v0``.

One simulator for the whole module; every episode is a handful of steps.
"""

from __future__ import annotations

import json
from dataclasses import replace

import gymnasium as gym
import numpy as np
import pytest
import torch

import ghvae_env.sim  # noqa: F401  (registers RoboNet-Sim-v0)
from ghvae_env.model import GHVAE, GHVAEConfig, load_model, save_checkpoint
from ghvae_env.planning.agent import VisualMPCAgent
from ghvae_env.planning.config import PlannerConfig
from ghvae_env.planning.oracle import SimulatorModel, SimulatorStateCost, make_oracle_agent
from ghvae_env.planning.policies import NoOpPolicy
from ghvae_env.planning.tasks import (
    PushTaskConfig,
    TaskConfigError,
    TaskSamplingError,
    cached_push_tasks,
    default_task_cache,
    episode_video_frames,
    iter_push_tasks,
    run_episode,
    sample_push_task,
    summarize,
    task_distance_report,
)

pytestmark = pytest.mark.sim

SHORT = PushTaskConfig(max_steps=2)
TINY_PLAN = PlannerConfig(num_samples=4, iterations=1, horizon=3, seed=0)


@pytest.fixture(scope="module")
def env():
    env = gym.make("RoboNet-Sim-v0")
    yield env
    env.close()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> str:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(path, GHVAE(GHVAEConfig.preset("tiny")), trained_modules=2, stage="test")
    return str(path)


@pytest.fixture(scope="module")
def task(env):
    return sample_push_task(env, 7, SHORT)


def test_task_sampler_is_seeded_and_follows_the_protocol(env, task):
    again = sample_push_task(env, 7, SHORT)
    assert again.object_index == task.object_index
    np.testing.assert_array_equal(again.goal_positions, task.goal_positions)
    np.testing.assert_array_equal(again.goal_image, task.goal_image)
    np.testing.assert_array_equal(again.start_state, task.start_state)
    assert task.context_frames.shape == (2, 64, 64, 3) and task.context_frames.dtype == np.uint8
    np.testing.assert_array_equal(task.context_actions, np.zeros((1, 4), np.float32))
    assert task.goal_image.shape == (64, 64, 3) and task.goal_image.dtype == np.uint8
    scene = env.unwrapped.scene
    for seed in (7, 8):
        t = task if seed == 7 else sample_push_task(env, seed, SHORT)
        i = t.object_index
        assert 0.075 <= t.initial_distance <= 0.15, t.initial_distance  # no nudge tasks
        inside = scene.config.tray_half_extent - scene.objects[i].radius
        assert np.all(np.abs(t.goal_positions[i, :2] - scene.config.table_top[:2]) <= inside)
        # the start state has the fingers behind the object, at push height
        _, info = env.reset(options={"state": t.start_state})
        gap = np.linalg.norm(info["eef_pos"][:2] - t.start_positions[i, :2])
        assert gap < scene.objects[i].radius + 0.05, gap
        assert info["eef_pos"][2] < scene.config.table_top[2] + 0.04
        np.testing.assert_array_equal(env.unwrapped.scene.render(), t.context_frames[-1])
        # the scripted demo, replayed open loop from the start state, reaches the goal exactly
        n = len(t.demo_actions)
        replay = run_episode(env, _Replay(t.demo_actions), replace(t, max_steps=n))
        assert replay["distances"][n - 1] < 1e-6
        # ... and the goal is a rest state: held still, nothing moves on (protocol v2)
        end = env.unwrapped.scene.object_positions
        for _ in range(SHORT.rest_check_steps):
            env.step(np.zeros(4, np.float32))
        drift = np.linalg.norm(env.unwrapped.scene.object_positions - end, axis=1)
        assert drift.max() <= SHORT.rest_tolerance, drift
        assert task.describe()["goal"] == "demo"
    with pytest.raises(TaskConfigError, match="min_displacement"):
        PushTaskConfig(min_displacement=0.2)
    with pytest.raises(TaskConfigError, match="goal"):
        PushTaskConfig(goal="teleport")
    with pytest.raises(TaskConfigError, match="settle_steps"):
        PushTaskConfig(settle_steps=0)
    with pytest.raises(TaskConfigError, match="rest_tolerance"):
        PushTaskConfig(rest_tolerance=-0.01)


def test_render_goal_protocol_moves_one_object_and_skips_unsolvable_seeds(env):
    cfg = PushTaskConfig(max_steps=2, goal="render")
    t = sample_push_task(env, 9, cfg)
    moved = np.abs(t.goal_positions - t.start_positions).sum(axis=1)
    assert np.count_nonzero(moved) == 1 and moved[t.object_index] > 0
    assert 0.05 <= t.initial_distance <= 0.15 and t.demo_actions is None
    # set-up that cannot reach any start pose: every seed is skipped, then a clear error
    hopeless = replace(SHORT, setup_steps=1, max_tries=1, demo_tries=1)
    with pytest.raises(TaskSamplingError, match="seed"):
        sample_push_task(env, 9, hopeless)
    with pytest.raises(TaskSamplingError, match="only 0 of 1 tasks"):
        list(iter_push_tasks(env, 1, 0, hopeless))


class _Replay:
    def __init__(self, actions):
        self.actions = actions

    def reset(self, seed=None):
        self.i = 0

    def act(self, frames, actions, goal_image):
        a = self.actions[self.i]
        self.i += 1
        return a


def test_run_episode_fields(env, task):
    result = run_episode(env, NoOpPolicy(), task, record=True)
    assert result["steps"] == 2 and len(result["distances"]) == 2
    for key in ("success", "success_min"):
        assert type(result[key]) is bool
    assert result["initial_distance"] == pytest.approx(task.initial_distance)
    assert result["improvement"] == pytest.approx(
        result["initial_distance"] - result["final_distance"]
    )
    assert result["min_distance"] == min(result["distances"])
    assert result["frames"].shape == (3, 64, 64, 3) and result["imagined"] == [None, None]
    np.testing.assert_array_equal(result["frames"][0], task.context_frames[-1])  # exact restore
    video = episode_video_frames(result, task)  # sim | imagined (grey: none) | goal
    assert video.shape == (3, 64, 196, 3)
    np.testing.assert_array_equal(video[:, :, :64], result["frames"])
    assert (video[:, :, 66:130] == 128).all()
    np.testing.assert_array_equal(
        video[:, :, 132:], np.broadcast_to(task.goal_image, (3, 64, 64, 3))
    )
    json.dumps({k: v for k, v in result.items() if k not in ("frames", "imagined")})
    summary = summarize([result])
    assert summary["episodes"] == 1 and summary["plan_step_time_s"] is None


def test_agent_with_tiny_checkpoint_runs_in_the_sim(env, task, checkpoint):
    agent = VisualMPCAgent(load_model(checkpoint), TINY_PLAN)
    result = run_episode(env, agent, task, record=True)
    assert result["steps"] == 2 and result["plans"] == 2
    assert 0 < result["model_share"] <= 1 and result["plan_step_time_s"] > 0
    assert all(im.shape == (64, 64, 3) and im.dtype == np.uint8 for im in result["imagined"])
    assert all(np.all(np.abs(a) <= 1) for a in result["actions"])


def test_simulator_model_matches_stepping_and_restores_state(env, task):
    env.reset(options={"state": task.start_state})
    model = SimulatorModel(env)
    actions = torch.zeros(2, 3, 4)  # B=2, C-1=1 context action, H=2
    actions[0, 1:, 1] = 1.0
    pred = model.rollout(torch.zeros(2, 2, 3, 64, 64), actions)
    assert pred.shape == (2, 2, 3, 64, 64) and model.sim_steps == 4
    np.testing.assert_array_equal(env.unwrapped.get_state(), task.start_state)
    from ghvae_env.data.frames import to_uint8_hwc

    for t in range(2):
        obs, *_ = env.step(actions[0, 1 + t].numpy())
        np.testing.assert_array_equal(to_uint8_hwc(pred[0, t]), obs)
    agent = make_oracle_agent(env, PlannerConfig(num_samples=2, iterations=1, horizon=2))
    short = sample_push_task(env, 7, PushTaskConfig(max_steps=1))
    result = run_episode(env, agent, short)
    assert result["steps"] == 1 and result["plans"] == 1


def test_plan_cli(env, checkpoint, tmp_path):
    from ghvae_env.cli import build_parser
    from ghvae_env.planning.cli import command_line, run

    argv = ["plan", "--episodes", "1", "--seed", "7", "--checkpoint", checkpoint, "--method",
            "mppi", "--samples", "3", "--iterations", "1", "--horizon", "2", "--max-steps", "2",
            "--json", str(tmp_path / "r.json"), "--video", str(tmp_path / "v.gif"),
            "--no-progress"]  # fmt: skip
    args = build_parser().parse_args(argv)
    command = command_line(args)
    assert command.startswith("ghvae plan") and "--method mppi" in command
    report = run(args, command, env=env)
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["summary"] == report["summary"] and saved["planner"]["method"] == "mppi"
    assert len(saved["episodes"]) == 1 and saved["episodes"][0]["plans"] == 2
    assert (tmp_path / "v.gif").stat().st_size > 0
    import imageio.v3 as iio

    stills = iio.imread(tmp_path / "v.png")  # 1 episode x steps 1, 5, 10, 15 (clamped to 2)
    assert saved["stills"] == str(tmp_path / "v.png")
    assert stills.shape == (128, 4 * 392 + 3 * 4, 3) and stills.dtype == np.uint8


def test_episode_stills_grid_clamps_steps_and_rejects_bad_input():
    from ghvae_env.planning.tasks import episode_stills

    a = np.zeros((3, 2, 3, 3), np.uint8)
    a[1], a[2] = 100, 200  # panels after steps 1 and 2
    b = np.full((16, 2, 3, 3), 50, np.uint8)
    grid = episode_stills([a, b], steps=(1, 5), scale=2, gap=1)
    assert grid.shape == (2 * 4 + 1, 2 * 6 + 1, 3)
    assert (grid[:4, :6] == 100).all() and (grid[:4, 7:] == 200).all()  # step 5 -> last
    assert (grid[4] == 255).all() and (grid[:, 6] == 255).all()  # the white gaps
    assert (grid[5:, :6] == 50).all()
    with pytest.raises(ValueError, match="episodes needs"):
        episode_stills([])
    with pytest.raises(ValueError, match=r"steps needs .*-1"):
        episode_stills([a], steps=(-1,))
    with pytest.raises(ValueError, match="scale needs .*0"):
        episode_stills([a], scale=0)


def test_unsolvable_seeds_are_skipped_and_reported(env):
    skipped: list = []
    tasks = list(iter_push_tasks(env, 1, 6, SHORT, skipped))  # seed 6: no valid 7.5 cm push
    assert [t.seed for t in tasks] == [7]
    assert [s["seed"] for s in skipped] == [6] and "seed 6" in skipped[0]["reason"]
    report = task_distance_report(tasks, skipped)
    assert report["tasks"] == 1 and report["skipped"] == skipped
    assert 0.075 <= report["min_distance"] == report["median_distance"] <= report["max_distance"]


def _same_task(a, b) -> bool:
    return (a.seed, a.object_index, a.max_steps) == (b.seed, b.object_index, b.max_steps) and all(
        np.array_equal(getattr(a, f), getattr(b, f))
        for f in ("start_state", "context_frames", "context_actions", "goal_image", "demo_actions")
    )


def test_task_cache_round_trip_prefix_and_corruption(env, tmp_path, monkeypatch):
    import ghvae_env.planning.tasks as tasks_mod

    cache = default_task_cache(env, 6, SHORT, tmp_path)
    assert cache.parent == tmp_path / "push_tasks" and cache.suffix == ".npz"
    assert default_task_cache(env, 7, SHORT, tmp_path) != cache  # the first seed is in the key
    skipped: list = []
    built = cached_push_tasks(env, 2, 6, SHORT, skipped, cache=cache)
    assert [t.seed for t in built] == [7, 8] and [s["seed"] for s in skipped] == [6]
    assert sorted(p.name for p in cache.parent.iterdir()) == [cache.name]  # no temp file left

    def no_building(*args, **kwargs):
        raise AssertionError("the cache should have served these tasks")

    with monkeypatch.context() as m:
        m.setattr(tasks_mod, "iter_push_tasks", no_building)
        again: list = []
        read = cached_push_tasks(env, 2, 6, SHORT, again, cache=cache)
        assert again == skipped and all(_same_task(a, b) for a, b in zip(read, built, strict=True))
        prefix: list = []  # a shorter set is the longer set's prefix
        assert [t.seed for t in cached_push_tasks(env, 1, 6, SHORT, prefix, cache=cache)] == [7]
        assert [s["seed"] for s in prefix] == [6]
        with pytest.raises(AssertionError):  # another protocol is not served from this file
            cached_push_tasks(env, 1, 6, replace(SHORT, max_steps=3), cache=cache)
    longer: list = []  # a longer request extends the cache after its last seed
    calls = []

    def counting(env_, n, start, *args, **kwargs):
        calls.append((n, start))
        return iter_push_tasks(env_, n, start, *args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(tasks_mod, "iter_push_tasks", counting)
        extended = cached_push_tasks(env, 3, 6, SHORT, longer, cache=cache)
    assert calls == [(1, 9)] and [t.seed for t in extended] == [7, 8, 9]
    assert all(_same_task(a, b) for a, b in zip(extended, built, strict=False))
    assert [s["seed"] for s in longer] == [6]
    assert len(tasks_mod.load_push_tasks(cache)[0]) == 3
    cache.write_bytes(b"not an npz")  # a corrupt cache is rebuilt with a warning
    with pytest.warns(UserWarning, match="not readable"):
        rebuilt = cached_push_tasks(env, 1, 6, SHORT, cache=cache)
    assert _same_task(rebuilt[0], built[0])
    assert len(tasks_mod.load_push_tasks(cache)[0]) == 1


def test_oracle_state_cost_in_process_and_in_a_worker(env, task):
    env.reset(options={"state": task.start_state})
    actions = torch.zeros(3, 3, 4)  # B=3, C-1=1, H=2
    actions[1, 1:, 0] = 1.0
    actions[2, 1:, 1] = -1.0
    local = SimulatorStateCost(env, final_step_weight=1.0)
    with pytest.raises(Exception, match="set_task"):
        local.score_sequences(torch.zeros(3, 2, 3, 64, 64), actions, torch.zeros(3, 64, 64))
    local.set_task(task)
    costs, pred = local.score_sequences(torch.zeros(3, 2, 3, 64, 64), actions, None)
    assert pred is None and costs.shape == (3,)
    # a no-op plan leaves the object where it is: cost = its start distance in cm
    assert float(costs[0]) == pytest.approx(100 * task.initial_distance, rel=1e-3)
    np.testing.assert_array_equal(env.unwrapped.get_state(), task.start_state)
    remote = SimulatorStateCost(env, workers=1, final_step_weight=1.0)
    try:
        remote.set_task(task)
        again, _ = remote.score_sequences(torch.zeros(3, 2, 3, 64, 64), actions, None)
        torch.testing.assert_close(again, costs)  # the worker replays from the same state
        agent = make_oracle_agent(
            env, PlannerConfig(num_samples=4, iterations=1, horizon=2), cost="state", workers=0
        )
        result = run_episode(env, agent, replace(task, max_steps=1))
        assert result["plans"] == 1
        # VP2's gamma is for pixel SSE; on centimetres the oracle uses the scale-free temperature
        vp2 = make_oracle_agent(env, PlannerConfig.vp2(num_samples=4), cost="state")
        assert vp2.config.gamma is None and vp2.config.method == "mppi"
        pixel = make_oracle_agent(env, PlannerConfig.vp2(num_samples=4), cost="pixel")
        assert pixel.config.gamma == 0.05
    finally:
        remote.close()


def test_plan_cli_shows_progress_and_a_summary_table(checkpoint, tmp_path, capsys):
    from ghvae_env.cli import main

    rc = main(["plan", "--episodes", "1", "--seed", "7", "--checkpoint", checkpoint,
               "--preset", "vp2", "--samples", "3", "--horizon", "2", "--max-steps", "2",
               "--threads", "1", "--log", str(tmp_path / "log.jsonl")])  # fmt: skip
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "dist=" in err and "cost=" in err and "2/2" in err  # tqdm, per control step
    assert "| ghvae | 1 |" in out and "[95% CI]" in out and "start-to-goal distance" in out
    assert len((tmp_path / "log.jsonl").read_text().splitlines()) == 1
    rc = main(["plan", "--episodes", "1", "--seed", "7", "--checkpoint", checkpoint,
               "--preset", "icem", "--samples", "4", "--max-steps", "2", "--no-progress"])  # fmt: skip
    assert rc == 2
    assert (
        "num_elites needs to be in [1, num_samples=4], actual value: 8" in capsys.readouterr().err
    )
