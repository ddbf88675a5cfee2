"""``ghvae plan``: visual MPC on push tasks in ``RoboNet-Sim-v0``, scored from simulator state.

    ghvae plan --tasks push --episodes 10 --seed 0 --method cem --samples 64 --iterations 3 \\
        --json results.json --video plan.mp4                 # bundled checkpoint
    ghvae plan --baseline oracle --samples 8 --iterations 2  # the simulator as the model

Only argparse is imported at module level: ``ghvae --help`` stays cheap.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from ghvae_env._threads import add_threads_argument, apply_threads  # os and time only

__all__ = ["add_parser", "add_planner_arguments", "planner_config", "command_line", "run"]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"must be an int >= 1, actual value: {text!r}") from e
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an int >= 1, actual value: {value}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"must be an int >= 0, actual value: {text!r}") from e
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an int >= 0, actual value: {value}")
    return value


def add_planner_arguments(p: argparse.ArgumentParser) -> None:
    """The planner options shared by ``ghvae plan``, the example and the benchmark."""
    p.add_argument(
        "--method", default="cem", choices=["cem", "mppi", "random"], help="trajectory optimiser"
    )
    p.add_argument(
        "--samples", type=_positive_int, default=64, help="candidate action sequences per iteration"
    )
    p.add_argument("--iterations", type=_positive_int, default=3, help="optimiser iterations")
    p.add_argument(
        "--elites",
        type=_positive_int,
        default=None,
        help="CEM elites (default: samples // 8, at least 1)",
    )
    p.add_argument("--horizon", type=_positive_int, default=10, help="planned actions (VP2: 10)")
    p.add_argument(
        "--replan-every", type=_positive_int, default=1, help="executed actions between plans"
    )
    p.add_argument(
        "--max-steps", type=_positive_int, default=15, help="control steps per episode (VP2: 15)"
    )


def planner_config(args: argparse.Namespace, seed: int) -> Any:
    """A PlannerConfig from the arguments of :func:`add_planner_arguments`."""
    from ghvae_env.planning.config import PlannerConfig

    return PlannerConfig(
        method=args.method,
        num_samples=args.samples,
        iterations=args.iterations,
        num_elites=args.elites,
        horizon=args.horizon,
        replan_every=args.replan_every,
        seed=seed,
    )


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "plan",
        help="visual MPC: plan in the GHVAE, execute in RoboNet-Sim-v0",
        description="Sample push tasks (VP2 protocol: one object 5-15 cm to a goal image, "
        "15 steps, success < 5 cm), plan with CEM/MPPI/random shooting in the GHVAE (or run "
        "a baseline) and report success from simulator state.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--tasks", default="push", choices=["push"], help="task family")
    p.add_argument("--episodes", type=_positive_int, default=10, help="tasks to run")
    p.add_argument(
        "--seed",
        type=_non_negative_int,
        default=0,
        help="tasks come from seeds seed, seed + 1, ... (seeds with no valid push are skipped)",
    )
    p.add_argument(
        "--goal",
        default="demo",
        choices=["demo", "render"],
        help="demo: VP2-style, goal = last frame of a scripted push (arm in view); render: "
        "objects teleported to a random goal, arm stowed",
    )
    p.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="model checkpoint (.pt, GHVAE or SVG'); default: the bundled GHVAE",
    )
    p.add_argument(
        "--baseline",
        default="ghvae",
        choices=["ghvae", "random", "noop", "oracle"],
        help="ghvae: plan in the model; oracle: plan in the simulator; random / noop actions",
    )
    add_planner_arguments(p)
    p.add_argument("--device", default="auto", help='model device: "auto", "cpu", "cuda:N"')
    p.add_argument("--json", type=Path, default=None, help="write per-episode results here")
    p.add_argument(
        "--video",
        type=Path,
        default=None,
        help="write .mp4 or .gif: sim frame | goal image | imagined frame, all episodes",
    )
    p.add_argument("--fps", type=float, default=5.0, help="video frame rate")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_threads_argument(p)
    p.set_defaults(func=_main)


def run(args: argparse.Namespace, command: str, env: Any | None = None) -> dict[str, Any]:
    """Run the episodes ``args`` describe; returns the JSON-serialisable report.

    ``env``: a ``RoboNet-Sim-v0`` env to reuse (left open); default a new one, closed after.
    """
    import gymnasium as gym
    from tqdm.auto import tqdm

    import ghvae_env.sim  # noqa: F401  (registers RoboNet-Sim-v0)
    from ghvae_env.planning.config import PlannerConfigError
    from ghvae_env.planning.policies import make_policy
    from ghvae_env.planning.tasks import (
        PushTaskConfig,
        episode_video_frames,
        iter_push_tasks,
        run_episode,
        summarize,
    )

    apply_threads(getattr(args, "threads", None), device=getattr(args, "device", "cpu"))
    config = planner_config(args, args.seed)
    task_config = PushTaskConfig(max_steps=args.max_steps, goal=args.goal)
    model, checkpoint = None, None
    if args.baseline == "ghvae":
        from ghvae_env._device import resolve_device
        from ghvae_env.envs.assets import warn_model_vs_simulator
        from ghvae_env.model import load_model

        try:
            device = resolve_device(args.device)
        except ValueError as e:  # names the device; not a bug worth a traceback
            raise PlannerConfigError(str(e)) from e
        model = load_model(args.checkpoint, device=device)
        checkpoint = model.checkpoint_info.get("path")
        warn_model_vs_simulator(model)
    own_env = env is None
    env = gym.make("RoboNet-Sim-v0") if env is None else env
    video: list[Any] = []
    episodes = []
    try:
        policy = make_policy(args.baseline, env, config, model, imagine=args.video is not None)
        bar = tqdm(
            iter_push_tasks(env, args.episodes, args.seed, task_config),
            total=args.episodes,
            desc=f"plan {args.baseline}",
            unit="ep",
            disable=args.no_progress,
        )
        for task in bar:
            result = run_episode(env, policy, task, record=args.video is not None)
            if args.video is not None:
                video.extend(episode_video_frames(result, task))
                del result["frames"], result["imagined"]
            episodes.append(result)
            done = summarize(episodes)
            bar.set_postfix(
                success=f"{done['success_rate']:.2f}", dist=f"{done['mean_final_distance']:.3f}"
            )
    finally:
        if own_env:
            env.close()
    report = {
        "command": command,
        "tasks": args.tasks,
        "baseline": args.baseline,
        "checkpoint": checkpoint,
        "planner": config.to_dict() if args.baseline in ("ghvae", "oracle") else None,
        "task_config": dataclasses.asdict(task_config),
        "summary": summarize(episodes),
        "episodes": episodes,
    }
    if args.video is not None:
        import numpy as np

        from ghvae_env.wrappers import save_video

        save_video(np.stack(video), args.video, fps=args.fps)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return report


def command_line(args: argparse.Namespace) -> str:
    """The exact ``ghvae plan`` command that reproduces ``args`` (every option spelled out)."""
    parts = ["ghvae", "plan"]
    for key, value in vars(args).items():
        if key in ("func", "command") or value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        parts += [flag] if value is True else [flag, str(value)]
    return shlex.join(parts)


def _main(args: argparse.Namespace) -> int:
    from ghvae_env.model.checkpoint import CheckpointError
    from ghvae_env.planning.config import PlannerConfigError
    from ghvae_env.planning.tasks import TaskConfigError

    command = command_line(args)
    print(f"command: {command}")
    try:
        report = run(args, command)
    except (PlannerConfigError, TaskConfigError, CheckpointError, FileNotFoundError) as e:
        print(f"ghvae plan: error: {e}", file=sys.stderr)
        return 2
    s = report["summary"]
    print(
        f"{args.baseline}: success {s['success_rate']:.2f} (min-distance {s['success_min_rate']:.2f}) "
        f"over {s['episodes']} episodes, mean final distance {s['mean_final_distance']:.3f} m, "
        f"improvement {s['mean_improvement']:+.3f} m"
    )
    if s["plan_step_time_s"] is not None:
        print(
            f"planning: {s['plan_step_time_s']:.2f} s per step, {100 * s['model_share']:.0f}% "
            "in model rollouts"
        )
    for path in (args.json, args.video):
        if path is not None:
            print(f"wrote {path}")
    return 0
