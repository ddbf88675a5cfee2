"""PPO (stable-baselines3) in the imagined world: reach the final frame of a held-out clip.

    pip install stable-baselines3
    python examples/sb3_ppo.py --timesteps 100000 --num-envs 16 --out runs/ppo

The native vector env runs all ``--num-envs`` imagined envs as one batched model step;
``SB3VecEnvAdapter`` presents it to SB3. Reward: negative mean pixel distance to the goal
(the env's default goal, ``goal_from_clip=True``); episodes end with their clip (28 steps
with the bundled clips) or at ``--max-episode-steps``. The default budget is a smoke run. The model, its config
(``config.json``) and the final mean episode return are written to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import gymnasium as gym
import torch
from gymnasium import spaces
from torch import nn

import ghvae_env.envs  # noqa: F401  (registers GHVAE-RoboNet-v0)
from ghvae_env.wrappers import SB3VecEnvAdapter

try:
    from stable_baselines3 import PPO
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
    from stable_baselines3.common.vec_env import VecMonitor
except ImportError as e:
    raise SystemExit("this example needs stable-baselines3: pip install stable-baselines3") from e


class SmallCNN(BaseFeaturesExtractor):
    """3 strided convs for 3 x 64 x 64 frames (SB3 transposes and scales uint8 images to [0, 1])."""

    def __init__(self, observation_space: spaces.Box, features_dim: int = 128) -> None:
        super().__init__(observation_space, features_dim)
        c = observation_space.shape[0]
        self.cnn = nn.Sequential(
            nn.Conv2d(c, 16, 4, stride=2, padding=1), nn.ReLU(),  # 32 x 32
            nn.Conv2d(16, 32, 4, stride=2, padding=1), nn.ReLU(),  # 16 x 16
            nn.Conv2d(32, 32, 4, stride=2, padding=1), nn.ReLU(),  # 8 x 8
            nn.Flatten(),
        )  # fmt: skip
        with torch.no_grad():
            n = self.cnn(torch.zeros(1, *observation_space.shape)).shape[1]
        self.head = nn.Sequential(nn.Linear(n, features_dim), nn.ReLU())

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.head(self.cnn(observations))


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
        "--timesteps",
        type=_positive_int,
        default=1024,
        help="total env steps (default: a smoke run)",
    )
    p.add_argument(
        "--num-envs", type=_positive_int, default=8, help="imagined envs stepped as one batch"
    )
    p.add_argument("--n-steps", type=_positive_int, default=64, help="PPO rollout length per env")
    p.add_argument("--batch-size", type=_positive_int, default=128, help="PPO minibatch size")
    p.add_argument("--epochs", type=_positive_int, default=4, help="PPO epochs per rollout")
    p.add_argument(
        "--max-episode-steps",
        type=_positive_int,
        default=None,
        help="step limit (default: none, episodes end with their clip: 28 steps when bundled)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the envs and of PPO")
    p.add_argument("--device", default="auto", help='world-model device: "auto", "cpu", "cuda:N"')
    p.add_argument("--policy-device", default="auto", help="PPO device (SB3 convention)")
    p.add_argument("--out", type=Path, default=Path("runs/ppo"), help="output directory")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join(
        ["python", "examples/sb3_ppo.py", *(sys.argv[1:] if argv is None else argv)]
    )
    print(f"command: {command}")
    args.out.mkdir(parents=True, exist_ok=True)

    venv = gym.make_vec(
        "GHVAE-RoboNet-v0",
        num_envs=args.num_envs,
        vectorization_mode="vector_entry_point",
        checkpoint=args.checkpoint,
        clips=args.clips,
        device=args.device,
        goal_from_clip=True,
        max_episode_steps=args.max_episode_steps,
    )
    env = VecMonitor(SB3VecEnvAdapter(venv))
    env.seed(args.seed)
    model = PPO(
        "CnnPolicy",
        env,
        n_steps=args.n_steps,
        batch_size=min(args.batch_size, args.n_steps * args.num_envs),
        n_epochs=args.epochs,
        policy_kwargs={
            "features_extractor_class": SmallCNN,
            "features_extractor_kwargs": {"features_dim": 128},
        },
        seed=args.seed,
        device=args.policy_device,
        verbose=1,
    )
    model.learn(total_timesteps=args.timesteps)
    returns = [ep["r"] for ep in model.ep_info_buffer]
    mean_return = float(sum(returns) / len(returns)) if returns else None

    model_path = args.out / "ppo_ghvae.zip"
    model.save(model_path)
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    config.update(command=command, episodes=len(returns), mean_episode_return=mean_return)
    (args.out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    env.close()
    shown = "n/a (no episode finished)" if mean_return is None else f"{mean_return:.4f}"
    print(f"{model.num_timesteps} steps, {len(returns)} episodes, mean episode return {shown}")
    print(f"wrote {model_path} and {args.out / 'config.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
