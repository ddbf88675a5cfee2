from __future__ import annotations

import pytest
import torch

from ghvae_env.model import GHVAE, ConfigError, GHVAEConfig
from ghvae_env.model.losses import gaussian_kl


def _clip(B=2, T=6, A=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(B, T, 3, 64, 64, generator=g), torch.rand(B, T - 1, A, generator=g) * 2 - 1


@pytest.mark.parametrize("K", [1, 2, 3])
def test_shapes_per_level(K):
    cfg = GHVAEConfig.preset("tiny", num_modules=K)
    model = GHVAE(cfg)
    x = torch.rand(3, 3, 64, 64)
    hs = model.encode(x)
    assert len(hs) == K
    for k, h in enumerate(hs, 1):  # each encoder halves H, W and grows channels
        assert h.shape == (3, cfg.hidden_channels[k - 1], 64 // 2**k, 64 // 2**k)
    z = torch.randn(3, cfg.latent_channels[-1], 64 // 2**K, 64 // 2**K)
    a = torch.rand(3, cfg.action_dim)
    assert model.decode(hs, z, x, a).shape == (3, 3, 64, 64)
    # decoder_k emits a tensor of z^{k-1}'s shape (DESIGN.md decoder chain)
    for k in range(2, K + 1):
        u = model.blocks[k - 1].decoder(
            hs[k - 1], torch.randn(3, cfg.latent_channels[k - 1], *hs[k - 1].shape[2:]), action=a
        )
        assert u.shape == (3, cfg.latent_channels[k - 2], *hs[k - 2].shape[2:])


@pytest.mark.parametrize("K", [1, 3])
def test_hidden_handoff_shapes_and_loss(K):
    """handoff="hidden": decoder_k emits h^{k-1}'s width; the top z^K is lifted to C_H^K."""
    cfg = GHVAEConfig.preset("tiny", num_modules=K, handoff="hidden")
    model = GHVAE(cfg)
    x = torch.rand(3, 3, 64, 64)
    hs = model.encode(x)
    a = torch.rand(3, cfg.action_dim)
    z = torch.randn(3, cfg.latent_channels[-1], *hs[-1].shape[2:])
    assert model.decode(hs, z, x, a).shape == (3, 3, 64, 64)
    for k in range(2, K + 1):
        u = model.blocks[k - 1].decoder(
            hs[k - 1], torch.randn(3, cfg.hidden_channels[k - 1], *hs[k - 1].shape[2:]), action=a
        )
        assert u.shape == hs[k - 2].shape
    frames, actions = _clip()
    out = model.loss(frames, actions, stage=K)
    out["loss"].backward()
    assert model.blocks[K - 1].lift.weight.grad.abs().sum() > 0
    latent = GHVAE(GHVAEConfig.preset("tiny", num_modules=K))
    assert all(b.lift is None for b in latent.blocks)  # old checkpoints' weights unchanged
    assert not any("lift" in n for n in latent.state_dict())


def test_loss_outputs_and_stage(tiny_model):
    frames, actions = _clip()
    for stage in (1, 2):
        out = tiny_model.loss(frames, actions, stage=stage)
        assert out["pred"].shape == (2, 5, 3, 64, 64)
        assert out["loss"].ndim == 0 and torch.isfinite(out["loss"])
        assert out["kl"] >= 0


def test_kl_fixed_posterior_std_matches_torch_distributions():
    g = torch.Generator().manual_seed(1)
    mu_q, mu_p = torch.randn(50, generator=g), torch.randn(50, generator=g)
    std_p = torch.rand(50, generator=g) + 0.1
    q = torch.distributions.Normal(mu_q, torch.full_like(mu_q, 0.3))
    p = torch.distributions.Normal(mu_p, std_p)
    ref = torch.distributions.kl_divergence(q, p)
    torch.testing.assert_close(gaussian_kl(mu_q, 0.3, mu_p, std_p), ref, rtol=1e-5, atol=1e-6)
    # KL is zero exactly when the prior equals the fixed-std posterior
    assert gaussian_kl(mu_q, 0.3, mu_q, torch.full_like(mu_q, 0.3)).abs().max() < 1e-6


def test_kl_uses_config_posterior_std():
    frames, actions = _clip()
    torch.manual_seed(0)
    a = GHVAE(GHVAEConfig.preset("tiny", posterior_std=0.1))
    b = GHVAE(GHVAEConfig.preset("tiny", posterior_std=0.5))
    b.load_state_dict(a.state_dict())
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert not torch.isclose(
        a.loss(frames, actions, generator=g1)["kl"], b.loss(frames, actions, generator=g2)["kl"]
    )


def test_rollout_shapes_and_num_samples(tiny_model):
    frames, actions = _clip(B=2, T=7)
    ctx = frames[:, :2]
    pred = tiny_model.rollout(ctx, actions)  # C=2 -> H = 6 - 1 = 5
    assert pred.shape == (2, 5, 3, 64, 64)
    assert 0 <= pred.min() and pred.max() <= 1
    multi = tiny_model.rollout(
        ctx, actions, num_samples=3, generator=torch.Generator().manual_seed(0)
    )
    assert multi.shape == (2, 3, 5, 3, 64, 64)
    assert not torch.equal(multi[:, 0], multi[:, 1])  # samples differ


def test_rollout_equals_start_plus_steps(tiny_model):
    frames, actions = _clip(B=2, T=6)
    ctx = frames[:, :3]
    pred = tiny_model.rollout(ctx, actions, generator=torch.Generator().manual_seed(5))
    gen = torch.Generator().manual_seed(5)
    state = tiny_model.start(ctx, actions[:, :2])
    for t in range(pred.shape[1]):
        frame, state = tiny_model.step(state, actions[:, 2 + t], generator=gen)
        torch.testing.assert_close(frame, pred[:, t], rtol=0, atol=1e-6)


def test_rollout_seeded_determinism_and_action_dependence(tiny_model):
    frames, actions = _clip(B=1, T=8)
    a = tiny_model.rollout(frames[:, :2], actions, generator=torch.Generator().manual_seed(0))
    b = tiny_model.rollout(frames[:, :2], actions, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    c = tiny_model.rollout(frames[:, :2], -actions, generator=torch.Generator().manual_seed(0))
    assert not torch.equal(a, c)  # the prior is action-conditioned


def test_uniform_prior_ignores_actions():
    torch.manual_seed(0)
    model = GHVAE(GHVAEConfig.preset("tiny", learned_prior=False, action_to_decoder=False)).eval()
    frames, actions = _clip(B=1, T=6)
    a = model.rollout(frames[:, :2], actions, generator=torch.Generator().manual_seed(0))
    b = model.rollout(frames[:, :2], -actions, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b)


@pytest.mark.parametrize(
    "ctx_shape, act_shape, match",
    [
        ((2, 2, 3, 32, 32), (2, 6, 4), "context_frames must be"),
        ((2, 2, 64, 64, 3), (2, 6, 4), "context_frames must be"),
        ((2, 2, 3, 64, 64), (2, 6, 5), "actions must be"),
        ((2, 2, 3, 64, 64), (3, 6, 4), "actions must be"),
        ((2, 3, 3, 64, 64), (2, 2, 4), "actions must be"),
    ],
)
def test_rollout_bad_shapes(tiny_model, ctx_shape, act_shape, match):
    with pytest.raises(ValueError, match=match):
        tiny_model.rollout(torch.rand(ctx_shape), torch.rand(act_shape))


def test_rollout_bad_dtypes_and_values(tiny_model):
    ctx, acts = torch.rand(1, 2, 3, 64, 64), torch.zeros(1, 4, 4)
    with pytest.raises(TypeError, match="context_frames"):
        tiny_model.rollout((ctx * 255).to(torch.uint8), acts)
    with pytest.raises(TypeError, match="actions"):
        tiny_model.rollout(ctx, acts.long())
    bad = acts.clone()
    bad[0, 2, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        tiny_model.rollout(ctx, bad)
    with pytest.raises(ValueError, match="num_samples"):
        tiny_model.rollout(ctx, acts, num_samples=0)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(num_modules=0), "num_modules"),
        (dict(num_modules=7), "num_modules"),
        (
            dict(
                num_modules=2, hidden_channels=(8,), latent_channels=(4, 8), lstm_channels=(8, 16)
            ),
            "hidden_channels",
        ),
        (
            dict(
                num_modules=2,
                hidden_channels=(16, 8),
                latent_channels=(4, 8),
                lstm_channels=(8, 16),
            ),
            "hidden_channels",
        ),
        (dict(posterior_std=0.0), "posterior_std"),
        (dict(beta=-1.0), "beta"),
        (dict(image_size=32), "image_size"),
        (dict(handoff="h"), "handoff"),
    ],
)
def test_config_validation_names_field(kwargs, field):
    with pytest.raises(ConfigError, match=field):
        GHVAEConfig(**kwargs)


def test_presets_and_with_modules():
    for name in ("tiny", "cpu-small", "paper-6"):
        cfg = GHVAEConfig.preset(name)
        assert cfg.preset_name == name
    cfg = GHVAEConfig.preset("tiny", num_modules=2)
    grown = cfg.with_modules(4)
    assert grown.num_modules == 4 and grown.hidden_channels[:2] == cfg.hidden_channels
    assert GHVAEConfig.from_dict(grown.to_dict()) == grown
    with pytest.raises(ConfigError, match="preset"):
        GHVAEConfig.preset("huge")


def _loss_grads(beta: float, weight: float) -> dict[str, torch.Tensor]:
    """Gradients of GHVAE.loss (tiny, 1 module, fixed weights and noise) by parameter name."""
    frames, actions = _clip(B=2, T=4)
    torch.manual_seed(0)
    model = GHVAE(GHVAEConfig.preset("tiny", num_modules=1, beta=beta, prior_kl_weight=weight))
    loss = model.loss(frames, actions, generator=torch.Generator().manual_seed(1))["loss"]
    loss.backward()
    return {
        n: (p.grad if p.grad is not None else torch.zeros_like(p))
        for n, p in model.named_parameters()
    }


def test_kl_balancing_inside_the_loss_routes_each_term_to_its_side():
    """Through GHVAE.loss (a mis-wired detach fails here): beta reaches the posterior and
    the decoder but never the prior, prior_kl_weight reaches the prior (and, through its
    input h^k, the encoder) but never the posterior or decoder, and equal weights add up:
    the gradients of beta * KL(q || p) (seed Eq. 2)."""
    base = _loss_grads(0.0, 0.0)
    post = _loss_grads(0.5, 0.0)
    prior = _loss_grads(0.0, 0.5)
    both = _loss_grads(0.5, 0.5)
    for n, g in base.items():
        if ".prior." in n:
            assert post[n].abs().max() == 0 and g.abs().max() == 0, n
        if ".posterior." in n or ".decoder." in n:
            torch.testing.assert_close(prior[n], g)
        torch.testing.assert_close(
            both[n] - g, (post[n] - g) + (prior[n] - g), atol=1e-6, rtol=1e-4
        )
    assert any(not torch.equal(post[n], base[n]) for n in base if ".posterior." in n)
    assert any(prior[n].abs().max() > 0 for n in base if ".prior." in n)


def test_prior_learns_through_prior_kl_weight_even_with_zero_beta():
    frames, actions = _clip(B=2, T=4)
    for weight, expect_prior_grad in ((0.0, False), (1.0, True)):
        torch.manual_seed(0)
        model = GHVAE(GHVAEConfig.preset("tiny", num_modules=1, beta=0.0, prior_kl_weight=weight))
        model.loss(frames, actions, generator=torch.Generator().manual_seed(1))["loss"].backward()
        prior_grad = sum(
            p.grad.abs().sum() for p in model.blocks[0].prior.parameters() if p.grad is not None
        )
        assert (float(prior_grad) > 0) == expect_prior_grad
        post_grad = sum(
            p.grad.abs().sum() for p in model.blocks[0].posterior.parameters() if p.grad is not None
        )
        assert float(post_grad) > 0  # the posterior still learns through reconstruction


def test_start_without_context_actions_names_them_instead_of_failing_in_a_conv(tiny_model):
    """Bug: C > 1 frames without context_actions failed inside a conv ("expected 20 channels,
    got 16"); now a ValueError names the missing argument. C = 1 needs none."""
    ctx = torch.rand(2, 3, 3, 64, 64)
    with pytest.raises(ValueError, match=r"3 context frames need context_actions B x 2 x 4"):
        tiny_model.start(ctx)
    with pytest.raises(ValueError, match=r"context_actions must be B x \(C-1\) x 4"):
        tiny_model.start(ctx, torch.zeros(2, 1, 4))
    state = tiny_model.start(ctx[:, :1])
    # complete state: the zero prior state prior_K starts from, not None
    assert state.prior is not None and not state.prior[0].any()


def test_rollout_state_assign_refuses_before_mutating(tiny_model):
    """Bug: assign wrote hiddens and frame before it raised on a missing prior state."""
    from ghvae_env.model.ghvae import RolloutState

    state = tiny_model.start(torch.rand(3, 2, 3, 64, 64), torch.zeros(3, 1, 4))
    other = tiny_model.start(torch.rand(1, 2, 3, 64, 64), torch.zeros(1, 1, 4))
    before = [h.clone() for h in state.hiddens], state.frame.clone()
    broken = RolloutState(other.hiddens, None, other.frame)
    with pytest.raises(ValueError, match="prior"):
        state.assign(torch.tensor([1]), broken)
    with pytest.raises(ValueError, match="hidden levels"):
        state.assign(torch.tensor([1]), RolloutState(other.hiddens[:1], other.prior, other.frame))
    assert all(torch.equal(h, b) for h, b in zip(state.hiddens, before[0], strict=True))
    assert torch.equal(state.frame, before[1])
    state.assign(torch.tensor([1]), other)
    assert torch.equal(state.frame[1], other.frame[0])
