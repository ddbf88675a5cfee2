"""Does the arm hide the pushed object in the goal image? Per task of a planning results JSON.

A pixel cost can only pull an object toward a goal it sees. For every episode of a
``benchmarks/planning.py`` results JSON this rebuilds the task (deterministic in its seed),
replays the scripted push and counts, with an exact segmentation render
(``TabletopScene.object_pixel_counts``), the pixels of the pushed object in the start frame
and in the goal image, each as a fraction of the same object with the arm stowed out of view
(1: fully visible, 0: hidden behind the arm). The tasks come from the benchmark's task cache
(``cached_push_tasks``: built once if it is missing). Then, per policy: mean goal visibility of the
solved and the failed tasks, and success when the goal shows less / more than half the object.

    python benchmarks/goal_visibility.py benchmarks/results/planning_cost/oracle_v2_push.json

Prints a table; ``--out F.json`` also writes the rows and the summary (nothing is written by
default). Needs the simulator (~2 s a task with the tasks cached).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
from _common import same_task

os.environ.setdefault("MUJOCO_GL", "egl")


def task_visibility(env, task, tol: float = 0.005) -> dict:
    """The pushed object's visibility at the start and in the goal image of ``task``."""
    if task.demo_actions is None:
        raise ValueError(f"task seed {task.seed}: goal needs to be 'demo' (a scripted push)")
    scene = env.unwrapped.scene
    i = task.object_index

    def fraction() -> float:
        alone = int(scene.object_pixel_counts(stow_arm=True)[i])
        return float(scene.object_pixel_counts()[i]) / alone if alone else float("nan")

    env.reset(options={"state": task.start_state})
    start = fraction()
    for a in task.demo_actions:
        env.step(a)
    # a cache built on another CPU replays a little differently (MuJoCo's floating point)
    off = float(np.linalg.norm(scene.object_positions[i] - task.goal_positions[i]))
    if off > tol:  # not the goal image's state: its visibility is unknown, not guessed
        print(
            f"seed {task.seed}: the replayed demo ended {100 * off:.2f} cm from the task's goal "
            f"(tolerance {100 * tol:.2f} cm); its goal visibility is reported as nan",
            file=sys.stderr,
        )
        return {"start_visibility": start, "goal_visibility": float("nan"), "replay_offset": off}
    return {"start_visibility": start, "goal_visibility": fraction(), "replay_offset": off}


def summarize(rows: list[dict]) -> dict:
    """Per policy: mean goal visibility of successes / failures; success by visibility half."""
    out: dict[str, dict] = {}
    for policy in sorted({r["policy"] for r in rows}):
        mine = [r for r in rows if r["policy"] == policy]

        def mean(group: list[dict], key: str = "goal_visibility") -> float | None:
            vals = [r[key] for r in group if np.isfinite(r[key])]
            return round(float(np.mean(vals)), 3) if vals else None

        def rate(group: list[dict]) -> str:
            return f"{sum(r['success'] for r in group)}/{len(group)}"

        ok = [r for r in mine if r["success"]]
        bad = [r for r in mine if not r["success"]]
        low = [r for r in mine if r["goal_visibility"] < 0.5]
        high = [r for r in mine if r["goal_visibility"] >= 0.5]
        out[policy] = {
            "episodes": len(mine),
            "goal_visibility_successes": mean(ok),
            "goal_visibility_failures": mean(bad),
            "success_goal_visibility_below_half": rate(low),
            "success_goal_visibility_at_least_half": rate(high),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("results", type=Path, help="a benchmarks/planning.py results JSON")
    p.add_argument("--policy", action="append", help="only these policies (repeatable)")
    p.add_argument(
        "--tasks-cache",
        type=Path,
        default=None,
        help="the task cache the results were made on (default: the benchmark's default cache)",
    )
    p.add_argument("--out", type=Path, help="also write rows and summary to this JSON file")
    args = p.parse_args(argv)
    try:
        results = json.loads(args.results.read_text())
        config = results["config"]
        num_tasks, first_seed = int(config["episodes"]), int(config["seed"])
        task_config = dict(max_steps=int(config["max_steps"]), goal=config["goal"])
        episodes = {
            k: v for k, v in results["episodes"].items() if not args.policy or k in args.policy
        }
        todo = [(k, e["task"]["seed"], bool(e["success"])) for k, v in episodes.items() for e in v]
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as e:
        p.error(f"{args.results} is not a readable planning.py results JSON ({e!r})")
    if not todo:
        p.error(f"{args.results} has no episodes of the policies {args.policy or 'any'}")
    import gymnasium as gym

    import ghvae_env.sim  # noqa: F401  (registers RoboNet-Sim-v0)
    from ghvae_env.planning.tasks import PushTaskConfig, cached_push_tasks, default_task_cache

    env = gym.make("RoboNet-Sim-v0")
    seen: dict[int, dict] = {}
    rows = []
    try:
        # the benchmark's own task set, read from its cache (built there if missing)
        cfg = PushTaskConfig(**task_config)
        cache = args.tasks_cache or default_task_cache(env, first_seed, cfg)
        tasks = {t.seed: t for t in cached_push_tasks(env, num_tasks, first_seed, cfg, cache=cache)}
        recorded = {e["task"]["seed"]: e["task"] for v in episodes.values() for e in v}
        for policy, seed, success in todo:
            if seed not in tasks:
                p.error(
                    f"episode seed {seed} is not one of the {num_tasks} tasks of {cache}; pass "
                    "--tasks-cache with the task set the results were made on"
                )
            if not same_task(tasks[seed].describe(), recorded[seed]):
                p.error(
                    f"task seed {seed} of {cache} is not the episode's task (initial distance "
                    f"{tasks[seed].initial_distance:.4f} m, episode's "
                    f"{recorded[seed].get('initial_distance')}); pass --tasks-cache with the "
                    "task set the results were made on"
                )
            if seed not in seen:
                seen[seed] = task_visibility(env, tasks[seed])
            v = seen[seed]
            rows.append({
                "policy": policy, "seed": seed, "success": success,
                "initial_distance": tasks[seed].initial_distance,
                "start_visibility": v["start_visibility"],
                "goal_visibility": v["goal_visibility"],
                "replay_offset": v["replay_offset"],
            })  # fmt: skip
    finally:
        env.close()
    print("| policy | seed | success | start cm | object visible at start | in goal image |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['policy']} | {r['seed']} | {'yes' if r['success'] else 'no'} | "
            f"{100 * r['initial_distance']:.1f} | {r['start_visibility']:.2f} | "
            f"{r['goal_visibility']:.2f} |"
        )
    summary = summarize(rows)
    print(json.dumps(summary, indent=2))
    if args.out is not None:
        payload = {"command": "python " + " ".join([sys.argv[0], *(argv or sys.argv[1:])])}
        # an unknown visibility (nan) is written as null: strict JSON has no nan
        known = [{k: None if isinstance(v, float) and not np.isfinite(v) else v
                  for k, v in r.items()} for r in rows]  # fmt: skip
        payload.update(results=str(args.results), summary=summary, rows=known)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
