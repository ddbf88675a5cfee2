"""SVG' (Villegas et al., NeurIPS 2019): the baseline the seed compares GHVAE against.

SVG-LP (Denton & Fergus 2018) scaled up with convolutional LSTMs and spatial latents: one
encoder/decoder pair with skip connections, a learned-prior ConvLSTM and a posterior ConvLSTM
over a spatial z, and an action-conditioned ConvLSTM frame predictor. Unlike the GHVAE it is
one flat model trained end to end, so every weight, gradient, optimizer moment and activation
is resident in every step: at equal training memory it must be narrower (the seed's claim,
measured by ``benchmarks/svg_vs_ghvae.py``).

Read top to bottom: SVGPrimeConfig -> Encoder -> Decoder -> GaussianLSTM -> SVGPrime.

Notation: x_t the frame, e_t = (s^1_t, .., s^L_t) the encoder's features at 32, 16, .., 64/2^L
(s^L_t = h_t, the top), z_{t+1} the spatial latent at h_t's size, g_{t+1} the predictor output.

  prior      p(z_{t+1} | x_{<=t}, a_{<=t})  = ConvLSTM_p([h_t, a_t])      (learned mean and std)
  posterior  q(z_{t+1} | x_{<=t+1})         = ConvLSTM_q(h_{t+1})         (learned mean and std)
  predictor  g_{t+1} = ConvLSTM_f([h_t, z_{t+1}, a_t])                    (n layers)
  decoder    x_{t+1} = Dec(g_{t+1}, skips e_t, x_t)

Choices shared with the GHVAE, so the comparison measures the architecture and the training
scheme and not the loss: the same output head (RGB composited with x_t through a learned mask,
``pixel_skip``), GroupNorm, the same loss (MSE + beta-weighted KL with KL balancing, per pixel),
the same KL warm-up in the trainer. Skips come from the current frame x_t (which at test time
is the model's own last prediction), as the GHVAE decoders take h^k_t.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ghvae_env.model.api import check_context, check_temperature, rollout_by_steps
from ghvae_env.model.config import ConfigError
from ghvae_env.model.layers import (
    ConvLSTMCell,
    ResBlock,
    conv_block,
    image_head,
    init_copy_bias,
    upsample_conv_block,
)
from ghvae_env.model.losses import gaussian_kl, video_vae_loss

__all__ = ["SVGPrime", "SVGPrimeConfig", "SVGState", "SVG_PRESETS"]

LSTMState = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class SVGPrimeConfig:
    """Sizes and loss weights of an SVG' model."""

    # encoder widths at 32x32, 16x16, 8x8 (each level halves H and W); the last is h_t's.
    channels: tuple[int, ...] = (16, 32, 64)
    latent_channels: int = 16  # C_Z of the spatial z (at h_t's size)
    lstm_channels: int = 64  # width of the prior, posterior and predictor ConvLSTMs
    predictor_layers: int = 2  # stacked ConvLSTMs of the frame predictor (SVG: 2)
    image_size: int = 64
    image_channels: int = 3
    action_dim: int = 4
    res_blocks: int = 1
    kernel_size: int = 3
    min_std: float = 1e-3  # lower bound on prior/posterior std
    beta: float = 0.1  # same as GHVAEConfig.beta, same per-pixel normalisation
    prior_kl_weight: float = 1.0  # KL balancing, as in GHVAEConfig
    pixel_skip: bool = True  # x_{t+1} = m * x_t + (1 - m) * rgb, as GHVAE decoder_1
    context_frames: int = 2
    horizon: int = 8
    preset_name: str = field(default="custom", compare=False)

    def __post_init__(self) -> None:
        def fail(name: str, expected: str, actual: Any) -> None:
            raise ConfigError(f"SVGPrimeConfig.{name} must be {expected}, actual value: {actual!r}")

        if isinstance(self.channels, list):
            object.__setattr__(self, "channels", tuple(self.channels))
        ch = self.channels
        if not isinstance(ch, tuple) or not 1 <= len(ch) <= 5:
            fail("channels", "a tuple of 1..5 widths", ch)
        if not all(isinstance(c, int) and c > 0 for c in ch):
            fail("channels", "positive ints", ch)
        for name in ("latent_channels", "lstm_channels", "predictor_layers"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                fail(name, "an int >= 1", v)
        if self.image_size != 64:
            fail("image_size", "64 (the observation space of DESIGN.md)", self.image_size)
        if self.image_channels != 3:
            fail("image_channels", "3", self.image_channels)
        if not isinstance(self.action_dim, int) or self.action_dim < 0:
            fail("action_dim", "an int >= 0", self.action_dim)
        if not isinstance(self.res_blocks, int) or self.res_blocks < 0:
            fail("res_blocks", "an int >= 0", self.res_blocks)
        if self.kernel_size not in (1, 3, 5, 7):
            fail("kernel_size", "an odd int in {1, 3, 5, 7}", self.kernel_size)
        if not self.min_std > 0:
            fail("min_std", "> 0", self.min_std)
        if not self.beta >= 0:
            fail("beta", ">= 0", self.beta)
        if not self.prior_kl_weight >= 0:
            fail("prior_kl_weight", ">= 0", self.prior_kl_weight)
        if not isinstance(self.context_frames, int) or self.context_frames < 1:
            fail("context_frames", "an int >= 1", self.context_frames)
        if not isinstance(self.horizon, int) or self.horizon < 1:
            fail("horizon", "an int >= 1", self.horizon)

    @property
    def window(self) -> int:
        return self.context_frames + self.horizon

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> SVGPrimeConfig:
        if name not in SVG_PRESETS:
            raise ConfigError(
                f"unknown svg-prime preset {name!r}; expected one of {sorted(SVG_PRESETS)}"
            )
        base = dict(SVG_PRESETS[name])
        base.update(overrides)
        return cls(preset_name=name, **base)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["channels"] = list(d["channels"])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SVGPrimeConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"unknown SVGPrimeConfig fields {unknown}")
        return cls(**d)


SVG_PRESETS: dict[str, dict[str, Any]] = {
    # tests: trains in seconds.
    "tiny": dict(channels=(8, 16, 16), latent_channels=4, lstm_channels=16, res_blocks=0),
    # matched to GHVAE cpu-small (3 modules) at the peak memory of its greedy training,
    # B=8, T=10 (stage 1: 269.1 MiB): this step holds 264.2 MiB, 3.08 M parameters vs the
    # GHVAE's 1.24 M; z at 8x8x16 like the GHVAE's z^3, the same encoder widths. Measured with
    # ghvae_env.training.memory.measure_step_memory (benchmarks/svg_vs_ghvae.py --memory).
    "cpu-small": dict(channels=(16, 32, 64), latent_channels=16, lstm_channels=96, res_blocks=0),
}


# ----------------------------------------------------------------------------- layers
class Encoder(nn.Module):
    """x (B x 3 x 64 x 64) -> [s^1 (32x32), .., s^L (64/2^L)], each level halves H and W."""

    def __init__(self, c: SVGPrimeConfig) -> None:
        super().__init__()
        cin, levels = c.image_channels, []
        for cout in c.channels:
            levels.append(
                nn.Sequential(
                    conv_block(cin, cout, 4, stride=2),
                    *[ResBlock(cout, c.kernel_size) for _ in range(c.res_blocks)],
                )
            )
            cin = cout
        self.levels = nn.ModuleList(levels)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for level in self.levels:
            x = level(x)
            feats.append(x)
        return feats


class Decoder(nn.Module):
    """(g_{t+1} at h's size, skips s^L_t..s^1_t, x_t) -> x_{t+1}: a U-Net's upward half."""

    def __init__(self, c: SVGPrimeConfig) -> None:
        super().__init__()
        k = c.kernel_size
        ch = c.channels
        self.pixel_skip = c.pixel_skip
        ups, cin = [], c.lstm_channels
        for i in range(len(ch) - 1, -1, -1):  # level L .. 1
            cout = ch[i - 1] if i > 0 else max(ch[0] // 2, 8)
            ups.append(
                nn.ModuleDict(
                    {
                        "inp": conv_block(cin + ch[i], ch[i], k),
                        "res": nn.Sequential(*[ResBlock(ch[i], k) for _ in range(c.res_blocks)]),
                        "up": conv_block(ch[i], cout, k),
                    }
                )
            )
            cin = cout
        self.ups = nn.ModuleList(ups)
        self.out = nn.Conv2d(cin, c.image_channels + int(c.pixel_skip), k, padding=k // 2)
        if c.pixel_skip:  # start by mostly copying x_t, as the GHVAE's decoder_1
            init_copy_bias(self.out)

    def forward(
        self, g: torch.Tensor, skips: list[torch.Tensor], prev_frame: torch.Tensor
    ) -> torch.Tensor:
        y = g
        for up, s in zip(self.ups, reversed(skips), strict=True):
            y = up["res"](up["inp"](torch.cat([y, s], dim=1)))
            y = upsample_conv_block(up["up"], y)  # up(nearest 2x upsample of y), fused
        return image_head(self.out(y), prev_frame if self.pixel_skip else None)


class GaussianLSTM(nn.Module):
    """ConvLSTM -> (mean, std) of a spatial Gaussian: SVG's prior and posterior networks."""

    def __init__(self, cin: int, c_lstm: int, c_z: int, kernel: int, min_std: float) -> None:
        super().__init__()
        self.min_std = min_std
        self.inp = conv_block(cin, c_lstm, kernel)
        self.lstm = ConvLSTMCell(c_lstm, c_lstm, kernel)
        self.head = nn.Conv2d(c_lstm, 2 * c_z, kernel, padding=kernel // 2)

    def step(
        self, x: torch.Tensor, state: LSTMState | None
    ) -> tuple[torch.Tensor, torch.Tensor, LSTMState]:
        y, state = self.lstm(self.inp(x), state)
        mean, raw = self.head(y).chunk(2, dim=1)
        return mean, F.softplus(raw) + self.min_std, state


class Predictor(nn.Module):
    """Frame predictor: stacked ConvLSTMs on [h_t, z_{t+1}, a_t] -> g_{t+1} (SVG's LSTM_theta)."""

    def __init__(self, c: SVGPrimeConfig) -> None:
        super().__init__()
        k = c.kernel_size
        self.inp = conv_block(c.channels[-1] + c.latent_channels + c.action_dim, c.lstm_channels, k)
        self.cells = nn.ModuleList(
            [ConvLSTMCell(c.lstm_channels, c.lstm_channels, k) for _ in range(c.predictor_layers)]
        )

    def step(
        self, x: torch.Tensor, states: list[LSTMState]
    ) -> tuple[torch.Tensor, list[LSTMState]]:
        y = self.inp(x)
        new = []
        for cell, st in zip(self.cells, states, strict=True):
            out, st = cell(y, st)
            y = y + out  # residual between stacked cells
            new.append(st)
        return y, new


# ----------------------------------------------------------------------------- the model
@dataclass
class SVGState:
    """What one imagined step needs: encoder features of x_t and every recurrent state.

    hiddens: s^1_t .. s^L_t of the current frame; prior: prior ConvLSTM state; predictor:
    one (h, c) per predictor layer; frame: x_t, B x 3 x 64 x 64. A
    :class:`~ghvae_env.model.api.ModelState`.
    """

    hiddens: list[torch.Tensor]
    prior: LSTMState
    predictor: list[LSTMState]
    frame: torch.Tensor

    def index(self, idx: torch.Tensor | slice | list[int]) -> SVGState:
        return SVGState(
            [h[idx] for h in self.hiddens],
            (self.prior[0][idx], self.prior[1][idx]),
            [(h[idx], c[idx]) for h, c in self.predictor],
            self.frame[idx],
        )

    def assign(self, idx: torch.Tensor, other: SVGState) -> None:
        """Overwrite batch entries ``idx`` with ``other`` (used by vector-env resets)."""
        if len(self.hiddens) != len(other.hiddens) or len(self.predictor) != len(other.predictor):
            raise ValueError("SVGState.assign: the states come from different model configs")
        for h, o in zip(self.hiddens, other.hiddens, strict=True):
            h[idx] = o
        self.frame[idx] = other.frame
        self.prior[0][idx] = other.prior[0]
        self.prior[1][idx] = other.prior[1]
        for (h, c), (oh, oc) in zip(self.predictor, other.predictor, strict=True):
            h[idx] = oh
            c[idx] = oc


class SVGPrime(nn.Module):
    """SVG' as a :class:`~ghvae_env.model.api.WorldModel` (``start``/``step``, ``rollout``,
    checkpoints) with a ``loss`` for the trainer's single end-to-end phase.

    Frames are float B x ... x 3 x 64 x 64 in [0, 1]; actions B x ... x A.
    """

    model_type = "svg-prime"
    config_class = SVGPrimeConfig

    def __init__(self, config: SVGPrimeConfig) -> None:
        super().__init__()
        c = config
        self.config = c
        h = c.channels[-1]
        self.encoder = Encoder(c)
        self.decoder = Decoder(c)
        self.prior = GaussianLSTM(
            h + c.action_dim, c.lstm_channels, c.latent_channels, c.kernel_size, c.min_std
        )
        self.posterior = GaussianLSTM(
            h, c.lstm_channels, c.latent_channels, c.kernel_size, c.min_std
        )
        self.predictor = Predictor(c)

    # ------------------------------------------------------------------ pieces
    def _tile(self, a: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return a[:, :, None, None].expand(-1, -1, like.shape[2], like.shape[3])

    def _zero_states(self, h: torch.Tensor) -> tuple[LSTMState, list[LSTMState]]:
        shape = (h.shape[0], self.config.lstm_channels, h.shape[2], h.shape[3])

        def z() -> LSTMState:
            return (h.new_zeros(shape), h.new_zeros(shape))

        return z(), [z() for _ in range(self.config.predictor_layers)]

    def _transition(
        self,
        feats: list[torch.Tensor],
        z: torch.Tensor,
        a: torch.Tensor,
        frame: torch.Tensor,
        pstate: list[LSTMState],
    ) -> tuple[torch.Tensor, list[LSTMState]]:
        h = feats[-1]
        parts = [h, z] + ([self._tile(a, h)] if self.config.action_dim else [])
        g, pstate = self.predictor.step(torch.cat(parts, dim=1), pstate)
        return self.decoder(g, feats, frame), pstate

    def _prior_in(self, h: torch.Tensor, a: torch.Tensor | None) -> torch.Tensor:
        if self.config.action_dim:
            return torch.cat([h, self._tile(a, h)], dim=1)
        return h

    # ------------------------------------------------------------------ training
    def loss(
        self,
        frames: torch.Tensor,
        actions: torch.Tensor,
        generator: torch.Generator | None = None,
        beta: float | None = None,
    ) -> dict[str, torch.Tensor]:
        """Negative ELBO over a teacher-forced clip, end to end (outputs as GHVAE.loss).

        frames: B x T x 3 x 64 x 64 in [0, 1]; actions: B x (T-1) x A.
        """
        cfg = self.config
        B, T = frames.shape[:2]
        if T < 2:
            raise ValueError(
                f"frames must hold at least 2 time steps, actual shape: {tuple(frames.shape)}"
            )
        feats = [f.unflatten(0, (B, T)) for f in self.encoder(frames.flatten(0, 1))]
        h = feats[-1]
        sp, pstate = self._zero_states(h[:, 0])
        sq = None
        preds, kl_post, kl_prior = [], [], []
        for t in range(T - 1):
            mq, sdq, sq = self.posterior.step(h[:, t + 1], sq)
            mp, sdp, sp = self.prior.step(self._prior_in(h[:, t], actions[:, t]), sp)
            eps = torch.randn(mq.shape, generator=generator, device=mq.device, dtype=mq.dtype)
            z = mq + sdq * eps
            pred, pstate = self._transition(
                [f[:, t] for f in feats], z, actions[:, t], frames[:, t], pstate
            )
            preds.append(pred)
            kl_post.append(gaussian_kl(mq, sdq, mp.detach(), sdp.detach()).sum(dim=(1, 2, 3)))
            kl_prior.append(gaussian_kl(mq.detach(), sdq.detach(), mp, sdp).sum(dim=(1, 2, 3)))
        b = cfg.beta if beta is None else beta
        return video_vae_loss(
            torch.stack(preds, 1),
            frames[:, 1:],
            torch.stack(kl_post, 1).mean(),
            torch.stack(kl_prior, 1).mean(),
            beta=b,
            prior_kl_weight=cfg.prior_kl_weight,
        )

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def start(
        self, context_frames: torch.Tensor, context_actions: torch.Tensor | None = None
    ) -> SVGState:
        """Consume C context frames and C-1 actions; the state at the last frame.

        The predictor is teacher-forced through the context with posterior samples' means
        (the context frames are observed), the prior consumes (h_t, a_t) as in training.
        """
        check_context(self.config, context_frames, context_actions)
        B, C = context_frames.shape[:2]
        feats = [f.unflatten(0, (B, C)) for f in self.encoder(context_frames.flatten(0, 1))]
        h = feats[-1]
        sp, pstate = self._zero_states(h[:, 0])
        sq = None
        for t in range(C - 1):
            a = context_actions[:, t]
            mq, _, sq = self.posterior.step(h[:, t + 1], sq)
            _, _, sp = self.prior.step(self._prior_in(h[:, t], a), sp)
            _, pstate = self._transition(
                [f[:, t] for f in feats], mq, a, context_frames[:, t], pstate
            )
        return SVGState([f[:, -1] for f in feats], sp, pstate, context_frames[:, -1])

    @torch.no_grad()
    def step(
        self,
        state: SVGState,
        action: torch.Tensor,
        generator: torch.Generator | None = None,
        sample: bool = True,
        temperature: float = 1.0,
    ) -> tuple[torch.Tensor, SVGState]:
        """One imagined step: z_{t+1} ~ prior(h_t, a_t), predict, decode x_{t+1}, re-encode it.
        ``temperature`` scales the noise: z = mean + T std eps (as ``GHVAE.step``)."""
        temperature = check_temperature(temperature)
        mean, std, sp = self.prior.step(self._prior_in(state.hiddens[-1], action), state.prior)
        if sample:
            eps = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
            z = mean + std * (eps * temperature)
        else:
            z = mean
        frame, pstate = self._transition(state.hiddens, z, action, state.frame, state.predictor)
        return frame, SVGState(self.encoder(frame), sp, pstate, frame)

    @torch.no_grad()
    def rollout(
        self,
        context_frames: torch.Tensor,
        actions: torch.Tensor,
        num_samples: int = 1,
        generator: torch.Generator | None = None,
        sample: bool = True,
        temperature: float = 1.0,
    ) -> torch.Tensor:
        """Predict H frames after C context frames (same contract as ``GHVAE.rollout``)."""
        return rollout_by_steps(
            self, context_frames, actions, num_samples, generator, sample, temperature
        )
