"""latent_calibration: T* of the deepest prior against the posterior on clips."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ghvae_env.training.evaluate import latent_calibration


def _clips(n=3, length=6, seed=0):
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, size=(n, length, 64, 64, 3), dtype=np.uint8)
    actions = rng.uniform(-1, 1, size=(n, length - 1, 4)).astype(np.float32)
    return frames, actions


def test_t_star_follows_the_priors_width_and_matches_the_formula(tiny_model, monkeypatch):
    frames, actions = _clips()
    base = latent_calibration(tiny_model, frames, actions, batch_size=2)
    assert base["clips"] == 3 and len(base["teacher_forced_per_step"]) == 5
    # the formula, by hand, teacher-forced
    from ghvae_env.data.frames import to_float_chw

    K = tiny_model.num_modules
    block = tiny_model.blocks[K - 1]
    with torch.no_grad():
        f = to_float_chw(frames, "cpu")
        hs = [h.unflatten(0, f.shape[:2]) for h in tiny_model.encode(f.flatten(0, 1), upto=K)]
        mq = block.posterior.sequence(hs[-1][:, 1:])
        mp, sp = block.prior.sequence(hs[-1][:, :-1], torch.as_tensor(actions))
    r = ((mq - mp) ** 2 + tiny_model.config.posterior_std**2) / sp**2
    assert base["teacher_forced"] == pytest.approx(float(r.mean().sqrt()), rel=1e-3)
    # a prior twice as wide halves T* (both passes read the prior's std)
    seq, step = block.prior.sequence, block.prior.step
    monkeypatch.setattr(block.prior, "sequence", lambda *a: (seq(*a)[0], 2 * seq(*a)[1]))

    def wide_step(*a):
        m, s, st = step(*a)
        return m, 2 * s, st

    monkeypatch.setattr(block.prior, "step", wide_step)
    wide = latent_calibration(tiny_model, frames, actions)
    for key in ("teacher_forced", "free_running"):
        assert wide[key] == pytest.approx(base[key] / 2, rel=1e-3)


def test_only_a_ghvae(tiny_model):
    from ghvae_env.baselines.svg_prime import SVGPrime, SVGPrimeConfig

    with pytest.raises(TypeError, match="needs a GHVAE"):
        latent_calibration(SVGPrime(SVGPrimeConfig.preset("tiny")), *_clips())
