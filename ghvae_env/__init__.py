"""ghvae-env: a Greedy Hierarchical VAE world model as a Gymnasium environment.

``import ghvae_env`` registers the environments (``GHVAE-RoboNet-v0``, ``RoboNet-Sim-v0``).
"""

from __future__ import annotations

__version__ = "0.1.0"

from ghvae_env.model import GHVAE, GHVAEConfig, load_model  # noqa: E402

__all__ = ["GHVAE", "GHVAEConfig", "load_model", "__version__"]
