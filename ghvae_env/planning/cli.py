"""``ghvae plan``: visual MPC on push tasks in ``RoboNet-Sim-v0``, scored from simulator state.

    ghvae plan                                # 6 tasks, the "push" preset (MPPI 128 x 10), bundled model
    ghvae plan --preset vp2 --episodes 10 --json r.json --log r.jsonl --video plan.mp4
    ghvae plan --baseline oracle --oracle-cost state --oracle-workers 2 --preset vp2 --samples 64

A progress bar advances per control step (distance to the goal, the plan's imagined cost);
a summary table (success and VP2's min-distance success with Wilson 95% intervals) ends the
run. ``--log`` appends each episode as it finishes and resumes from it.

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


def _std_list(text: str) -> tuple[float, ...]:
    """``0.5`` or ``0.5,0.5,0,0``: the sampling std, one value or one per action dimension."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError as e:
        raise argparse.ArgumentTypeError(
            f"must be a number or comma-separated numbers, actual value: {text!r}"
        ) from e
    return values[0] if len(values) == 1 else values


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"must be an int >= 0, actual value: {text!r}") from e
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an int >= 0, actual value: {value}")
    return value


def add_planner_arguments(p: argparse.ArgumentParser) -> None:
    """The planner options shared by ``ghvae plan``, the example and the benchmark.

    ``--preset`` picks a :class:`~ghvae_env.planning.config.PlannerConfig` preset; every other
    option left unset keeps the preset's value, a given one overrides it.
    """
    from ghvae_env.planning.config import COSTS, METHODS, PRESETS  # argparse-cheap module

    p.add_argument(
        "--preset",
        default="push",
        choices=list(PRESETS),
        help="planner preset: push (VP2's MPPI with 128 samples, the cost blurred 8 px, planned "
        "in the table's plane: 0.8 of 100 push tasks solved with 200), vp2 (VP2's MPPI: 200 "
        "samples, gamma 0.05, summed squared RGB error), icem (iCEM 64 x 3), cem (CEM 64 x 3, "
        "PlannerConfig's field values); the options below override it",
    )
    p.add_argument("--method", default=None, choices=list(METHODS), help="trajectory optimiser")
    p.add_argument(
        "--samples",
        type=_positive_int,
        default=None,
        help="candidate action sequences per iteration",
    )
    p.add_argument("--iterations", type=_positive_int, default=None, help="optimiser iterations")
    p.add_argument(
        "--elites",
        type=_positive_int,
        default=None,
        help="CEM/iCEM elites (default: the preset's; samples // 8, at least 1)",
    )
    p.add_argument("--horizon", type=_positive_int, default=None, help="planned actions (VP2: 10)")
    p.add_argument(
        "--replan-every", type=_positive_int, default=None, help="executed actions between plans"
    )
    p.add_argument(
        "--init-std",
        type=_std_list,
        default=None,
        metavar="STD[,STD..]",
        help="std of the sampled actions, one value or one per dimension (dx,dy,dz,gripper); 0 "
        "freezes a dimension (VP2: 0.5,0.5,0.5,0; 0.5,0.5,0,0 plans in the table's plane)",
    )
    p.add_argument("--cost", default=None, choices=list(COSTS), help="pixel cost per frame")
    p.add_argument(
        "--cost-blur",
        type=float,
        default=None,
        metavar="PX",
        help="Gaussian blur (std, pixels) of frames and goal before the pixel cost (0: none, VP2)",
    )
    p.add_argument(
        "--cost-chroma",
        type=float,
        default=None,
        metavar="W",
        help="add W times the pixel distance of the chroma (RGB minus grey level: arm and "
        "table drop out, coloured objects stay) to the pixel cost (0: none)",
    )
    p.add_argument(
        "--final-step-weight",
        type=float,
        default=None,
        metavar="W",
        help="weight of the last predicted frame's cost against each earlier frame's (VP2 and "
        "the vp2 / push presets: 1, every frame alike)",
    )
    p.add_argument(
        "--prior-mean",
        action="store_const",
        const=True,
        default=None,
        help="score candidates on the model's deterministic (prior-mean) prediction instead of "
        "a latent sample each",
    )
    p.add_argument(
        "--latent-temperature",
        type=float,
        default=None,
        metavar="T",
        help="the model's latent sampling temperature in the candidates' rollouts: z = mean + "
        "T std eps (default 1: the prior as trained; 0: its mean)",
    )
    p.add_argument(
        "--particles",
        type=int,
        default=None,
        metavar="K",
        help="latent samples per candidate, the cost their mean (PETS's particles; default 1 "
        "as VP2; K times the model time)",
    )
    p.add_argument(
        "--temperature",
        type=float,
        default=None,
        help="MPPI's scale-free temperature: weights exp(-(c - c_min) / (T std(c))); "
        "replaces the preset's gamma (vp2, push: VP2's gamma 0.05, on the summed squared error "
        "of 64 x 64 frames all but the best candidate's weight ~0)",
    )
    p.add_argument(
        "--gamma",
        type=float,
        default=None,
        help="MPPI with VP2's weights exp(-gamma (c - c_min)) on the raw costs",
    )
    p.add_argument(
        "--max-steps", type=_positive_int, default=15, help="control steps per episode (VP2: 15)"
    )


_PLANNER_FLAGS = {  # argparse dest -> PlannerConfig field
    "method": "method",
    "samples": "num_samples",
    "iterations": "iterations",
    "elites": "num_elites",
    "horizon": "horizon",
    "replan_every": "replan_every",
    "init_std": "init_std",
    "cost": "cost",
    "cost_blur": "cost_blur",
    "cost_chroma": "cost_chroma",
    "final_step_weight": "final_step_weight",
    "prior_mean": "prior_mean",
    "latent_temperature": "latent_temperature",
    "particles": "particles",
    "temperature": "temperature",
    "gamma": "gamma",
}


def planner_config(args: argparse.Namespace, seed: int) -> Any:
    """A PlannerConfig: ``args.preset`` with the options of :func:`add_planner_arguments`
    that were given applied on top. An impossible combination raises PlannerConfigError
    naming the field."""
    from ghvae_env.planning.config import PlannerConfig

    changes = {
        field: getattr(args, dest)
        for dest, field in _PLANNER_FLAGS.items()
        if getattr(args, dest, None) is not None
    }
    if "temperature" in changes and "gamma" not in changes:
        changes["gamma"] = None  # a temperature given alone replaces the preset's gamma
    if "temperature" in changes and changes["gamma"] is not None:
        raise SystemExit(
            "--temperature and --gamma are two MPPI weightings: give one, actual values: "
            f"--temperature {changes['temperature']} --gamma {changes['gamma']}"
        )
    return PlannerConfig.preset(getattr(args, "preset", "push"), seed=seed, **changes)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "plan",
        help="visual MPC: plan in the GHVAE, execute in RoboNet-Sim-v0",
        description="Sample push tasks (one object 7.5-15 cm from a goal image, 15 steps, "
        "success < 5 cm), plan with CEM/iCEM/MPPI/random shooting in the GHVAE (or run a "
        "baseline) and report success from simulator state. The defaults (the push preset, "
        "the bundled model) took 2.7 s per control step on 2 otherwise idle CPU cores: "
        "--episodes 6 in 5.0 minutes with --video, 5 of 6 solved (AMD EPYC, 2026-12-02).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--tasks", default="push", choices=["push"], help="task family")
    p.add_argument("--episodes", type=_positive_int, default=6, help="tasks to run")
    p.add_argument(
        "--seed",
        type=_non_negative_int,
        default=0,
        help="tasks come from seeds seed, seed + 1, ... (seeds with no valid push are skipped "
        "and reported)",
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
    p.add_argument(
        "--oracle-cost",
        default="pixel",
        choices=["pixel", "state"],
        help="oracle: the planner's pixel cost on rendered frames, or the object-to-goal "
        "distance (physics only, no rendering)",
    )
    p.add_argument(
        "--oracle-workers",
        type=_non_negative_int,
        default=0,
        help="oracle: simulator processes the candidates are spread over (0: in-process)",
    )
    p.add_argument("--device", default="auto", help='model device: "auto", "cpu", "cuda:N"')
    p.add_argument(
        "--json",
        type=Path,
        default=None,
        help="write the report here, rewritten after every episode",
    )
    p.add_argument(
        "--log",
        type=Path,
        default=None,
        help="JSONL log of episodes, appended as each finishes; re-running with the same "
        "log resumes (finished episodes are read back, crashed ones retried)",
    )
    p.add_argument(
        "--video",
        type=Path,
        default=None,
        help="write .mp4 or .gif: sim frame | imagined frame | goal image, all episodes; and "
        "beside it (.png) stills of the first 4 episodes at control steps 1, 5, 10, 15",
    )
    p.add_argument("--fps", type=float, default=5.0, help="video frame rate")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_threads_argument(p)
    p.set_defaults(func=_main)


_STILL_STEPS = (1, 5, 10, 15)  # control steps shown in the stills PNG beside --video


def _write_json(path: Path, report: dict[str, Any]) -> None:
    """Atomic rewrite (temp file, then rename): a reader never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    tmp.replace(path)


def run(args: argparse.Namespace, command: str, env: Any | None = None) -> dict[str, Any]:
    """Run the episodes ``args`` describe; returns the JSON-serialisable report.

    ``env``: a ``RoboNet-Sim-v0`` env to reuse (left open); default a new one, closed after.
    A crash in one episode is reported (``summary["errors"]``, the log) and the others run.
    """
    import gymnasium as gym
    from tqdm.auto import tqdm

    import ghvae_env.sim  # noqa: F401  (registers RoboNet-Sim-v0)
    from ghvae_env.planning.config import PlannerConfigError
    from ghvae_env.planning.policies import make_policy
    from ghvae_env.planning.results import ResultsWriter, run_logged_episodes
    from ghvae_env.planning.tasks import (
        PushTaskConfig,
        episode_video_frames,
        iter_push_tasks,
        run_episode,
        summarize,
        task_distance_report,
    )

    threads = apply_threads(getattr(args, "threads", None), device=getattr(args, "device", "cpu"))
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
    writer = ResultsWriter(args.log) if getattr(args, "log", None) is not None else None
    video: list[Any] = []  # panels of every episode, one array per episode
    tasks, skipped, episodes = [], [], []
    report: dict[str, Any] = {
        "command": command,
        "tasks": args.tasks,
        "baseline": args.baseline,
        "checkpoint": checkpoint,
        "planner": config.to_dict() if args.baseline in ("ghvae", "oracle") else None,
        "oracle_cost": args.oracle_cost if args.baseline == "oracle" else None,
        "threads": threads,
        "task_config": dataclasses.asdict(task_config),
    }
    bar = tqdm(
        total=args.episodes * args.max_steps,
        desc=f"plan {args.baseline}",
        unit="step",
        disable=args.no_progress,
        dynamic_ncols=True,
    )
    policy = None
    errors: dict[int, str] = {}
    try:
        policy = make_policy(
            args.baseline, env, config, model, imagine=args.video is not None,
            oracle_cost=args.oracle_cost, oracle_workers=args.oracle_workers,
        )  # fmt: skip
        state = {"episode": 0, "steps": 0}

        def on_step(step: int, distance: float, cost: float | None) -> None:
            bar.update(1)
            state["steps"] += 1
            post = {"ep": f"{state['episode']}/{args.episodes}", "dist": f"{100 * distance:.1f}cm"}
            if cost is not None:
                post["cost"] = f"{cost:.4g}"
            if episodes:
                post["success"] = f"{sum(r['success'] for r in episodes)}/{len(episodes)}"
            bar.set_postfix(post, refresh=False)

        def one(task: Any) -> dict[str, Any]:
            state["episode"] += 1
            state["steps"] = 0
            bar.set_postfix(ep=f"{state['episode']}/{args.episodes}", refresh=True)
            return run_episode(env, policy, task, record=args.video is not None, on_step=on_step)

        def finished(task: Any, result: dict[str, Any] | None, error: str | None) -> None:
            tasks.append(task)
            bar.update(max(0, args.max_steps - state["steps"]))  # early end, crash or resumed
            state["steps"] = 0
            if result is None:
                errors[int(task.seed)] = str(error)
                bar.write(f"episode {state['episode']} (task seed {task.seed}) failed: {error}")
            else:
                if "frames" in result:
                    video.append(episode_video_frames(result, task))
                    del result["frames"], result["imagined"]
                episodes.append(result)
            if args.json is not None:  # the report so far, after every episode
                _write_json(
                    args.json,
                    {
                        **report,
                        "summary": summarize(episodes, errors) if episodes else None,
                        "task_distances": task_distance_report(tasks, skipped),
                        "episodes": episodes,
                    },
                )

        run_logged_episodes(
            f"oracle-{args.oracle_cost}" if args.baseline == "oracle" else args.baseline,
            iter_push_tasks(env, args.episodes, args.seed, task_config, skipped),
            one,
            writer,
            on_result=finished,
        )
    finally:
        bar.close()
        close = getattr(getattr(policy, "model", None), "close", None)
        if args.baseline == "oracle" and callable(close):
            close()
        if own_env:
            env.close()
    if not episodes:
        raise RuntimeError(f"every episode failed: {errors}")
    report.update(
        summary=summarize(episodes, errors),
        task_distances=task_distance_report(tasks, skipped),
        episodes=episodes,
    )
    if args.video is not None and video:
        import imageio.v3 as iio
        import numpy as np

        from ghvae_env.planning.tasks import episode_stills
        from ghvae_env.wrappers import save_video

        save_video(np.concatenate(video), args.video, fps=args.fps)
        stills = Path(args.video).with_suffix(".png")
        iio.imwrite(stills, episode_stills(video[:4], steps=_STILL_STEPS))
        report["stills"] = str(stills)
    if args.json is not None:
        _write_json(args.json, report)
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
    from ghvae_env.planning.results import summary_table

    s, d = report["summary"], report["task_distances"]
    print(
        f"\ntasks: {d['tasks']} (seeds {d['seeds'][0]}..{d['seeds'][-1]}), start-to-goal "
        f"distance min {100 * d['min_distance']:.1f} / median {100 * d['median_distance']:.1f} / "
        f"max {100 * d['max_distance']:.1f} cm"
        + (
            f"; skipped (no valid push): {[x['seed'] for x in d['skipped']]}"
            if d["skipped"]
            else ""
        )
    )
    print(summary_table({args.baseline: s}))
    if s["plan_step_time_s"] is not None:
        print(
            f"planning: {s['plan_step_time_s']:.2f} s per step, {100 * s['model_share']:.0f}% "
            f"in model rollouts ({report['threads']} torch threads)"
        )
    for seed, error in s["errors"].items():
        print(f"episode with task seed {seed} failed: {error}", file=sys.stderr)
    for path in (args.json, args.log, args.video, report.get("stills")):
        if path is not None:
            print(f"wrote {path}")
    return 0
