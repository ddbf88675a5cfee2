"""Gymnasium wrappers for the GHVAE env, importable as ``ghvae_env.wrappers``."""

__all__: list[str] = []
