"""Where a pixel-cost planner stalls: is it the cost or the search? Per failed episode.

For every failed episode of a ``benchmarks/planning.py`` results JSON (default: the
``oracle`` policy) this rebuilds the task from the benchmark's task cache, replays the
episode's executed actions and finds the stall: the step after which the pushed object got
no closer to its goal (the episode's minimum distance). From that simulator state it then
plans with the **state** oracle (the same planner, the object-to-goal distance as its cost,
which solves every task) for ``--horizon`` steps, and scores three ``--horizon``-step
continuations with the episode's own **pixel** cost (its planner config: blur, weights):

- ``hold``: zero actions (what a stall does);
- ``episode``: the episode's own executed actions after the stall, then zeros;
- ``state``: the state oracle's executed actions.

If the pixel cost ranks ``state`` below ``hold`` and ``episode``, a plan that carries the push
through exists and is cheaper under the pixel cost: the search missed it (verdict
``search``). If ``state`` brings the object at least 1 cm closer than holding and still costs
more, the pixel cost has a local minimum at the stall (``cost``). If the state oracle gets no
closer either, the stall state is hard for any cost (``stuck``).

    python benchmarks/oracle_stall.py benchmarks/results/planning_cost/oracle_v2_t05.json

Prints a table; ``--out F.json`` also writes the rows and ``--frames F.png`` a picture, one
row per episode: the stall frame, the last frame of each continuation (hold, episode, state)
and the goal image (nothing is written by default). Needs
the simulator: ~``samples x horizon x horizon`` physics steps a failed episode (32 x 10 x 10:
~70 s here), plus the renders of the three continuations.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
from _common import same_task

os.environ.setdefault("MUJOCO_GL", "egl")


def pixel_cost(frames: np.ndarray, goal: np.ndarray, cost_fn) -> np.ndarray:
    """The planner cost of continuations (B x H x 64 x 64 x 3 uint8) to ``goal``: (B,)."""
    from ghvae_env.data.frames import to_float_chw

    return cost_fn(to_float_chw(np.asarray(frames)), to_float_chw(np.asarray(goal))).numpy()


def stall_step(distances: list[float]) -> int:
    """Actions executed when the episode was closest to its goal (1-based step of the minimum;
    the first of equal minima)."""
    return int(np.argmin(np.asarray(distances))) + 1


def diagnose(
    env, task, episode: dict, config, horizon: int, samples: int, stills: list | None = None
) -> dict[str, Any]:
    """One failed episode: the three continuations' pixel costs from its stall state.
    ``stills``: a list that gets the episode's row of frames (see ``frames_row``)."""
    import dataclasses

    from ghvae_env.planning.costs import PixelGoalCost
    from ghvae_env.planning.oracle import _run_sequences, make_oracle_agent
    from ghvae_env.planning.tasks import run_episode

    sim, C = env.unwrapped, len(task.context_frames)
    executed = np.asarray(episode["actions"], dtype=np.float32)
    k = stall_step(episode["distances"])
    frames, _ = _run_sequences(sim, task.start_state, executed[None, :k], render=True)
    stall_state = sim.get_state()  # _run_sequences leaves the sim where the sequence ends
    d_stall = task.distance(sim.scene.object_positions)
    # the stall as a task of its own: the state oracle plans and executes `horizon` steps
    history = np.concatenate([task.context_frames, frames[0]])[-C:]
    acts = np.concatenate([task.context_actions, executed[:k]])[k:]  # the last C - 1
    stalled = dataclasses.replace(
        task, start_state=stall_state, context_frames=history, context_actions=acts,
        max_steps=horizon,
    )  # fmt: skip
    agent = make_oracle_agent(env, config.replace(num_samples=samples), cost="state")
    state_plan = np.asarray(run_episode(env, agent, stalled)["actions"], dtype=np.float32)
    rest = executed[k : k + horizon]
    continuations = {
        "hold": np.zeros((horizon, 4), np.float32),
        "episode": np.concatenate([rest, np.zeros((horizon - len(rest), 4), np.float32)]),
        "state": state_plan,
    }
    seqs = np.stack(list(continuations.values()))
    stall_frame = history[-1]
    frames, positions = _run_sequences(sim, stall_state, seqs, render=True)
    costs = pixel_cost(frames, task.goal_image, PixelGoalCost.from_config(config))
    if stills is not None:
        stills.append(frames_row([stall_frame, *(f[-1] for f in frames), task.goal_image]))
    row: dict[str, Any] = {
        "seed": task.seed,
        "stall_step": k,
        "stall_distance": d_stall,
        "final_distance": float(episode["final_distance"]),
    }
    for b, name in enumerate(continuations):
        row[f"{name}_cost"] = float(costs[b])
        row[f"{name}_distance"] = task.distance(positions[b, -1])
        row[f"{name}_actions"] = seqs[b].round(4).tolist()
    row["cheapest"] = min(continuations, key=lambda n: row[f"{n}_cost"])
    row["verdict"] = verdict(row)
    return row


def frames_row(frames: list[np.ndarray], scale: int = 2, gap: int = 4) -> np.ndarray:
    """``h x w x 3`` uint8 frames side by side, each enlarged ``scale`` x, white gaps."""
    cells = [np.asarray(f, dtype=np.uint8).repeat(scale, 0).repeat(scale, 1) for f in frames]
    sep = np.full((cells[0].shape[0], gap, 3), 255, np.uint8)
    out = [cells[0]]
    for c in cells[1:]:
        out += [sep, c]
    return np.concatenate(out, axis=1)


def verdict(row: dict[str, Any], progress: float = 0.01) -> str:
    """``"search"``: the pixel cost ranks the state oracle's continuation cheapest;
    ``"cost"``: that continuation brings the object ``progress`` m (1 cm) closer than
    holding does and the pixel cost still ranks it dearer; ``"stuck"``: the state oracle
    gets no closer either, so its continuation tells nothing about the cost."""
    if row["cheapest"] == "state":
        return "search"
    if row["state_distance"] <= row["hold_distance"] - progress:
        return "cost"
    return "stuck"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("results", type=Path, help="a benchmarks/planning.py results JSON")
    p.add_argument("--policy", default="oracle", help="the policy whose failures to diagnose")
    p.add_argument("--seeds", default="", help="only these task seeds (comma-separated)")
    p.add_argument("--horizon", type=int, default=10, help="steps of each continuation")
    p.add_argument("--samples", type=int, default=32, help="state-oracle candidates a step")
    p.add_argument(
        "--tasks-cache",
        type=Path,
        default=None,
        help="the task cache the results were made on (default: the benchmark's default cache)",
    )
    p.add_argument("--out", type=Path, help="also write the rows to this JSON file")
    p.add_argument(
        "--frames",
        type=Path,
        help="also write a PNG: per episode the stall frame, each continuation's last frame "
        "(hold, episode, state) and the goal image",
    )
    args = p.parse_args(argv)
    if args.horizon < 1 or args.samples < 1:
        p.error(f"--horizon and --samples need to be >= 1, actual: {args.horizon}, {args.samples}")
    try:
        results = json.loads(args.results.read_text())
        config = results["config"]
        num_tasks, first_seed = int(config["episodes"]), int(config["seed"])
        task_config = dict(max_steps=int(config["max_steps"]), goal=config["goal"])
        planner = results["planners"][args.policy]
        episodes = [e for e in results["episodes"][args.policy] if not e["success"]]
        wanted = {int(s) for s in args.seeds.split(",") if s.strip()}
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as e:
        p.error(f"{args.results} is not a readable planning.py results JSON with policy "
                f"{args.policy!r} ({e!r})")  # fmt: skip
    if wanted:
        episodes = [e for e in episodes if e["task"]["seed"] in wanted]
    if not episodes:
        p.error(f"{args.results}: no failed {args.policy} episodes to diagnose")
    import gymnasium as gym

    import ghvae_env.sim  # noqa: F401  (registers RoboNet-Sim-v0)
    from ghvae_env.planning.config import PlannerConfig
    from ghvae_env.planning.tasks import PushTaskConfig, cached_push_tasks, default_task_cache

    planner_config = PlannerConfig.from_dict(planner)
    env = gym.make("RoboNet-Sim-v0")
    rows: list[dict[str, Any]] = []
    stills: list[np.ndarray] | None = [] if args.frames is not None else None
    try:
        cfg = PushTaskConfig(**task_config)
        cache = args.tasks_cache or default_task_cache(env, first_seed, cfg)
        tasks = {t.seed: t for t in cached_push_tasks(env, num_tasks, first_seed, cfg, cache=cache)}
        for e in episodes:
            seed = e["task"]["seed"]
            if seed not in tasks:
                p.error(f"episode seed {seed} is not one of the results' {num_tasks} tasks")
            if not same_task(tasks[seed].describe(), e["task"]):
                # rebuilt tasks can differ between machines: replaying this episode's actions
                # on another start would diagnose a different episode
                p.error(
                    f"task seed {seed} of {cache} is not the episode's task (initial distance "
                    f"{tasks[seed].initial_distance:.4f} m, episode's "
                    f"{e['task'].get('initial_distance')}); pass --tasks-cache with the task "
                    "set the results were made on"
                )
            rows.append(
                diagnose(env, tasks[seed], e, planner_config, args.horizon, args.samples, stills)
            )
            r = rows[-1]
            print(f"seed {seed}: stall at step {r['stall_step']} ({100 * r['stall_distance']:.1f}"
                  f" cm), cheapest {r['cheapest']}", flush=True)  # fmt: skip
    finally:
        env.close()
    print(
        "| seed | stall step | dist. at stall (cm) | pixel cost: hold / episode / state plan | "
        "dist. after (cm): hold / episode / state plan | cheapest | verdict |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        costs = " / ".join(f"{r[f'{n}_cost']:.0f}" for n in ("hold", "episode", "state"))
        dist = " / ".join(f"{100 * r[f'{n}_distance']:.1f}" for n in ("hold", "episode", "state"))
        print(f"| {r['seed']} | {r['stall_step']} | {100 * r['stall_distance']:.1f} | {costs} | "
              f"{dist} | {r['cheapest']} | {r['verdict']} |")  # fmt: skip
    if args.out is not None:
        payload = {"command": "python " + " ".join([sys.argv[0], *(argv or sys.argv[1:])])}
        payload.update(results=str(args.results), policy=args.policy, rows=rows)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(payload, indent=2))
    if stills:
        import imageio.v2 as imageio

        sep = np.full((4, stills[0].shape[1], 3), 255, np.uint8)
        picture = [stills[0]]
        for r in stills[1:]:
            picture += [sep, r]
        args.frames.parent.mkdir(parents=True, exist_ok=True)
        imageio.imwrite(args.frames, np.concatenate(picture, axis=0))
        print(f"wrote {args.frames}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
