"""Does the planner's pixel cost rank candidates the way the task does? Raw vs blurred SSE.

For each push task, ``--candidates`` action sequences (VP2's correlated noise, std 0.5, around
half the scripted push's first action: the candidates of a search in progress) are replayed in
the simulator and rendered. Each is scored two ways: the planner's pixel cost (VP2's summed
squared RGB error to the goal image, after a Gaussian blur of each ``--blurs`` std) and the
state cost (the pushed object's distance to its goal, summed over the steps). Reported per
blur: the Spearman rank correlation between the two (1: the pixel cost orders candidates as
the task does), and the regret of the pixel cost's pick (its candidate's state cost over the
best one's; 1: it picks the best). Also a synthetic check: a 4 x 4 square 3 px off its goal,
20 px off, or gone.

    python benchmarks/pixel_cost_check.py                # 9 tasks x 32 candidates, ~4 min
    python benchmarks/pixel_cost_check.py --quick        # 2 tasks x 4 candidates, 3 steps
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("MUJOCO_GL", "egl")

import gymnasium as gym
import numpy as np
import torch
from _common import command_string, machine_info, markdown_table, out_help, resolve_out, save_json

import ghvae_env.sim  # noqa: F401  (registers RoboNet-Sim-v0)
from ghvae_env.data.frames import to_float_chw
from ghvae_env.planning.costs import PixelGoalCost
from ghvae_env.planning.tasks import PushTaskConfig, cached_push_tasks


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def synthetic(blurs: list[float]) -> dict[str, list[float]]:
    goal = torch.zeros(3, 64, 64)
    goal[:, 30:34, 30:34] = 1.0
    pred = torch.zeros(3, 1, 3, 64, 64)
    pred[0, 0, :, 30:34, 33:37] = 1.0  # 3 px off
    pred[1, 0, :, 30:34, 50:54] = 1.0  # 20 px off; pred[2]: gone
    return {
        f"blur {b:g}": [round(float(c), 3) for c in PixelGoalCost("sse", 1.0, b)(pred, goal)]
        for b in blurs
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--tasks", type=int, default=9, help="push tasks (the first N from --seed)")
    p.add_argument("--seed", type=int, default=0, help="first task seed")
    p.add_argument("--candidates", type=int, default=32, help="candidate sequences per task")
    p.add_argument("--horizon", type=int, default=10, help="steps per candidate (VP2: 10)")
    p.add_argument("--blurs", default="0,2,4,6,8,12", help="Gaussian stds (pixels) to compare")
    p.add_argument("--out", default=None, help=out_help("planning_cost"))
    p.add_argument(
        "--quick", action="store_true", help="smoke run: 2 tasks x 4 candidates, 3 steps"
    )
    args = p.parse_args(argv)
    resolve_out(p, args, "planning_cost")
    if args.quick:
        args.tasks, args.candidates, args.horizon = 2, 4, 3
    for name, low in (("tasks", 1), ("candidates", 2), ("horizon", 1)):
        if getattr(args, name) < low:
            p.error(f"--{name} must be >= {low}, actual value: {getattr(args, name)}")
    try:
        blurs = [float(b) for b in args.blurs.split(",")]
        if not all(0 <= b < float("inf") for b in blurs):
            raise ValueError
    except ValueError:
        p.error(f"--blurs must be comma-separated stds >= 0, actual value: {args.blurs!r}")
    t0 = time.time()
    env = gym.make("RoboNet-Sim-v0")
    tasks = cached_push_tasks(env, args.tasks, args.seed, PushTaskConfig())
    rng = np.random.default_rng(0)
    H, N = args.horizon, args.candidates
    per_task = []
    for task in tasks:
        d0 = np.r_[task.demo_actions[0][:3], 0.0]
        frames, state = [], []
        for _ in range(N):
            e = rng.normal(0.0, 0.5, (H, 3))
            for k in range(1, H):  # VP2's correlated noise, beta 0.5
                e[k] = 0.5 * e[k - 1] + 0.5 * e[k]
            acts = np.clip(0.5 * d0 + np.c_[e, np.zeros(H)], -1.0, 1.0).astype(np.float32)
            env.reset(options={"state": task.start_state})
            fr, dist = [], 0.0
            for a in acts:
                obs, *_ = env.step(a)
                fr.append(to_float_chw(obs))
                dist += 100.0 * task.distance(env.unwrapped.scene.object_positions)
            frames.append(torch.stack(fr))
            state.append(dist)
        pred, cm = torch.stack(frames), np.array(state)
        goal = to_float_chw(task.goal_image)
        row = {"seed": task.seed, "state_cost_cm": [round(cm.min(), 1), round(cm.max(), 1)]}
        for b in blurs:
            c = PixelGoalCost("sse", 1.0, b)(pred, goal).numpy()
            row[f"blur {b:g}"] = {
                "spearman": spearman(c, cm),
                "regret": float(cm[np.argmin(c)] / cm.min()),
            }
        per_task.append(row)
        print(task.seed, {k: v for k, v in row.items() if k.startswith("blur")}, flush=True)
    env.close()
    summary = {
        f"blur {b:g}": {
            "spearman": float(np.mean([r[f"blur {b:g}"]["spearman"] for r in per_task])),
            "regret": float(np.mean([r[f"blur {b:g}"]["regret"] for r in per_task])),
        }
        for b in blurs
    }
    result = {
        "command": command_string("pixel_cost_check.py", argv),
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine_info(),
        "tasks": len(per_task),
        "candidates": N,
        "horizon": H,
        "summary": summary,
        "synthetic_sse_3px_20px_gone": synthetic(blurs),
        "per_task": per_task,
        "wall_s": round(time.time() - t0, 1),
    }
    out = save_json(args.out / "pixel_cost_check.json", result)
    table = markdown_table(
        ["blur (px)", "Spearman (pixel vs state cost)", "regret of the pixel pick"],
        [[b, summary[f"blur {b:g}"]["spearman"], summary[f"blur {b:g}"]["regret"]] for b in blurs],
    )
    out.with_suffix(".md").write_text(f"`{result['command']}`\n\n{table}")
    print(table)
    print(f"wrote {out} and {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
