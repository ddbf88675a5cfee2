"""Measure the simulator: construction time, rendered steps/s, rollout time, interaction rate.

    python -m ghvae_env.sim.benchmark --episodes 40 --steps 30 --samples /tmp/sim_samples

The *interaction fraction* is the share of ``rollout_episode`` trajectories in which some
object moves more than ``--moved-threshold`` metres (max displacement from its start over the
episode), i.e. trajectories that contain a push or a grasp. Results print as JSON together
with the command that reproduces them.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

__all__ = ["BenchmarkArgs", "run_benchmark", "main"]


@dataclass(frozen=True)
class BenchmarkArgs:
    episodes: int = 40  # trajectories for the interaction fraction and the rollout time
    steps: int = 30  # frames per trajectory (the dataset's clip length)
    seed: int = 0  # episode seeds are seed, seed + 1, ...
    env_steps: int = 60  # random-action env steps for the steps/s figure
    moved_threshold: float = 0.02  # metres an object must move to count as an interaction
    samples: str | None = None  # folder for sample frames (PNG, upscaled 4x), or None

    def __post_init__(self) -> None:
        for name in ("episodes", "steps", "env_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, actual value: {getattr(self, name)}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, actual value: {self.seed}")
        if self.moved_threshold <= 0:
            raise ValueError(f"moved_threshold must be > 0, actual value: {self.moved_threshold}")


def _max_object_displacement(states: np.ndarray) -> float:
    """Largest distance any present object gets from its start, over one trajectory."""
    from ghvae_env.sim.scene import MAX_SLOTS

    present = states[0, 4 + 3 * MAX_SLOTS :] > 0.5
    pos = states[:, 4 : 4 + 3 * MAX_SLOTS].reshape(len(states), MAX_SLOTS, 3)[:, present]
    return float(np.linalg.norm(pos - pos[0], axis=-1).max(initial=0.0))


def run_benchmark(args: BenchmarkArgs) -> dict[str, object]:
    import gymnasium as gym

    import ghvae_env.sim  # noqa: F401  (registers RoboNet-Sim-v0)
    from ghvae_env.sim.scene import rollout_episode

    t0 = time.perf_counter()
    env = gym.make("RoboNet-Sim-v0", render_mode="rgb_array")
    first_construct = time.perf_counter() - t0
    t0 = time.perf_counter()
    env2 = gym.make("RoboNet-Sim-v0")
    second_construct = time.perf_counter() - t0
    env2.close()

    env.action_space.seed(args.seed)
    env.reset(seed=args.seed)
    for _ in range(3):  # warm-up (numba kernels load or compile here)
        env.step(env.action_space.sample())
    env.reset(seed=args.seed)
    t0 = time.perf_counter()
    for i in range(args.env_steps):
        _, _, _, truncated, _ = env.step(env.action_space.sample())
        if truncated or i % 30 == 29:
            env.reset()
    steps_per_s = args.env_steps / (time.perf_counter() - t0)
    env.close()

    rollout_s, displacements = [], []
    sample_frames: list[np.ndarray] = []
    for k in range(args.episodes):
        t0 = time.perf_counter()
        ep = rollout_episode(args.seed + k, args.steps)
        rollout_s.append(time.perf_counter() - t0)
        displacements.append(_max_object_displacement(ep["states"]))
        if args.samples is not None and k < 3:
            sample_frames.append(ep["frames"][[0, args.steps // 2, args.steps - 1]])
    moved = np.asarray(displacements) > args.moved_threshold

    if args.samples is not None:
        import imageio.v3 as iio

        out = Path(args.samples)
        out.mkdir(parents=True, exist_ok=True)
        for k, frames in enumerate(sample_frames):
            for j, frame in zip((0, args.steps // 2, args.steps - 1), frames, strict=True):
                big = np.kron(frame, np.ones((4, 4, 1), dtype=np.uint8))  # 256 x 256 to look at
                iio.imwrite(out / f"episode{args.seed + k}_t{j:02d}.png", big)

    return {
        "env_construct_s_first": round(first_construct, 2),
        "env_construct_s_again": round(second_construct, 2),
        "env_steps_per_s_with_render": round(steps_per_s, 1),
        "rollout_episode_s_first": round(rollout_s[0], 2),
        "rollout_episode_s_median": round(float(np.median(rollout_s)), 2),
        "interaction_fraction": round(float(moved.mean()), 3),
        "interactions": f"{int(moved.sum())}/{args.episodes}",
        "median_max_object_displacement_m": round(float(np.median(displacements)), 3),
    }


def _parse(argv: list[str] | None) -> BenchmarkArgs:
    d = BenchmarkArgs()
    p = argparse.ArgumentParser(
        prog="python -m ghvae_env.sim.benchmark",
        description="Measure the simulator: construction, steps/s, rollouts, interaction rate.",
    )
    p.add_argument("--episodes", type=int, default=d.episodes, help="rollout_episode calls")
    p.add_argument("--steps", type=int, default=d.steps, help="frames per trajectory")
    p.add_argument("--seed", type=int, default=d.seed, help="first episode seed")
    p.add_argument("--env-steps", type=int, default=d.env_steps, help="env steps timed")
    p.add_argument(
        "--moved-threshold", type=float, default=d.moved_threshold, help="metres (interaction)"
    )
    p.add_argument("--samples", default=None, help="folder for sample PNG frames")
    a = p.parse_args(argv)
    return BenchmarkArgs(
        episodes=a.episodes,
        steps=a.steps,
        seed=a.seed,
        env_steps=a.env_steps,
        moved_threshold=a.moved_threshold,
        samples=a.samples,
    )


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    results = run_benchmark(args)
    command = "python -m ghvae_env.sim.benchmark " + shlex.join(
        sys.argv[1:] if argv is None else argv
    )
    print(json.dumps({"command": command, "args": asdict(args), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
