"""The WorldModel protocol and the model-type registry (ghvae_env.model.api)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch

from ghvae_env.baselines.svg_prime import SVGPrime, SVGPrimeConfig
from ghvae_env.model import GHVAE
from ghvae_env.model import checkpoint as ckpt
from ghvae_env.model.api import (
    MODEL_TYPES,
    ModelState,
    WorldModel,
    model_class,
    register_model_type,
)


def test_both_models_implement_the_protocol_without_imitating_each_other(tiny_model):
    svg = SVGPrime(SVGPrimeConfig.preset("tiny")).eval()
    for model in (tiny_model, svg):
        assert isinstance(model, WorldModel)
        state = model.start(torch.rand(2, 1, 3, 64, 64))  # C = 1: still a complete state
        assert isinstance(state, ModelState)
        frame, state = model.step(state, torch.zeros(2, 4), sample=False)
        assert frame.shape == (2, 3, 64, 64)
        state.assign(torch.tensor([0]), state.index([1]))
        # rollout(sample=False): the prior mean at every step, whatever the generator
        ctx, acts = torch.rand(2, 2, 3, 64, 64), torch.rand(2, 4, 4) * 2 - 1
        mean = [
            model.rollout(ctx, acts, generator=torch.Generator().manual_seed(s), sample=False)
            for s in (0, 1)
        ]
        torch.testing.assert_close(mean[0], mean[1], rtol=0, atol=0)
        sampled = [
            model.rollout(ctx, acts, generator=torch.Generator().manual_seed(s)) for s in (0, 1)
        ]
        assert mean[0].shape == (2, 3, 3, 64, 64) and not torch.equal(sampled[0], sampled[1])
    for fake in ("num_modules", "truncated"):  # GHVAE concepts SVG' used to fake
        assert not hasattr(svg, fake) and not hasattr(svg.config, fake)


def test_registry_maps_types_to_classes_lazily_and_takes_new_ones():
    assert model_class("ghvae") is GHVAE and model_class("svg-prime") is SVGPrime
    with pytest.raises(KeyError, match="known"):
        model_class("nope")
    register_model_type("svg-copy", SVGPrime)
    try:
        assert MODEL_TYPES["svg-copy"] == "ghvae_env.baselines.svg_prime:SVGPrime"
        assert model_class("svg-copy") is SVGPrime
    finally:
        del MODEL_TYPES["svg-copy"]
    with pytest.raises(ValueError, match="module:Class"):
        register_model_type("bad", "no_colon")


def test_checkpoint_module_imports_no_model_class():
    """model/checkpoint.py reaches models through the registry only (no import cycle with
    ghvae_env.baselines, which imports ghvae_env.model)."""
    tree = ast.parse(Path(ckpt.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    assert not any(m.startswith(("ghvae_env.baselines", "ghvae_env.model.ghvae")) for m in imported)


def test_rollout_consumes_a_shared_context_once_with_the_same_frames(tiny_model, monkeypatch):
    """The planner's candidates share one context: rollout_by_steps starts on one row and
    broadcasts the state; the frames equal start + step on every row."""
    svg = SVGPrime(SVGPrimeConfig.preset("tiny")).eval()
    ctx, acts = torch.rand(1, 2, 3, 64, 64), torch.rand(70, 5, 4) * 2 - 1
    acts[:, :1] = acts[:1, :1]  # one context transition; the rows differ after it
    frames = ctx.expand(70, -1, -1, -1, -1)
    for model in (tiny_model, svg):
        gen = torch.Generator().manual_seed(3)
        state = model.start(frames.contiguous(), acts[:, :1].contiguous())
        steps = []
        for t in range(1, 5):
            frame, state = model.step(state, acts[:, t], gen)
            steps.append(frame)
        rows = []
        real_start = type(model).start
        monkeypatch.setattr(
            type(model),
            "start",
            lambda self, f, a=None, real=real_start, rows=rows: (
                rows.append(f.shape[0]) or real(self, f, a)
            ),
        )
        shared = model.rollout(frames, acts, generator=torch.Generator().manual_seed(3))
        assert rows == [1]  # 70 > STEP_CHUNK: the broadcast state is chunked too
        torch.testing.assert_close(shared, torch.stack(steps, 1), rtol=0, atol=1e-5)
        different = acts.clone()
        different[5, 0] = 0.0  # one row's context differs: every row is started
        model.rollout(frames, different, generator=torch.Generator().manual_seed(3))
        assert rows == [1, 70]
        monkeypatch.undo()


def test_rollout_of_a_shared_context_with_several_samples(tiny_model):
    """num_samples > 1 on candidates that share one context (the shared-start path) gives
    B x N x H frames equal to the same rollout on an unshared copy of the context."""
    ctx, acts = torch.rand(1, 2, 3, 64, 64), torch.rand(3, 5, 4) * 2 - 1
    acts[:, :1] = acts[:1, :1]
    shared = tiny_model.rollout(
        ctx.expand(3, -1, -1, -1, -1), acts, 2, generator=torch.Generator().manual_seed(1)
    )
    assert shared.shape == (3, 2, 4, 3, 64, 64)
    copied = tiny_model.rollout(
        ctx.repeat(3, 1, 1, 1, 1) + 0.0, acts, 2, generator=torch.Generator().manual_seed(1)
    )
    torch.testing.assert_close(shared, copied, rtol=0, atol=1e-5)


def test_temperature_scales_the_latent_noise_between_the_mean_and_the_trained_prior(tiny_model):
    """z = mean + T std eps with the same eps whatever T: T = 1 is the default sample, T = 0
    the prior mean (sample=False), and T = 0.5 a third rollout between them; both models."""
    svg = SVGPrime(SVGPrimeConfig.preset("tiny")).eval()
    ctx, acts = torch.rand(2, 2, 3, 64, 64), torch.rand(2, 4, 4) * 2 - 1

    def run(model, **kw):
        return model.rollout(ctx, acts, generator=torch.Generator().manual_seed(5), **kw)

    for model in (tiny_model, svg):
        sampled, mean = run(model), run(model, sample=False)
        torch.testing.assert_close(run(model, temperature=1.0), sampled, rtol=0, atol=0)
        torch.testing.assert_close(run(model, temperature=0.0), mean, rtol=0, atol=1e-6)
        half = run(model, temperature=0.5)
        d_mean, d_sample = (half - mean).abs().mean(), (half - sampled).abs().mean()
        assert d_mean > 0 and d_sample > 0
        # sample=False wins over a temperature: still the mean
        torch.testing.assert_close(run(model, sample=False, temperature=0.5), mean, rtol=0, atol=0)


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf"), "0.5", True, None])
def test_bad_temperature_is_refused_naming_the_value(tiny_model, bad):
    ctx, acts = torch.rand(1, 2, 3, 64, 64), torch.rand(1, 3, 4)
    with pytest.raises(ValueError, match="temperature must be a finite float >= 0"):
        tiny_model.rollout(ctx, acts, temperature=bad)
    state = tiny_model.start(ctx, acts[:, :1])
    with pytest.raises(ValueError, match=r"temperature.*actual value"):
        tiny_model.step(state, acts[:, 1], temperature=bad)


def test_a_model_without_temperature_works_at_the_default_and_names_the_gap_otherwise(
    tiny_model, plain_model
):
    from ghvae_env.model.api import accepts_temperature, rollout_by_steps

    plain = plain_model
    assert accepts_temperature(tiny_model) and not accepts_temperature(plain)
    ctx, acts = torch.rand(1, 2, 3, 64, 64), torch.rand(1, 3, 4)
    assert rollout_by_steps(plain, ctx, acts).shape == (1, 2, 3, 64, 64)
    with pytest.raises(TypeError, match="PlainModel.step does not"):
        rollout_by_steps(plain, ctx, acts, temperature=0.5)
