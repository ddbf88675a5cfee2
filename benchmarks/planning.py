"""Visual-MPC push tasks: GHVAE-MPC vs random vs no-op vs oracle (the simulator as the model).

Every policy runs on the same N tasks (VP2 protocol, ghvae_env.planning.tasks): success at the
end and at the closest approach (< 5 cm), mean final distance and improvement, wall time per
planning step and the share of it spent inside model rollouts.

    python benchmarks/planning.py --episodes 20 --samples 64 --iterations 3 --out benchmarks/results/planning.json
    python benchmarks/planning.py --quick --checkpoint CKPT     # CI smoke run: 2 tasks, tiny budgets

Writes ``--out`` (JSON: config, command, machine, per-policy summary and episodes) and the same
table as markdown beside it (``.md``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
from _common import command_string, machine_info, out_help, resolve_out, today

import ghvae_env.sim  # noqa: F401  (registers RoboNet-Sim-v0)
from ghvae_env._device import resolve_device
from ghvae_env.model import load_model
from ghvae_env.model.checkpoint import CheckpointError
from ghvae_env.planning.cli import add_planner_arguments, planner_config
from ghvae_env.planning.policies import POLICIES, make_policy
from ghvae_env.planning.tasks import PushTaskConfig, run_episode, sample_push_tasks, summarize

# --quick: 2 tasks of 3 steps, 8 candidates x 1 iteration over 3 steps, a 2-sample oracle.
QUICK = dict(
    episodes=2, samples=8, iterations=1, horizon=3, max_steps=3, oracle_samples=2,
    oracle_iterations=1,
)  # fmt: skip
LABELS = {
    "ghvae": "GHVAE-MPC",
    "ghvae-mppi200": "GHVAE-MPC, MPPI 200",
    "svg": "SVG'-MPC",
    "random": "random",
    "noop": "no-op",
    "oracle": "oracle (sim MPC)",
}
ALL_POLICIES = tuple(LABELS)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--episodes", type=int, default=20, help="push tasks (seeds seed..seed+N-1)")
    p.add_argument("--seed", type=int, default=0, help="first task seed")
    p.add_argument(
        "--checkpoint", type=Path, default=None, help="GHVAE checkpoint; default: bundled"
    )
    p.add_argument(
        "--svg-checkpoint",
        type=Path,
        default=None,
        help="SVG' checkpoint for the 'svg' policy (ghvae train --model svg-prime)",
    )
    p.add_argument(
        "--goal", default="demo", choices=["demo", "render"], help="push-task goal protocol"
    )
    p.add_argument(
        "--mppi-samples", type=int, default=200, help="ghvae-mppi200: MPPI candidates (VP2: 200)"
    )
    p.add_argument("--mppi-iterations", type=int, default=1, help="ghvae-mppi200: iterations")
    p.add_argument(
        "--limit",
        default="",
        help="per-policy task limits, e.g. oracle=5,ghvae-mppi200=10 (the first N tasks)",
    )
    p.add_argument("--device", default="auto", help='model device: "auto", "cpu", "cuda:N"')
    add_planner_arguments(p)
    p.add_argument(
        "--oracle-samples", type=int, default=16, help="oracle candidates (each costs H sim steps)"
    )
    p.add_argument("--oracle-iterations", type=int, default=2, help="oracle CEM iterations")
    p.add_argument(
        "--policies",
        default=",".join(POLICIES),
        help=f"comma-separated subset of {ALL_POLICIES}",
    )
    p.add_argument("--out", type=Path, default=None, help=out_help("planning.json"))
    p.add_argument(
        "--quick",
        action="store_true",
        help="CI smoke run: 2 tasks of 3 steps, 8 samples x 1 iteration, horizon 3, oracle 2",
    )
    args = p.parse_args(argv)
    if args.quick:  # the smoke budgets become defaults: flags given explicitly still win
        p.set_defaults(**QUICK)
        args = p.parse_args(argv)
    resolve_out(p, args, "planning.json")
    return args


def markdown_table(summaries: dict[str, dict[str, Any]]) -> str:
    def fmt(value: float | None, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    lines = [
        "| policy | tasks | success | success (min dist.) | final dist. (cm) | improvement (cm) "
        "| s / planning step | model share |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, s in summaries.items():
        lines.append(
            f"| {LABELS[name]} | {s['episodes']} | {fmt(s['success_rate'], '.2f')} | "
            f"{fmt(s['success_min_rate'], '.2f')} | {fmt(100 * s['mean_final_distance'], '.1f')} | "
            f"{fmt(100 * s['mean_improvement'], '+.1f')} | {fmt(s['plan_step_time_s'], '.2f')} | "
            f"{fmt(None if s['model_share'] is None else 100 * s['model_share'], '.0f')}"
            f"{'' if s['model_share'] is None else '%'} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = command_string("planning.py", argv)
    print(f"command: {command}", flush=True)
    policies = [name.strip() for name in args.policies.split(",") if name.strip()]
    unknown = sorted(set(policies) - set(ALL_POLICIES))
    if unknown:
        raise SystemExit(f"--policies must name {list(ALL_POLICIES)}, actual value: {unknown}")
    if "svg" in policies and args.svg_checkpoint is None:
        raise SystemExit("--policies svg needs --svg-checkpoint PATH")
    limits = {}
    for item in filter(None, (x.strip() for x in args.limit.split(","))):
        name, _, n = item.partition("=")
        if name not in ALL_POLICIES or not n.isdigit() or int(n) < 1:
            raise SystemExit(f"--limit items must be POLICY=N (N >= 1), actual value: {item!r}")
        limits[name] = int(n)
    config = planner_config(args, args.seed)
    configs = {
        "oracle": config.replace(
            num_samples=args.oracle_samples, iterations=args.oracle_iterations, num_elites=None
        ),
        "ghvae-mppi200": config.replace(
            method="mppi",
            num_samples=args.mppi_samples,
            iterations=args.mppi_iterations,
            num_elites=None,
        ),
    }
    device = resolve_device(args.device)
    models = {}
    try:
        if {"ghvae", "ghvae-mppi200"} & set(policies):
            models["ghvae"] = models["ghvae-mppi200"] = load_model(args.checkpoint, device=device)
        if "svg" in policies:
            models["svg"] = load_model(args.svg_checkpoint, device=device)
    except (FileNotFoundError, CheckpointError) as e:  # the message names the file
        raise SystemExit(f"planning.py: error: {e}") from e
    t0 = time.time()
    env = gym.make("RoboNet-Sim-v0")
    summaries, episodes = {}, {}
    try:
        tasks = sample_push_tasks(
            env, args.episodes, args.seed, PushTaskConfig(max_steps=args.max_steps, goal=args.goal)
        )
        for name in policies:
            kind = "ghvae" if name in models else name  # any rollout-API model plans the same way
            policy = make_policy(kind, env, configs.get(name, config), models.get(name))
            episodes[name] = []
            todo = tasks[: limits.get(name, len(tasks))]
            for i, task in enumerate(todo):
                result = run_episode(env, policy, task)
                episodes[name].append(result)
                print(
                    f"{LABELS[name]:>20} task {i + 1}/{len(todo)}: success {result['success']!s:5} "
                    f"final {100 * result['final_distance']:5.1f} cm "
                    f"({result['wall_time_s']:.1f} s)",
                    flush=True,
                )
            summaries[name] = summarize(episodes[name])
    finally:
        env.close()

    table = markdown_table(summaries)
    print("\n" + table)
    report = {
        "command": command,
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "planner": config.to_dict(),
        "planners": {name: c.to_dict() for name, c in configs.items()},
        "checkpoints": {name: m.checkpoint_info.get("path") for name, m in models.items()},
        "task_seeds": [t.seed for t in tasks],
        "machine": machine_info(args.device),
        "date": today(),
        "summary": summaries,
        "episodes": episodes,
        "wall_s": round(time.time() - t0, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    md = args.out.with_suffix(".md")
    md.write_text(
        f"# Visual-MPC push tasks ({args.episodes} tasks, {report['date']})\n\n"
        f"`{command}`\n\n{table}"
    )
    print(f"wrote {args.out} and {md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
