"""Baseline video-prediction models with the GHVAE's interface (rollout API, checkpoints)."""

from ghvae_env.baselines.svg_prime import SVG_PRESETS, SVGPrime, SVGPrimeConfig, SVGState

__all__ = ["SVGPrime", "SVGPrimeConfig", "SVGState", "SVG_PRESETS"]
