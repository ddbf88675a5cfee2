"""Smoke-run benchmarks/planning.py --quick on a tiny checkpoint (the simulator checks plans)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ghvae_env.model import GHVAE, GHVAEConfig, save_checkpoint

pytestmark = pytest.mark.sim

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> str:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(path, GHVAE(GHVAEConfig.preset("tiny")), trained_modules=2, stage="test")
    return str(path)


def _run(script: str, *args: str, cwd: Path) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, str(ROOT / script), *args], cwd=cwd, env=env,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_planning_benchmark_quick(checkpoint, tmp_path):
    out = tmp_path / "planning.json"
    stdout = _run(
        "benchmarks/planning.py", "--quick", "--episodes", "1", "--checkpoint", checkpoint,
        "--device", "cpu", "--out", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert "command: python benchmarks/planning.py --quick" in stdout
    report = json.loads(out.read_text())
    assert set(report["summary"]) == {"ghvae", "random", "noop", "oracle"}
    assert report["summary"]["ghvae"]["plan_step_time_s"] > 0
    assert report["planners"]["ghvae"]["method"] == "mppi"  # the VP2 preset, tiny budget
    assert report["planners"]["oracle"]["num_samples"] == 2
    assert report["task_distances"]["min_distance"] >= 0.075
    for s in report["summary"].values():
        assert len(s["success_ci95"]) == 2 and s["errors"] == {}
    assert "| GHVAE-MPC | 1 |" in out.with_suffix(".md").read_text()
    log = out.with_suffix(".jsonl").read_text().splitlines()
    assert len(log) == 4  # one line per finished episode: ghvae, random, noop, oracle-state
    assert {json.loads(x)["policy"] for x in log} == {"ghvae", "random", "noop", "oracle-state"}


def test_planning_benchmark_shards_merge_into_one_table(tmp_path):
    # two shards, each its own --out; their concatenated logs make the joint run a pure resume
    common = ("--quick", "--episodes", "2", "--policies", "noop", "--device", "cpu")
    for i in (0, 1):
        _run(
            "benchmarks/planning.py", *common, "--shard", f"{i}/2",
            "--out", str(tmp_path / f"s{i}.json"), cwd=tmp_path,
        )  # fmt: skip
    shards = [json.loads((tmp_path / f"s{i}.json").read_text()) for i in (0, 1)]
    seeds = [[e["task"]["seed"] for e in r["episodes"]["noop"]] for r in shards]
    assert [len(s) for s in seeds] == [1, 1] and seeds[0] != seeds[1]
    assert (tmp_path / "push_tasks").is_dir()  # --quick keeps the task cache beside --out
    joint = tmp_path / "all.jsonl"
    joint.write_text("".join((tmp_path / f"s{i}.jsonl").read_text() for i in (0, 1)))
    before = joint.read_text()
    _run("benchmarks/planning.py", *common, "--out", str(tmp_path / "all.json"), cwd=tmp_path)
    assert joint.read_text() == before  # nothing re-run: every episode came from the logs
    report = json.loads((tmp_path / "all.json").read_text())
    assert sorted(e["task"]["seed"] for e in report["episodes"]["noop"]) == sorted(sum(seeds, []))
    bad = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks/planning.py"), *common, "--shard", "2/2"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert bad.returncode != 0 and "--shard must be I/N" in bad.stderr and "'2/2'" in bad.stderr
    # --only-seeds: one task of the two, read back from the joint log (nothing re-run)
    one = tmp_path / "one.json"
    (tmp_path / "one.jsonl").write_text(before)
    _run("benchmarks/planning.py", *common, "--only-seeds", str(seeds[1][0]), "--out", str(one),
         cwd=tmp_path)  # fmt: skip
    assert [e["task"]["seed"] for e in json.loads(one.read_text())["episodes"]["noop"]] == seeds[1]
    for value, message in (("999", "[999]"), ("1,x", "'1,x'")):
        bad = subprocess.run(
            [sys.executable, str(ROOT / "benchmarks/planning.py"), *common, "--only-seeds", value,
             "--out", str(tmp_path / "bad.json")],
            cwd=tmp_path, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert bad.returncode != 0 and "--only-seeds" in bad.stderr and message in bad.stderr


def test_pixel_cost_check_synthetic_and_rank_correlation(load_script):
    """benchmarks/pixel_cost_check.py's simulator-free parts: raw SSE ranks a square 3 px off
    its goal below one gone; blurred, above it; Spearman is 1 / -1 on (anti-)monotone costs."""
    module = load_script("pixel_cost_check")
    costs = module.synthetic([0.0, 8.0])
    near, far, gone = costs["blur 0"]
    assert gone < near < far
    near, far, gone = costs["blur 8"]
    assert near < gone < far
    a = np.array([1.0, 3.0, 2.0, 5.0])
    assert module.spearman(a, a * 2 + 1) == pytest.approx(1.0)
    assert module.spearman(a, -a) == pytest.approx(-1.0)


def test_pixel_cost_check_imagines_candidates_and_names_costs(load_script, tiny_model):
    """The --checkpoint path: each candidate is rolled out from the task's context (N x H
    frames, the same for the same seed), and a cost's rank scores need its own pick."""
    from types import SimpleNamespace

    module = load_script("pixel_cost_check")
    assert module.cost_name(8.0, 0.0) == "blur 8"  # the published key, unchanged
    assert module.cost_name(8.0, 30.0) == "blur 8 chroma 30"
    rng = np.random.default_rng(0)
    task = SimpleNamespace(
        context_frames=rng.integers(0, 256, (2, 64, 64, 3), dtype=np.uint8),
        context_actions=np.zeros((1, 4), np.float32),
    )
    acts = rng.uniform(-1, 1, (3, 5, 4)).astype(np.float32)
    frames = module.imagine(tiny_model, task, acts, seed=4)
    assert frames.shape == (3, 5, 3, 64, 64)
    assert torch.equal(frames, module.imagine(tiny_model, task, acts, seed=4))
    two = module.imagine(tiny_model, task, acts, seed=4, samples=2)
    assert two.shape == (3, 2, 5, 3, 64, 64)
    mean = module.imagine(tiny_model, task, acts, seed=4, samples=2, temperature=0.0)
    assert torch.allclose(mean[:, 0], mean[:, 1])  # T = 0: every sample is the prior mean
    cost = module.PixelGoalCost("sse", 1.0, 0.0)
    goal = torch.rand(3, 64, 64)
    per_sample = np.stack([cost(two[:, k], goal).numpy() for k in range(2)], axis=1)
    assert module.imagined_costs(cost, two, goal) == pytest.approx(per_sample.mean(1), rel=1e-5)
    assert module.imagined_costs(cost, frames, goal) == pytest.approx(cost(frames, goal).numpy())
    state = np.array([3.0, 1.0, 2.0])
    scores = module.rank_scores(np.array([0.3, 0.1, 0.2]), state)
    assert scores == {"spearman": pytest.approx(1.0), "regret": 1.0}
    assert module.rank_scores(np.array([0.1, 0.3, 0.2]), state)["regret"] == 3.0


def test_planning_episode_stats_counts_still_objects_and_lifted_arms(load_script, tmp_path):
    module = load_script("planning_episode_stats")
    up, flat = [[0, 0, 1, 0]] * 6, [[1, 0, 0, 0]] * 6
    results = {"episodes": {"oracle": [
        {"success": True, "final_distance": 0.01, "initial_distance": 0.1, "actions": flat},
        {"success": False, "final_distance": 0.1, "initial_distance": 0.1, "actions": up},
        {"success": False, "final_distance": 0.06, "initial_distance": 0.1, "actions": flat},
    ]}}  # fmt: skip
    stats = module.episode_stats(results)["oracle"]
    assert stats["successes"] == 1 and stats["failures_object_never_moved"] == 1
    assert stats["mean_dz_first_5_failures"] == 2.5 and stats["mean_dz_first_5_successes"] == 0
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(SystemExit):
        module.main([str(bad)])


def test_goal_visibility_summary_and_one_task(load_script, tmp_path, monkeypatch):
    module = load_script("goal_visibility")
    rows = [
        {"policy": "oracle", "success": True, "goal_visibility": 0.2},
        {"policy": "oracle", "success": True, "goal_visibility": 1.0},
        {"policy": "oracle", "success": False, "goal_visibility": 0.9},
    ]
    s = module.summarize(rows)["oracle"]
    assert s["goal_visibility_successes"] == 0.6 and s["goal_visibility_failures"] == 0.9
    assert s["success_goal_visibility_below_half"] == "1/1"
    assert s["success_goal_visibility_at_least_half"] == "1/2"
    results = tmp_path / "r.json"
    results.write_text(json.dumps({
        "config": {"episodes": 1, "seed": 1, "max_steps": 15, "goal": "demo"},
        "episodes": {"oracle": [{"task": {"seed": 1}, "success": False}]},
    }))  # fmt: skip
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the task cache goes here
    with pytest.raises(SystemExit):  # the record names no task: it is not the rebuilt one
        module.main([str(results)])
    from ghvae_env.planning.tasks import load_push_tasks

    (cache,) = (tmp_path / "cache").rglob("*.npz")  # built by that run
    (task,), _, _ = load_push_tasks(cache)
    results.write_text(results.read_text().replace('{"seed": 1}', json.dumps(task.describe())))
    out = tmp_path / "vis.json"
    assert module.main([str(results), "--out", str(out)]) == 0
    (row,) = json.loads(out.read_text())["rows"]
    assert row["seed"] == 1 and 0.0 <= row["goal_visibility"] <= 1.0
    assert 0.0 <= row["start_visibility"] <= 1.0 and row["initial_distance"] >= 0.075
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"config": json.loads(results.read_text())["config"],
                                 "episodes": {"oracle": []}}))  # fmt: skip
    with pytest.raises(SystemExit):
        module.main([str(empty)])
    other = tmp_path / "other.json"  # an episode whose seed is not among the results' tasks
    record = json.loads(results.read_text())
    record["episodes"]["oracle"][0]["task"]["seed"] = 7
    other.write_text(json.dumps(record))
    with pytest.raises(SystemExit):
        module.main([str(other)])
    # the same seed from another task set (a moved start) is refused, not measured; the task
    # set the results were made on is named with --tasks-cache
    recorded = {**task.describe(), "start_position": [9.0, 9.0, 9.0]}
    wrong = tmp_path / "wrong.json"
    wrong.write_text(results.read_text().replace(json.dumps(task.describe()), json.dumps(recorded)))
    with pytest.raises(SystemExit):
        module.main([str(wrong), "--tasks-cache", str(cache)])
    again = tmp_path / "again.json"
    assert module.main([str(results), "--tasks-cache", str(cache), "--out", str(again)]) == 0
    assert json.loads(again.read_text())["rows"] == json.loads(out.read_text())["rows"]
    # a replay that ends off the cached goal (a cache from another CPU): nan, not a guess
    import dataclasses

    import gymnasium as gym

    import ghvae_env.sim  # noqa: F401

    off = dataclasses.replace(task, goal_positions=task.goal_positions + [0.01, 0.0, 0.0])
    env = gym.make("RoboNet-Sim-v0")
    try:
        v = module.task_visibility(env, off)
    finally:
        env.close()
    assert np.isnan(v["goal_visibility"]) and v["replay_offset"] == pytest.approx(0.01, abs=1e-3)


def test_oracle_stall_finds_the_stall_and_scores_three_continuations(load_script, tmp_path,
                                                                     monkeypatch):  # fmt: skip
    module = load_script("oracle_stall")
    assert module.stall_step([0.09, 0.07, 0.06, 0.06, 0.065]) == 3  # the first minimum
    from ghvae_env.planning.config import PlannerConfig

    config = PlannerConfig.push(temperature=0.5, gamma=None, horizon=2)
    results = tmp_path / "r.json"
    episode = {
        "task": {"seed": 1},
        "success": False,
        "final_distance": 0.09,
        "distances": [0.095, 0.09],
        "actions": [[0.5, 0.0, 0.0, 0.0], [0.0] * 4],
    }
    results.write_text(json.dumps({
        "config": {"episodes": 1, "seed": 1, "max_steps": 15, "goal": "demo"},
        "planners": {"oracle": config.to_dict()},
        "episodes": {"oracle": [episode, {**episode, "success": True}]},
    }))  # fmt: skip
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the task cache goes here
    with pytest.raises(SystemExit):  # the record names no task: it is not the rebuilt one
        module.main([str(results), "--horizon", "2", "--samples", "2"])
    from ghvae_env.planning.tasks import load_push_tasks

    (cache,) = (tmp_path / "cache").rglob("*.npz")  # built by that run
    (task,), _, _ = load_push_tasks(cache)
    episode["task"] = task.describe()
    assert module.same_task(task.describe(), episode["task"])
    moved = {**episode["task"], "start_position": [x + 0.01 for x in task.start_positions[0]]}
    assert not module.same_task(task.describe(), moved)
    results.write_text(json.dumps({
        "config": {"episodes": 1, "seed": 1, "max_steps": 15, "goal": "demo"},
        "planners": {"oracle": config.to_dict()},
        "episodes": {"oracle": [episode, {**episode, "success": True}]},
    }))  # fmt: skip
    out = tmp_path / "stall.json"
    argv = ["--horizon", "2", "--samples", "2", "--tasks-cache", str(cache), "--out", str(out)]
    picture = tmp_path / "stall.png"
    assert module.main([str(results), *argv, "--frames", str(picture)]) == 0
    import imageio.v2 as imageio

    # one row: stall frame | hold | episode | state | goal, each 2x with 4 px gaps
    assert imageio.imread(picture).shape == (128, 5 * 128 + 4 * 4, 3)
    (row,) = json.loads(out.read_text())["rows"]  # the successful episode is not diagnosed
    assert row["seed"] == 1 and row["stall_step"] == 2
    assert row["episode_actions"] == [[0.0] * 4, [0.0] * 4]  # nothing left after the stall
    assert row["hold_cost"] == pytest.approx(row["episode_cost"])  # the same zero actions
    assert row["cheapest"] in ("hold", "episode", "state")
    assert row["verdict"] == module.verdict(row)
    base = {"cheapest": "hold", "hold_distance": 0.08}
    assert module.verdict({**base, "cheapest": "state", "state_distance": 0.08}) == "search"
    assert module.verdict({**base, "state_distance": 0.02}) == "cost"
    assert module.verdict({**base, "state_distance": 0.075}) == "stuck"
    assert all(row[f"{n}_cost"] > 0 for n in ("hold", "episode", "state"))
    with pytest.raises(SystemExit):  # no failed episode of that seed
        module.main([str(results), "--seeds", "5"])
    with pytest.raises(SystemExit):
        module.main([str(results), "--horizon", "0"])
