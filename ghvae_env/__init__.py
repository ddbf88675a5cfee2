"""ghvae-env: a Greedy Hierarchical VAE world model as a Gymnasium environment.

``import ghvae_env`` registers the environments (``GHVAE-RoboNet-v0``, ``RoboNet-Sim-v0``).
The model classes are imported lazily so that ``ghvae --help`` and data-generation worker
processes do not pay for importing torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ghvae_env._version import __version__  # noqa: E402

__all__ = ["GHVAE", "GHVAEConfig", "load_model", "__version__"]

# Registration only: robosuite and torch load when an env is constructed.
from ghvae_env import envs as _envs  # noqa: E402,F401  (registers GHVAE-RoboNet-v0)
from ghvae_env import sim as _sim  # noqa: E402,F401  (registers RoboNet-Sim-v0)

if TYPE_CHECKING:
    from ghvae_env.model import GHVAE, GHVAEConfig, load_model


def __getattr__(name: str) -> Any:
    if name in ("GHVAE", "GHVAEConfig", "load_model"):
        from ghvae_env import model

        return getattr(model, name)
    raise AttributeError(f"module 'ghvae_env' has no attribute {name!r}")
