"""Greedy trainer, e2e fine-tune, checkpoints, DDP, evaluation."""

from ghvae_env.training.evaluate import evaluate_rollouts, frame_psnr
from ghvae_env.training.trainer import Phase, TrainConfig, TrainError, freeze_for_stage, train

__all__ = [
    "TrainConfig",
    "TrainError",
    "Phase",
    "train",
    "freeze_for_stage",
    "evaluate_rollouts",
    "frame_psnr",
]
