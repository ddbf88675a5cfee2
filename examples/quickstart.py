"""Quickstart: imagine one episode with ``GHVAE-RoboNet-v0`` and save it as a GIF.

    python examples/quickstart.py                          # -> a new temp dir (printed)
    python examples/quickstart.py --steps 5 --out imagined.gif

Random actions drive the world model from a held-out context clip until the episode ends
(the clip's end: 28 steps with the bundled clips); the reward is the negative pixel distance
to the clip's final frame, the env's default goal. The GIF goes to ``--out`` (default: a
new temporary directory, never the working directory) and the run's config beside it as
``<out>.json``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
from pathlib import Path

import gymnasium as gym

import ghvae_env.envs  # noqa: F401  (registers GHVAE-RoboNet-v0)
from ghvae_env.wrappers import save_video


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an int >= 1, actual value: {value}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="GHVAE checkpoint (.pt); default: the bundled model",
    )
    p.add_argument(
        "--clips",
        type=Path,
        default=None,
        help="held-out context clips (.npz); default: the bundled clips",
    )
    p.add_argument(
        "--steps",
        type=_positive_int,
        default=None,
        help="imagined steps after the context (default: until the episode ends with its clip)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output video, .gif or .mp4 (default: imagined.gif in a new temporary directory)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the env (context clip, latents) and of the actions",
    )
    p.add_argument("--device", default="auto", help='model device: "auto", "cpu", "cuda:N"')
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.out is None:
        args.out = Path(tempfile.mkdtemp(prefix="ghvae-quickstart-")) / "imagined.gif"
    command = shlex.join(
        ["python", "examples/quickstart.py", *(sys.argv[1:] if argv is None else argv)]
    )
    print(f"command: {command}")

    env = gym.make(
        "GHVAE-RoboNet-v0",
        checkpoint=args.checkpoint,
        clips=args.clips,
        device=args.device,
        max_episode_steps=args.steps,  # None: the episode ends with its clip
    )
    env.action_space.seed(args.seed)
    obs, info = env.reset(seed=args.seed)
    frames, total_reward = [obs], 0.0
    print(f"reset: clip {info['clip_index']}, goal distance {info['goal_distance']:.4f}")
    while True:
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        frames.append(obs)
        total_reward += reward
        if terminated or truncated:
            break
    fps = env.metadata["render_fps"]
    env.close()

    video = save_video(frames, args.out, fps=fps)
    config_path = video.with_name(video.name + ".json")
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    config.update(command=command, frames=len(frames), total_reward=total_reward)
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    print(
        f"imagined {len(frames) - 1} steps, return {total_reward:.4f}, final goal distance {info['goal_distance']:.4f}"
    )
    print(f"wrote {video} ({len(frames)} frames at {fps} fps) and {config_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
