"""Does the planner's pixel cost rank candidates the way the task does? In the simulator's
frames, and in a model's imagined frames of the same candidates.

For each push task, ``--candidates`` action sequences (VP2's correlated noise, std 0.5, around
half the scripted push's first action: the candidates of a search in progress) are replayed in
the simulator and rendered. Each is scored two ways: the planner's pixel cost (VP2's summed
squared RGB error to the goal image, after a Gaussian blur of each ``--blurs`` std) and the
state cost (the pushed object's distance to its goal, summed over the steps). Reported per
blur (and ``--chromas`` weight of the chroma term, ``PixelGoalCost(chroma=)``): the Spearman
rank correlation between the two (1: the pixel cost orders candidates as the task does), and
the regret of the pixel cost's pick (its candidate's state cost over the best one's; 1: it
picks the best). Also a synthetic check: a 4 x 4 square 3 px off its goal, 20 px off, or gone.

With ``--checkpoint`` each candidate is also imagined by that model (``rollout`` from the
task's context frames, one latent sample, as the planner's candidates are) and scored by the
same costs on the imagined frames: "imagined" Spearman and regret say what the planner sees
through the model, the "sim" ones what it would see through a perfect model. A cost that ranks
well in the simulator and badly in the model's frames is a cost the oracle can use and the
learned model cannot. ``--planar`` draws no dz noise (the ``push`` preset's init std).

    python benchmarks/pixel_cost_check.py                # 9 tasks x 32 candidates, ~4 min
    python benchmarks/pixel_cost_check.py --checkpoint CKPT --chromas 0,30,100 --blurs 8 --planar
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
from ghvae_env.model import load_model
from ghvae_env.model.api import check_temperature, temperature_kwargs
from ghvae_env.planning.costs import PixelGoalCost, particle_mean_costs
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


def _numbers(text: str, name: str, p: argparse.ArgumentParser) -> list[float]:
    try:
        values = [float(b) for b in text.split(",")]
        if not all(0 <= b < float("inf") for b in values):
            raise ValueError
    except ValueError:
        p.error(f"--{name} must be comma-separated numbers >= 0, actual value: {text!r}")
    return values


def cost_name(blur: float, chroma: float) -> str:
    """The row key of one cost: ``"blur 8"`` (the published key) or ``"blur 8 chroma 30"``."""
    return f"blur {blur:g}" + (f" chroma {chroma:g}" if chroma else "")


def rank_scores(costs: np.ndarray, state_cm: np.ndarray) -> dict[str, float]:
    """Spearman of a pixel cost against the state cost, and the regret of its pick."""
    return {
        "spearman": spearman(costs, state_cm),
        "regret": float(state_cm[np.argmin(costs)] / state_cm.min()),
    }


def imagine(
    model, task, actions: np.ndarray, seed: int, samples: int = 1, temperature: float = 1.0
) -> torch.Tensor:
    """``N x H x 3 x 64 x 64``: the model's rollout of each candidate from the task's context
    (``samples`` > 1: ``N x S x H x 3 x 64 x 64``, S latent samples per candidate)."""
    ctx = torch.stack([to_float_chw(f) for f in task.context_frames])  # C x 3 x 64 x 64
    N = actions.shape[0]
    past = torch.as_tensor(np.asarray(task.context_actions, np.float32)).expand(N, -1, -1)
    acts = torch.cat([past, torch.as_tensor(actions)], dim=1)
    g = torch.Generator().manual_seed(seed)
    kwargs = temperature_kwargs(model, temperature, "rollout")
    return model.rollout(ctx.expand(N, -1, -1, -1, -1), acts, samples, generator=g, **kwargs)


def imagined_costs(cost, imagined: torch.Tensor, goal: torch.Tensor) -> np.ndarray:
    """A cost per candidate on imagined frames; with S samples each, the mean over them."""
    if imagined.ndim == 6:  # N x S x H x C x h x w: the planner's particles
        return particle_mean_costs(cost, imagined, goal).numpy()
    return cost(imagined, goal).numpy()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--tasks", type=int, default=9, help="push tasks (the first N from --seed)")
    p.add_argument("--seed", type=int, default=0, help="first task seed")
    p.add_argument("--candidates", type=int, default=32, help="candidate sequences per task")
    p.add_argument("--horizon", type=int, default=10, help="steps per candidate (VP2: 10)")
    p.add_argument("--blurs", default="0,2,4,6,8,12", help="Gaussian stds (pixels) to compare")
    p.add_argument(
        "--chromas", default="0", help="chroma-term weights, each crossed with every blur"
    )
    p.add_argument(
        "--checkpoint",
        default=None,
        help="also score the costs on this model's imagined frames ('bundled': the bundled one)",
    )
    p.add_argument("--planar", action="store_true", help="no dz noise in the candidates")
    p.add_argument(
        "--imagined-samples",
        type=int,
        default=1,
        help="latent samples per candidate; the imagined cost is their mean (the planner: 1)",
    )
    p.add_argument("--temperature", type=float, default=1.0, help="latent temperature (0: mean)")
    p.add_argument(
        "--tasks-cache",
        default=None,
        help="read the tasks from (or build them into) this file, as planning.py's "
        "--tasks-cache (e.g. a copy of benchmarks/results/planning_push_v2/tasks_100.npz)",
    )
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
    if args.imagined_samples < 1:
        p.error(f"--imagined-samples must be >= 1, actual value: {args.imagined_samples}")
    try:
        args.temperature = check_temperature(args.temperature)
    except ValueError as e:
        p.error(f"--temperature: {e}")
    blurs = _numbers(args.blurs, "blurs", p)
    chromas = _numbers(args.chromas, "chromas", p)
    costs = {cost_name(b, c): PixelGoalCost("sse", 1.0, b, c) for c in chromas for b in blurs}
    model = None
    if args.checkpoint is not None:
        path = None if args.checkpoint == "bundled" else args.checkpoint
        try:
            model = load_model(path)
        except (OSError, ValueError, RuntimeError) as e:
            p.error(f"--checkpoint {args.checkpoint!r} could not be loaded: {e}")
    t0 = time.time()
    env = gym.make("RoboNet-Sim-v0")
    tasks = cached_push_tasks(env, args.tasks, args.seed, PushTaskConfig(), cache=args.tasks_cache)
    rng = np.random.default_rng(0)
    H, N = args.horizon, args.candidates
    per_task = []
    for task in tasks:
        d0 = np.r_[task.demo_actions[0][:3], 0.0]
        frames, state, plans = [], [], []
        for _ in range(N):
            e = rng.normal(0.0, 0.5, (H, 3))
            if args.planar:
                e[:, 2] = 0.0
            for k in range(1, H):  # VP2's correlated noise, beta 0.5
                e[k] = 0.5 * e[k - 1] + 0.5 * e[k]
            acts = np.clip(0.5 * d0 + np.c_[e, np.zeros(H)], -1.0, 1.0).astype(np.float32)
            plans.append(acts)
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
        imagined = None
        if model is not None:
            imagined = imagine(
                model, task, np.stack(plans), task.seed, args.imagined_samples, args.temperature
            )
            first = imagined[:, 0] if imagined.ndim == 6 else imagined
            row["imagined_psnr_db"] = round(
                float(-10 * torch.log10((first - pred).square().mean().clamp_min(1e-10))), 2
            )
        for name, cost in costs.items():
            row[name] = rank_scores(cost(pred, goal).numpy(), cm)
            if imagined is not None:
                scores = rank_scores(imagined_costs(cost, imagined, goal), cm)
                row[name].update({f"imagined_{k}": v for k, v in scores.items()})
        per_task.append(row)
        print(task.seed, {k: v for k, v in row.items() if k in costs}, flush=True)
    env.close()
    keys = list(per_task[0][next(iter(costs))]) if per_task else []
    summary = {
        name: {k: float(np.mean([r[name][k] for r in per_task])) for k in keys} for name in costs
    }
    result = {
        "command": command_string("pixel_cost_check.py", argv),
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine_info(),
        "tasks": len(per_task),
        "candidates": N,
        "horizon": H,
        "planar": args.planar,
        "checkpoint": args.checkpoint,
        "tasks_cache": args.tasks_cache,
        "imagined_samples": args.imagined_samples,
        "temperature": args.temperature,
        "summary": summary,
        "synthetic_sse_3px_20px_gone": synthetic(blurs),
        "per_task": per_task,
        "wall_s": round(time.time() - t0, 1),
    }
    out = save_json(args.out / "pixel_cost_check.json", result)
    header = ["cost (SSE)", "Spearman (pixel vs state cost)", "regret of the pixel pick"]
    if model is not None:
        header += ["Spearman, imagined frames", "regret, imagined frames"]
    table = markdown_table(header, [[name, *summary[name].values()] for name in costs])
    out.with_suffix(".md").write_text(f"`{result['command']}`\n\n{table}")
    print(table)
    print(f"wrote {out} and {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
