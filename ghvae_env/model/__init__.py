"""GHVAE model: config, layers, the stacked model, checkpoints."""

from ghvae_env.model.checkpoint import CheckpointError, load_model, read_checkpoint, save_checkpoint
from ghvae_env.model.config import PRESETS, ConfigError, GHVAEConfig
from ghvae_env.model.ghvae import GHVAE, RolloutState

__all__ = [
    "GHVAE",
    "GHVAEConfig",
    "RolloutState",
    "PRESETS",
    "ConfigError",
    "CheckpointError",
    "load_model",
    "read_checkpoint",
    "save_checkpoint",
]
