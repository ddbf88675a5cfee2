"""Visual-MPC push tasks: GHVAE-MPC vs SVG'-MPC vs random vs no-op vs the oracle.

Every policy runs on the same N tasks (ghvae_env.planning.tasks: one object 7.5-15 cm from its
goal, 15 steps): success (final distance < 5 cm) and VP2's success (minimum over the episode)
with Wilson 95% intervals, mean final and minimum distance, improvement, seconds per planning
step and the share of it inside model rollouts; the tasks' start-to-goal distances (min /
median / max) and the seeds skipped as unsolvable.

Policies: ``ghvae`` (--preset, default ``push``: VP2's MPPI, blurred cost, planar), ``ghvae-icem`` (iCEM), ``svg``
(--svg-checkpoint), ``random``, ``noop``, ``oracle`` (the same planner with the simulator as
its model: --oracle-cost pixel renders candidates and uses the planner's pixel cost, state
uses the object-to-goal distance without rendering; --oracle-workers simulator processes).

    python benchmarks/planning.py --episodes 100 --policies ghvae,random,noop   # the main table
    python benchmarks/planning.py --episodes 100 --policies oracle --oracle-cost state \\
        --oracle-workers 2 --oracle-samples 64
    python benchmarks/planning.py --episodes 20 --policies oracle --oracle-cost pixel \\
        --oracle-workers 2 --oracle-samples 64 --out benchmarks/results/planning_oracle_pixel.json
    python benchmarks/planning.py --quick --checkpoint CKPT     # CI smoke run: tiny budgets

Each episode is appended to ``<out>.jsonl`` as it finishes (a crash in one episode is logged
and the others go on); re-running the same command resumes from that log. Writes ``--out``
(JSON: config, command, machine, per-policy summary and episodes, task distances) and the
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
from ghvae_env._threads import add_threads_argument, apply_threads
from ghvae_env.model import load_model
from ghvae_env.model.checkpoint import CheckpointError
from ghvae_env.planning.cli import add_planner_arguments, planner_config
from ghvae_env.planning.config import PlannerConfig, PlannerConfigError
from ghvae_env.planning.policies import make_policy
from ghvae_env.planning.results import ResultsWriter, run_logged_episodes, summary_table
from ghvae_env.planning.tasks import (
    PushTaskConfig,
    cached_push_tasks,
    default_task_cache,
    run_episode,
    summarize,
    task_distance_report,
)

# --quick: 2 tasks of 3 steps, 8 candidates x 1 iteration over 3 steps, a 2-sample oracle
# with the state cost in one worker process.
QUICK = dict(
    episodes=2, samples=8, iterations=1, horizon=3, max_steps=3, oracle_samples=2,
    oracle_iterations=1, oracle_cost="state", oracle_workers=1, icem_samples=8,
)  # fmt: skip
LABELS = {
    "ghvae": "GHVAE-MPC",
    "ghvae-icem": "GHVAE-MPC, iCEM",
    "svg": "SVG'-MPC",
    "random": "random",
    "noop": "no-op",
    "oracle": "oracle (sim MPC)",
}
ALL_POLICIES = tuple(LABELS)
DEFAULT_POLICIES = ("ghvae", "random", "noop", "oracle")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--episodes", type=int, default=100, help="push tasks (VP2: 100)")
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
        "--limit",
        default="",
        help="per-policy task limits, e.g. oracle=20 (the first N tasks)",
    )
    p.add_argument(
        "--only-seeds",
        default="",
        metavar="S1,S2,..",
        help="run only the tasks of these seeds (of the --episodes tasks), e.g. a run's failures "
        "at another budget; applied before --limit and --shard",
    )
    p.add_argument(
        "--shard",
        default=None,
        metavar="I/N",
        help="run every N-th task from task I (0-based) of each policy's list: N processes or "
        "machines with --shard 0/N .. N-1/N and their own --out split a benchmark; "
        "concatenate their .jsonl logs into one and rerun without --shard for the joint table",
    )
    p.add_argument("--device", default="auto", help='model device: "auto", "cpu", "cuda:N"')
    add_planner_arguments(p)
    p.set_defaults(preset="push")
    p.add_argument(
        "--icem-samples", type=int, default=64, help="ghvae-icem: candidates per iteration"
    )
    p.add_argument(
        "--oracle-samples", type=int, default=None, help="oracle candidates (default: as --samples)"
    )
    p.add_argument(
        "--oracle-iterations", type=int, default=None, help="oracle iterations (default: as ghvae)"
    )
    p.add_argument(
        "--oracle-cost",
        default="pixel",
        choices=["pixel", "state"],
        help="oracle cost: the planner's pixel cost on rendered frames, or object-to-goal cm",
    )
    p.add_argument(
        "--oracle-workers", type=int, default=2, help="oracle simulator processes (0: in-process)"
    )
    p.add_argument(
        "--policies",
        default=",".join(DEFAULT_POLICIES),
        help=f"comma-separated subset of {ALL_POLICIES}",
    )
    p.add_argument("--out", type=Path, default=None, help=out_help("planning.json"))
    p.add_argument(
        "--fresh", action="store_true", help="ignore (and replace) an existing episode log"
    )
    p.add_argument(
        "--tasks-cache",
        type=Path,
        default=None,
        help="task cache (.npz): built once, read back on resume and by later runs on the same "
        "tasks (default: $XDG_CACHE_HOME or ~/.cache, ghvae-env/push_tasks/; with --quick, "
        "beside --out)",
    )
    p.add_argument(
        "--no-tasks-cache", action="store_true", help="build the tasks, read and write no cache"
    )
    add_threads_argument(p)
    p.add_argument(
        "--quick",
        action="store_true",
        help="CI smoke run: 2 tasks of 3 steps, 8 samples x 1 iteration, horizon 3, oracle 2 "
        "(state cost, 1 worker)",
    )
    args = p.parse_args(argv)
    if args.quick:  # the smoke budgets become defaults: flags given explicitly still win
        p.set_defaults(**QUICK)
        args = p.parse_args(argv)
    resolve_out(p, args, "planning.json")
    return args


def policy_configs(args: argparse.Namespace) -> dict[str, PlannerConfig]:
    """The planner of every planning policy (oracle: the ghvae planner, its budgets overridden)."""
    config = planner_config(args, args.seed)
    oracle: dict[str, Any] = {}
    if args.oracle_samples is not None:
        oracle["num_samples"] = args.oracle_samples
        if config.num_elites is not None and config.num_elites > args.oracle_samples:
            oracle["num_elites"] = None
    if args.oracle_iterations is not None:
        oracle["iterations"] = args.oracle_iterations
    icem = PlannerConfig.icem(
        num_samples=args.icem_samples,
        num_elites=max(1, args.icem_samples // 8),
        horizon=config.horizon,
        seed=args.seed,
        prior_mean=config.prior_mean,
        latent_temperature=config.latent_temperature,
        particles=config.particles,
        **({"iterations": args.iterations} if args.iterations is not None else {}),
    )
    return {
        "ghvae": config,
        "svg": config,
        # the simulator has no latent to sample: no latent temperature, one particle
        "oracle": config.replace(**oracle, latent_temperature=1.0, particles=1),
        "ghvae-icem": icem,
    }


def markdown_table(summaries: dict[str, dict[str, Any]]) -> str:
    return summary_table(summaries, LABELS)


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
    only = [x.strip() for x in args.only_seeds.split(",") if x.strip()]
    if not all(x.isdigit() for x in only):
        raise SystemExit(
            f"--only-seeds must be task seeds S1,S2,.., actual value: {args.only_seeds!r}"
        )
    only_seeds = {int(x) for x in only}
    shard = (0, 1)
    if args.shard is not None:
        i, _, n = args.shard.partition("/")
        if not (i.isdigit() and n.isdigit() and int(i) < int(n)):
            raise SystemExit(f"--shard must be I/N with 0 <= I < N, actual value: {args.shard!r}")
        shard = (int(i), int(n))
    try:
        configs = policy_configs(args)
    except PlannerConfigError as e:
        raise SystemExit(f"planning.py: error: {e}") from e
    device = resolve_device(args.device)
    threads = apply_threads(args.threads, device=device)
    models = {}
    try:
        if {"ghvae", "ghvae-icem"} & set(policies):
            models["ghvae"] = models["ghvae-icem"] = load_model(args.checkpoint, device=device)
        if "svg" in policies:
            models["svg"] = load_model(args.svg_checkpoint, device=device)
    except (FileNotFoundError, CheckpointError) as e:  # the message names the file
        raise SystemExit(f"planning.py: error: {e}") from e
    log = args.out.with_suffix(".jsonl")
    if args.fresh and log.exists():
        log.unlink()
    writer = ResultsWriter(log)
    t0 = time.time()
    env = gym.make("RoboNet-Sim-v0")
    summaries, episodes, errors = {}, {}, {}
    skipped: list[dict[str, Any]] = []
    try:
        task_config = PushTaskConfig(max_steps=args.max_steps, goal=args.goal)
        cache = None
        if not args.no_tasks_cache:
            cache = args.tasks_cache
            if cache is None:
                base = args.out.parent if args.quick else None
                cache = default_task_cache(env, args.seed, task_config, base)
        tasks = cached_push_tasks(
            env, args.episodes, args.seed, task_config, skipped, cache=cache, progress=True
        )
        if only_seeds:
            missing = sorted(only_seeds - {t.seed for t in tasks})
            if missing:
                raise SystemExit(
                    f"--only-seeds names seeds that are not among the {len(tasks)} tasks "
                    f"(skipped seeds: {[s['seed'] for s in skipped]}), actual value: {missing}"
                )
            tasks = [t for t in tasks if t.seed in only_seeds]
        distances = task_distance_report(tasks, skipped)
        print(
            f"{len(tasks)} tasks, start-to-goal distance min {100 * distances['min_distance']:.1f}"
            f" / median {100 * distances['median_distance']:.1f} / max "
            f"{100 * distances['max_distance']:.1f} cm; skipped seeds (no valid push): "
            f"{[s['seed'] for s in skipped]}",
            flush=True,
        )
        for name in policies:
            kind = "ghvae" if name in models else name  # any rollout-API model plans the same way
            policy = make_policy(
                kind, env, configs.get(name), models.get(name),
                oracle_cost=args.oracle_cost, oracle_workers=args.oracle_workers,
            )  # fmt: skip
            todo = tasks[: limits.get(name, len(tasks))][shard[0] :: shard[1]]
            log_name = f"oracle-{args.oracle_cost}" if name == "oracle" else name
            count = [0]

            def show(task, result, error, name=name, todo=todo, count=count):
                count[0] += 1
                head = f"{LABELS[name]:>20} task {count[0]}/{len(todo)} (seed {task.seed})"
                if result is None:
                    print(f"{head}: FAILED {error}", flush=True)
                else:
                    print(
                        f"{head}: success {result['success']!s:5} final "
                        f"{100 * result['final_distance']:5.1f} cm, min "
                        f"{100 * result['min_distance']:5.1f} cm ({result['wall_time_s']:.1f} s)",
                        flush=True,
                    )

            try:
                episodes[name], errors[name] = run_logged_episodes(
                    log_name,
                    todo,
                    lambda task, policy=policy: run_episode(env, policy, task),
                    writer,
                    on_result=show,
                )
            finally:
                close = getattr(getattr(policy, "model", None), "close", None)
                if kind == "oracle" and callable(close):
                    close()
            if episodes[name]:
                summaries[name] = summarize(episodes[name], errors[name])
    finally:
        env.close()

    table = markdown_table(summaries)
    print("\n" + table)
    report = {
        "command": command,
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "planners": {name: configs[name].to_dict() for name in policies if name in configs},
        "checkpoints": {name: m.checkpoint_info.get("path") for name, m in models.items()},
        "threads": threads,
        "task_distances": distances,
        "machine": machine_info(args.device),
        "date": today(),
        "summary": summaries,
        "episodes": episodes,
        "errors": errors,
        "episode_log": str(log),
        "wall_s": round(time.time() - t0, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    md = args.out.with_suffix(".md")
    md.write_text(
        f"# Visual-MPC push tasks ({len(tasks)} tasks, {report['date']})\n\n`{command}`\n\n"
        f"Start-to-goal distance: min {100 * distances['min_distance']:.1f}, median "
        f"{100 * distances['median_distance']:.1f}, max {100 * distances['max_distance']:.1f} "
        f"cm; skipped seeds: {[s['seed'] for s in skipped]}.\n\n{table}"
    )
    print(f"wrote {args.out}, {md} and {log}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
