"""GHVAE model (filled in by issue 2)."""
