"""Greedy trainer, e2e fine-tune, checkpoints, DDP, evaluation."""

from ghvae_env.training.config import ModelOverrides, TrainConfig, TrainError
from ghvae_env.training.evaluate import evaluate_rollouts, frame_psnr
from ghvae_env.training.trainer import Phase, freeze_for_stage, train

__all__ = [
    "TrainConfig",
    "TrainError",
    "ModelOverrides",
    "Phase",
    "train",
    "freeze_for_stage",
    "evaluate_rollouts",
    "frame_psnr",
]
