"""The Greedy Hierarchical VAE (seed section 3), read top to bottom.

Encoder -> Decoder -> Prior -> Posterior -> GHVAEModule (one level) -> GHVAE (the stack).

Notation (seed section 3): level 0 is the image x_t; module k = 1..K maps h^{k-1} -> h^k
(H and W halved, channels grown). z^k_{t+1} has h^k's spatial size and C_Z^k channels.
decoder_k maps (h^k_t, u^k_{t+1}) -> u^{k-1}_{t+1}, where u^K = z^K and u^0 = x_{t+1}.
Only prior_K is used at test time; priors/posteriors of lower modules serve their own
training stage (Fig. 2).
"""

from __future__ import annotations

import contextlib
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ghvae_env.model.api import check_context, check_temperature, rollout_by_steps
from ghvae_env.model.config import GHVAEConfig
from ghvae_env.model.layers import (
    ConvLSTMCell,
    ResBlock,
    cat_channels,
    channels_last,
    conv_block,
    image_head,
    init_copy_bias,
    is_channels_last,
    upsample_conv_block,
)
from ghvae_env.model.losses import gaussian_kl, video_vae_loss

__all__ = ["GHVAE", "GHVAEModule", "RolloutState"]

LSTMState = tuple[torch.Tensor, torch.Tensor]

# GHVAE.step runs batches larger than this in chunks whose activations stay in cache:
# cpu-small at B=256, one thread, 317 -> 430 frames/s; cpu-fast 755 -> 904 (issue 11).
STEP_CHUNK = 64


# With n >= 2 torch threads, GHVAE.step runs its chunks side by side on n pool threads of one
# torch thread each (inter-op) instead of one chunk at a time on n threads (intra-op): small
# convolutions split across cores poorly (issue 11). `python benchmarks/speed.py` (2026-12-01,
# AMD EPYC, 2 threads) measured B=200: cpu-small 586 vs 338 frames/s, cpu-fast 1,108 vs 648
# (rows "chunks one at a time"). A one-off A/B found cpu-small B=16 as 2 x 8 rows ~20% slower,
# so chunks of fewer than PARALLEL_MIN_ROWS rows stay on the intra-op path. The pools are per
# n and live as long as the process.
PARALLEL_MIN_ROWS = 16
_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def _chunk_pool(n: int) -> ThreadPoolExecutor:
    """A pool of ``n`` threads, each set to one torch thread (``torch.set_num_threads`` in a
    thread sets that thread's OpenMP team size; the caller's count is restored after)."""
    with _POOLS_LOCK:
        pool = _POOLS.get(n)
        if pool is not None:
            return pool
        caller = torch.get_num_threads()
        pool = ThreadPoolExecutor(n, thread_name_prefix="ghvae-step")
        barrier = threading.Barrier(n)

        def init() -> None:
            torch.set_num_threads(1)
            barrier.wait()  # n tasks held at once: every pool thread runs this once

        for f in [pool.submit(init) for _ in range(n)]:
            f.result()
        torch.set_num_threads(caller)  # set_num_threads also writes a process-wide default
        _POOLS[n] = pool
        return pool


def _chunk_bounds(batch: int, workers: int) -> list[tuple[int, int]]:
    """(start, size) of the chunks of a batch: at most ``STEP_CHUNK`` rows each; with more
    than one worker, a multiple of ``workers`` chunks of near-equal size (B=200 on 2: 4 x 50)."""
    n = math.ceil(batch / STEP_CHUNK)
    if workers > 1:
        n = math.ceil(max(n, workers) / workers) * workers
    return even_bounds(batch, min(n, batch))


def even_bounds(batch: int, parts: int) -> list[tuple[int, int]]:
    """(start, size) of ``parts`` consecutive slices of a batch whose sizes differ by at most
    one (10 in 4: 3, 3, 2, 2); also the trainer's split training step."""
    size, extra = divmod(batch, parts)
    bounds, start = [], 0
    for i in range(parts):
        rows = size + (i < extra)
        bounds.append((start, rows))
        start += rows
    return bounds


def _rows(x: torch.Tensor | None, i: int, n: int) -> torch.Tensor | None:
    return None if x is None else x[i : i + n]


class Encoder(nn.Module):
    """encoder_k: h^{k-1} (B x C_in x 2H x 2W) -> h^k (B x C_H^k x H x W)."""

    def __init__(self, cin: int, cout: int, res_blocks: int, kernel: int) -> None:
        super().__init__()
        self.down = conv_block(cin, cout, kernel=4, stride=2)
        self.res = nn.Sequential(*[ResBlock(cout, kernel) for _ in range(res_blocks)])

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.res(self.down(h))


class Decoder(nn.Module):
    """decoder_k: (h^k_t: B x C_H^k x H x W, u^k: B x C_U^k x H x W) -> B x C_out x 2H x 2W.

    ``C_out`` is 3 for decoder_1 (the next image) and C_U^{k-1} for k > 1, so that
    decoder_k can replace the top-level input of decoder_{k-1} (DESIGN.md). C_U^k is C_Z^k
    (``config.handoff == "latent"``: u^k has z^k's shape) or C_H^k ("hidden": the seed's
    decoder "predicts h^k_{t+1}"; the top module lifts z^k to C_H^k). The skip input
    h^k_t lets the decoder "borrow information from the past" (section 3). With
    ``pixel_skip``, decoder_1 borrows from the past at level 0 too: it emits RGB and a mask
    m and predicts x_{t+1} = m * x_t + (1 - m) * rgb, so static background need not squeeze
    through h^1 (our choice; the seed is silent on decoder internals).
    """

    def __init__(
        self,
        c_h: int,
        c_z: int,
        c_up: int,
        c_out: int,
        res_blocks: int,
        kernel: int,
        image: bool,
        pixel_skip: bool,
        action_dim: int = 0,
        pixel_shuffle: bool = False,
    ) -> None:
        super().__init__()
        self.image = image
        self.pixel_skip = image and pixel_skip
        self.action_dim = action_dim  # > 0: a_t tiled is a decoder input (config.action_to_decoder)
        # pixel_shuffle: up and out run at H x W, out emits 4 x its channels, shuffled to 2H x 2W
        self.shuffle = 2 if pixel_shuffle else 1
        self.inp = conv_block(c_h + c_z + action_dim, c_h, kernel)
        self.res = nn.Sequential(*[ResBlock(c_h, kernel) for _ in range(res_blocks)])
        self.up = conv_block(c_h, c_up, kernel)
        n_out = (c_out + int(self.pixel_skip)) * self.shuffle**2
        self.out = nn.Conv2d(c_up, n_out, kernel, padding=kernel // 2)
        if self.pixel_skip:  # the mask's channel(s): one per pixel-shuffle phase
            init_copy_bias(self.out, self.shuffle**2)

    def forward(
        self,
        h: torch.Tensor,
        u: torch.Tensor,
        prev_frame: torch.Tensor | None = None,
        action: torch.Tensor | None = None,
    ) -> torch.Tensor:
        parts = [h, u]
        if self.action_dim:
            if action is None:
                raise ValueError("this decoder is action-conditioned: pass action (B x A)")
            parts.append(action[:, :, None, None].expand(-1, -1, h.shape[2], h.shape[3]))
        y = self.res(self.inp(cat_channels(parts)))
        if self.shuffle > 1:
            y = F.pixel_shuffle(self.out(self.up(y)), self.shuffle)
        else:
            y = self.out(upsample_conv_block(self.up, y))  # up(nearest 2x upsample of y), fused
        if not self.image:
            return y
        if self.pixel_skip and prev_frame is None:
            raise ValueError("decoder_1 with pixel_skip needs prev_frame (x_t)")
        return image_head(y, prev_frame if self.pixel_skip else None)


class Prior(nn.Module):
    """prior_k: ConvLSTM on [h^k_t, a_t tiled] -> mean, std of z^k_{t+1} (section 3, "Prior")."""

    def __init__(
        self, c_h: int, action_dim: int, c_lstm: int, c_z: int, kernel: int, min_std: float
    ) -> None:
        super().__init__()
        self.min_std = min_std
        self.inp = conv_block(c_h + action_dim, c_lstm, kernel)
        self.lstm = ConvLSTMCell(c_lstm, c_lstm, kernel)
        self.head = nn.Conv2d(c_lstm, 2 * c_z, kernel, padding=kernel // 2)

    def step(
        self, h: torch.Tensor, action: torch.Tensor | None, state: LSTMState | None
    ) -> tuple[torch.Tensor, torch.Tensor, LSTMState]:
        """h: B x C_H x H x W, action: B x A -> (mean, std): B x C_Z x H x W each, new state."""
        if action is not None and action.shape[1] > 0:
            tiled = action[:, :, None, None].expand(-1, -1, h.shape[2], h.shape[3])
            h = cat_channels([h, tiled])
        y, state = self.lstm(self.inp(h), state)
        mean, raw = self.head(y).chunk(2, dim=1)
        return mean, F.softplus(raw) + self.min_std, state

    def sequence(
        self, h: torch.Tensor, actions: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`step` over a teacher-forced clip from a zero state, batched where the
        recurrence allows (``inp``, the input half of the gates and ``head`` run once on all
        B*T frames). h: B x T x C_H x H x W, actions: B x T x A -> mean, std: B x T x C_Z x H x W.
        """
        B, T = h.shape[:2]
        x = h.transpose(0, 1).flatten(0, 1)  # (T*B, C_H, H, W), time-major: see _unroll
        if actions is not None and actions.shape[2] > 0:
            a = actions.transpose(0, 1).flatten(0, 1)[:, :, None, None]
            x = torch.cat([x, a.expand(-1, -1, x.shape[2], x.shape[3])], dim=1)
        xg = self.lstm.input_gates(self.inp(x))
        mean, raw = self.head(_unroll(self.lstm, xg, B)).chunk(2, dim=1)
        std = F.softplus(raw) + self.min_std
        return _batch_major(mean, T), _batch_major(std, T)


class Posterior(nn.Module):
    """posterior_k (train only): ConvLSTM on h^k_{t+1} -> mean of z^k_{t+1}.

    The std of q is the fixed ``config.posterior_std`` (seed, note under Eq. 2).
    """

    def __init__(self, c_h: int, c_lstm: int, c_z: int, kernel: int) -> None:
        super().__init__()
        self.inp = conv_block(c_h, c_lstm, kernel)
        self.lstm = ConvLSTMCell(c_lstm, c_lstm, kernel)
        self.head = nn.Conv2d(c_lstm, c_z, kernel, padding=kernel // 2)

    def step(self, h_next: torch.Tensor, state: LSTMState | None) -> tuple[torch.Tensor, LSTMState]:
        y, state = self.lstm(self.inp(h_next), state)
        return self.head(y), state

    def sequence(self, h_next: torch.Tensor) -> torch.Tensor:
        """:meth:`step` over a clip from a zero state, batched like :meth:`Prior.sequence`.
        h_next: B x T x C_H x H x W -> mean: B x T x C_Z x H x W."""
        B, T = h_next.shape[:2]
        x = h_next.transpose(0, 1).flatten(0, 1)  # (T*B, C_H, H, W)
        return _batch_major(self.head(_unroll(self.lstm, self.lstm.input_gates(self.inp(x)), B)), T)


def _unroll(lstm: ConvLSTMCell, x_gates: torch.Tensor, batch: int) -> torch.Tensor:
    """Run ``lstm`` over precomputed input gates (T*B) x 4C x H x W (time-major: row t*B + b)
    from a zero state; returns the outputs h_1..h_T as (T*B) x C x H x W, time-major.

    Time-major keeps every per-step slice a contiguous channels-last block, and split / cat
    (whose backward is cat / split) move no gradient through a zero-filled full-size buffer
    or a 5-d layout change (indexing x_gates[:, t] did: half of a training step)."""
    state, ys = None, []
    for xg in x_gates.split(batch, dim=0):
        y, state = lstm(None, state, x_gates=xg)
        ys.append(y)
    return torch.cat(ys, dim=0)


def _batch_major(y: torch.Tensor, T: int) -> torch.Tensor:
    """(T*B) x ... time-major -> B x T x ... (a view)."""
    return y.unflatten(0, (T, -1)).transpose(0, 1)


class GHVAEModule(nn.Module):
    """Module k: encoder, decoder, prior, posterior (seed Fig. 2)."""

    def __init__(self, config: GHVAEConfig, k: int) -> None:
        super().__init__()
        c = config
        i = k - 1
        cin = c.image_channels if k == 1 else c.hidden_channels[i - 1]
        c_h, c_z, c_lstm = c.hidden_channels[i], c.latent_channels[i], c.lstm_channels[i]
        # decoder_1 upsamples into a half-width full-resolution map before the RGB conv;
        # decoder_k (k > 1) upsamples into C_H^{k-1}, mirroring the encoder.
        c_up = max(c.hidden_channels[0] // 2, 8) if k == 1 else c.hidden_channels[i - 1]
        # config.handoff: decoder_k reads u^k of z^k's width ("latent") or of h^k's ("hidden"),
        # and decoder_k (k > 1) emits u^{k-1} of the same kind one level down.
        hidden = c.handoff == "hidden"
        c_u = c_h if hidden else c_z
        if k == 1:
            c_out = c.image_channels
        else:
            c_out = c.hidden_channels[i - 1] if hidden else c.latent_channels[i - 1]
        self.k = k
        self.encoder = Encoder(cin, c_h, c.res_blocks, c.kernel_size)
        # "hidden": z^k -> C_H^k, the decoder's input while module k is the top module
        self.lift = nn.Conv2d(c_z, c_h, 1) if hidden else None
        self.decoder = Decoder(
            c_h,
            c_u,
            c_up,
            c_out,
            c.res_blocks,
            c.kernel_size,
            image=(k == 1),
            pixel_skip=c.pixel_skip,
            action_dim=c.action_dim if c.action_to_decoder else 0,
            pixel_shuffle=c.pixel_shuffle_exit and k == 1,
        )
        self.prior = Prior(c_h, c.action_dim, c_lstm, c_z, c.kernel_size, c.min_prior_std)
        self.posterior = Posterior(c_h, c_lstm, c_z, c.kernel_size)


@dataclass
class RolloutState:
    """What one imagined step needs from the past: no history is re-run.

    hiddens: h^1_t .. h^K_t of the current frame, each B x C_H^k x H^k x W^k.
    prior: the ConvLSTM state of prior_K after consuming (h^K_t-1, a_t-1) and earlier.
    frame: the current frame x_t, B x 3 x 64 x 64 in [0, 1].
    anchor: the last real context frame, what decoder_1's pixel skip composites with when
    the config's ``skip_frame`` is "context"; None: the skip uses ``frame``.
    """

    hiddens: list[torch.Tensor]
    prior: LSTMState | None
    frame: torch.Tensor
    anchor: torch.Tensor | None = None

    def index(self, idx: torch.Tensor | slice | list[int]) -> RolloutState:
        """The state of a subset of the batch."""
        prior = None if self.prior is None else (self.prior[0][idx], self.prior[1][idx])
        anchor = None if self.anchor is None else self.anchor[idx]
        return RolloutState([h[idx] for h in self.hiddens], prior, self.frame[idx], anchor)

    def assign(self, idx: torch.Tensor, other: RolloutState) -> None:
        """Overwrite batch entries ``idx`` with ``other`` (used by vector-env resets).

        Checked before anything is written: a refused assign leaves this state as it was.
        """
        if self.prior is None or other.prior is None:
            raise ValueError("RolloutState.assign needs both states to have a prior LSTM state")
        if len(self.hiddens) != len(other.hiddens):
            raise ValueError(
                f"RolloutState.assign: {len(other.hiddens)} hidden levels into "
                f"{len(self.hiddens)}, expected equal"
            )
        if (self.anchor is None) != (other.anchor is None):
            raise ValueError(
                "RolloutState.assign needs both states to have an anchor frame or neither"
            )
        for h, o in zip(self.hiddens, other.hiddens, strict=True):
            h[idx] = o
        self.frame[idx] = other.frame
        if self.anchor is not None:
            self.anchor[idx] = other.anchor
        self.prior[0][idx] = other.prior[0]
        self.prior[1][idx] = other.prior[1]


class GHVAE(nn.Module):
    """A K-module Greedy Hierarchical VAE for action-conditioned video prediction.

    Training: :meth:`loss` computes the stage-k objective (Eq. 1-2) with modules < k frozen
    by the trainer. Inference: :meth:`rollout` (whole clips) or :meth:`start` + :meth:`step`
    (one frame at a time, what the env uses). Frames are float B x ... x 3 x 64 x 64 in [0, 1].
    """

    model_type = "ghvae"
    config_class = GHVAEConfig
    # step's chunks side by side on pool threads when torch has >= 2 threads (False: one
    # chunk at a time on all of them; benchmarks/speed.py measures both)
    parallel_chunks = True

    def __init__(self, config: GHVAEConfig) -> None:
        super().__init__()
        self.config = config
        self.blocks = nn.ModuleList(
            [GHVAEModule(config, k) for k in range(1, config.num_modules + 1)]
        )

    @property
    def num_modules(self) -> int:
        return len(self.blocks)

    def truncated(self, k: int) -> GHVAE:
        """The k-module GHVAE made of modules 1..k, sharing (not copying) their weights.

        After greedy stage k of a K-module run this is the model that stage trained: its
        test-time latent is z^k from prior_k (modules above k are still untrained).
        """
        if not 1 <= k <= self.num_modules:
            raise ValueError(f"k must be in [1, {self.num_modules}], actual value: {k}")
        if k == self.num_modules:
            return self
        sub = GHVAE.__new__(GHVAE)
        nn.Module.__init__(sub)
        sub.config = self.config.with_modules(k)
        sub.blocks = nn.ModuleList(list(self.blocks[:k]))
        return sub

    # ------------------------------------------------------------------ shared pieces
    def encode(
        self, x: torch.Tensor, upto: int | None = None, no_grad_below: int = 0
    ) -> list[torch.Tensor]:
        """x: N x 3 x 64 x 64 -> [h^1, .., h^upto]; encoders k < no_grad_below run under no_grad."""
        hs, h = [], x
        for k in range(1, (upto or self.num_modules) + 1):
            ctx = torch.no_grad() if k < no_grad_below else contextlib.nullcontext()
            with ctx:
                h = self.blocks[k - 1].encoder(h)
            hs.append(h)
        return hs

    def decode(
        self,
        hiddens: list[torch.Tensor],
        z: torch.Tensor,
        prev_frame: torch.Tensor,
        action: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(x_t, h^1_t..h^k_t, z^k_{t+1}[, a_t]) -> x_{t+1} through decoders k..1 (DESIGN.md)."""
        top = self.blocks[len(hiddens) - 1]
        u = z if top.lift is None else top.lift(z)  # config.handoff
        for k in range(len(hiddens), 1, -1):
            u = self.blocks[k - 1].decoder(hiddens[k - 1], u, action=action)
        return self.blocks[0].decoder(hiddens[0], u, prev_frame, action=action)

    def _prior_step(self, k: int, h: torch.Tensor, a: torch.Tensor | None, state: LSTMState | None):
        if self.config.learned_prior:
            return self.blocks[k - 1].prior.step(h, a, state)
        c_z = self.config.latent_channels[k - 1]  # uniform prior N(0, I) (seed Table 6 ablation)
        zeros = h.new_zeros(h.shape[0], c_z, h.shape[2], h.shape[3])
        return zeros, torch.ones_like(zeros), state

    # ------------------------------------------------------------------ training
    def loss(
        self,
        frames: torch.Tensor,
        actions: torch.Tensor,
        stage: int | None = None,
        frozen_below: int | None = None,
        generator: torch.Generator | None = None,
        beta: float | None = None,
        free_running: bool = False,
        context: int | None = None,
    ) -> dict[str, torch.Tensor]:
        """Stage-k negative ELBO (seed Eq. 1-2) over a clip, teacher-forced by default.

        frames: B x T x 3 x 64 x 64 in [0, 1]; actions: B x (T-1) x A.
        stage: k, the module whose latent is used (default K). frozen_below: encoders of
        modules < this run under no_grad (the trainer freezes their parameters); default
        ``stage`` (greedy), 1 for end-to-end. beta: KL weight for this call (default
        ``config.beta``; the trainer ramps it up during KL warm-up).
        free_running: after the first ``context`` frames (default ``config.context_frames``)
        the model steps from its own predictions, as in a rollout: each predicted frame is
        re-encoded into the skips, the pixel skip and prior_k's input, and gradients flow back
        through it; z still comes from the posterior of the real next frame (issue 13).
        With ``config.skip_frame == "context"`` the pixel skip of every frame after the context
        composites with real frame ``context - 1``.
        Returns loss, mse, kl (per frame, summed over latent dims), psnr, pred (B x T-1 x ...).
        """
        k = stage or self.num_modules
        frozen_below = k if frozen_below is None else frozen_below
        cfg = self.config
        B, T = frames.shape[:2]
        if T < 2:
            raise ValueError(
                f"frames must hold at least 2 time steps, actual shape: {tuple(frames.shape)}"
            )
        c = cfg.context_frames if context is None else context
        if not 1 <= c < T:
            raise ValueError(f"context must be in [1, {T - 1}] for {T} frames, actual value: {c}")
        hs = self.encode(frames.flatten(0, 1), upto=k, no_grad_below=frozen_below)
        hs = [h.unflatten(0, (B, T)) for h in hs]  # each (B, T, C_H, H, W)
        hk = hs[k - 1]
        block = self.blocks[k - 1]

        # posterior over h^k_{1..T-1}, prior over (h^k_{0..T-2}, a_{0..T-2}); recurrent in t.
        mu_q_t = block.posterior.sequence(hk[:, 1:])  # (B, T-1, C_Z, H, W)
        if cfg.learned_prior:
            mu_p_t, std_p_t = block.prior.sequence(hk[:, :-1], actions[:, : T - 1])
        else:  # uniform prior N(0, I) (seed Table 6 ablation)
            mu_p_t = torch.zeros_like(mu_q_t)
            std_p_t = torch.ones_like(mu_q_t)
        eps = torch.randn(
            mu_q_t.shape, generator=generator, device=mu_q_t.device, dtype=mu_q_t.dtype
        )
        z = mu_q_t + cfg.posterior_std * eps
        # the frame decoder_1 composites with when predicting x_{t+1}, t = 0..T-2
        skip_frames = frames[:, :-1]
        if cfg.skip_frame == "context":
            last_real = torch.arange(T - 1, device=frames.device).clamp(max=c - 1)
            skip_frames = frames[:, last_real]

        if free_running:
            pred, mu_p_t, std_p_t = self._free_running(
                hs, frames, actions, z, k, frozen_below, c, skip_frames
            )
        else:
            skips = [h[:, :-1].flatten(0, 1) for h in hs]  # h^j_t for t = 0..T-2
            pred = self.decode(
                skips, z.flatten(0, 1), skip_frames.flatten(0, 1), actions.flatten(0, 1)
            ).unflatten(0, (B, T - 1))  # (B, T-1, 3, 64, 64)

        def _kl(mq, mp, sp):  # per frame: summed over latent dims, mean over (B, T-1)
            return gaussian_kl(mq, cfg.posterior_std, mp, sp).sum(dim=(2, 3, 4)).mean()

        # KL balancing (Hafner et al. 2021, see losses.video_vae_loss; seed Eq. 2)
        kl_post = _kl(mu_q_t, mu_p_t.detach(), std_p_t.detach())
        kl_prior = _kl(mu_q_t.detach(), mu_p_t, std_p_t)
        b = cfg.beta if beta is None else beta
        return video_vae_loss(
            pred, frames[:, 1:], kl_post, kl_prior, beta=b, prior_kl_weight=cfg.prior_kl_weight
        )

    def _free_running(
        self,
        hs: list[torch.Tensor],
        frames: torch.Tensor,
        actions: torch.Tensor,
        z: torch.Tensor,
        k: int,
        frozen_below: int,
        c: int,
        skip_frames: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """:meth:`loss`'s free-running pass: steps t < c start from real frames, later steps
        from the model's own prediction (re-encoded, gradients kept). Returns pred
        (B x T-1 x 3 x 64 x 64) and prior_k's mean, std (B x T-1 x C_Z x H x W) along it."""
        T = frames.shape[1]
        context_anchor = self.config.skip_frame == "context"
        state, preds, means, stds = None, [], [], []
        for t in range(T - 1):
            if t < c:
                h_t, x_t = [h[:, t] for h in hs], frames[:, t]
            else:
                x_t = preds[-1]
                h_t = self.encode(x_t, upto=k, no_grad_below=frozen_below)
            a_t = actions[:, t]
            mean, std, state = self._prior_step(k, h_t[k - 1], a_t, state)
            skip = skip_frames[:, t] if context_anchor or t < c else x_t
            preds.append(self.decode(h_t, z[:, t], skip, a_t))
            means.append(mean)
            stds.append(std)
        return torch.stack(preds, 1), torch.stack(means, 1), torch.stack(stds, 1)

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def start(
        self, context_frames: torch.Tensor, context_actions: torch.Tensor | None = None
    ) -> RolloutState:
        """Consume the context: B x C x 3 x 64 x 64 frames and B x (C-1) x A actions.

        Encodes every context frame and runs prior_K over the C-1 context transitions so
        that its recurrent state has seen the past; returns the state at the last frame. The
        state is complete: with C = 1 its prior state is the zero state prior_K starts from.
        """
        check_context(self.config, context_frames, context_actions)
        B, C = context_frames.shape[:2]
        K = self.num_modules
        # inference runs channels-last (oneDNN convs without reorders: model.step 1.3-1.5x);
        # training stays NCHW, where GroupNorm's and the gates' elementwise backward ran
        # 2x slower channels-last and ate the convs' gain (greedy-1 step 0.58 vs 0.53 s)
        x = channels_last(context_frames.flatten(0, 1))
        hs = [h.unflatten(0, (B, C)) for h in self.encode(x)]
        state = None
        for t in range(C - 1):
            _, _, state = self._prior_step(K, hs[-1][:, t], context_actions[:, t], state)
        if state is None:  # what ConvLSTMCell uses for None: zeros of C_LSTM^K x H^K x W^K
            h = hs[-1][:, -1]
            shape = (B, self.config.lstm_channels[-1], h.shape[2], h.shape[3])
            zeros = channels_last(h.new_zeros(shape))  # the layout the prior runs in
            state = (zeros, zeros.clone())
        anchor = context_frames[:, -1] if self.config.skip_frame == "context" else None
        hiddens = [channels_last(h[:, -1]) for h in hs]  # dense: the last frame's rows
        return RolloutState(hiddens, state, context_frames[:, -1], anchor)

    @torch.no_grad()
    def step(
        self,
        state: RolloutState,
        action: torch.Tensor,
        generator: torch.Generator | None = None,
        sample: bool = True,
        temperature: float = 1.0,
    ) -> tuple[torch.Tensor, RolloutState]:
        """One imagined step: sample z^K_{t+1} ~ prior_K(h^K_t, a_t), decode x_{t+1}, re-encode it.

        action: B x A. Returns (x_{t+1}: B x 3 x 64 x 64, the new state). ``sample=False``
        uses the prior mean. ``temperature`` scales the sampled noise, z = mean + T std eps
        (the same eps whatever T: 0 gives the mean, 1 the prior as trained; RESULTS.md
        "Sampling temperature"). Batches over ``STEP_CHUNK`` run chunk by chunk, and with
        n >= 2 torch threads n chunks at a time on one thread each (same result either way).
        """
        temperature = check_temperature(temperature)
        h = state.hiddens[-1]
        eps = None
        if sample:  # drawn for the whole batch first: chunking does not change the samples
            shape = (h.shape[0], self.config.latent_channels[-1], h.shape[2], h.shape[3])
            eps = torch.randn(shape, generator=generator, device=h.device, dtype=h.dtype)
            if temperature != 1.0:
                eps.mul_(temperature)
            if is_channels_last(h):  # same values; z, the prior and decoders stay channels-last
                eps = channels_last(eps)
        B = h.shape[0]
        workers = torch.get_num_threads() if self.parallel_chunks else 1
        workers = max(1, min(workers, B // PARALLEL_MIN_ROWS))
        if B <= STEP_CHUNK and workers < 2:
            return self._step(state, action, eps)
        bounds = _chunk_bounds(B, workers)

        def chunk(i: int, n: int) -> tuple[torch.Tensor, RolloutState]:
            return self._step(state.index(slice(i, i + n)), action[i : i + n], _rows(eps, i, n))

        if workers > 1:
            pool = _chunk_pool(workers)
            grad, inference = torch.is_grad_enabled(), torch.is_inference_mode_enabled()

            def run(i: int, n: int) -> tuple[torch.Tensor, RolloutState]:
                # grad and inference mode are per thread: the caller's, in the pool thread
                with torch.inference_mode(inference), torch.set_grad_enabled(grad):
                    return chunk(i, n)

            parts = [f.result() for f in [pool.submit(run, i, n) for i, n in bounds]]
        else:
            parts = [chunk(i, n) for i, n in bounds]
        states = [s for _, s in parts]
        prior = None
        if states[0].prior is not None:
            prior = (
                torch.cat([s.prior[0] for s in states]),
                torch.cat([s.prior[1] for s in states]),
            )
        hiddens = [torch.cat([s.hiddens[k] for s in states]) for k in range(self.num_modules)]
        frame = torch.cat([f for f, _ in parts])
        return frame, RolloutState(hiddens, prior, frame, state.anchor)

    def _step(
        self, state: RolloutState, action: torch.Tensor, eps: torch.Tensor | None
    ) -> tuple[torch.Tensor, RolloutState]:
        """:meth:`step` on one chunk of the batch, with its noise ``eps`` (None: the mean)."""
        K = self.num_modules
        mean, std, prior = self._prior_step(K, state.hiddens[-1], action, state.prior)
        z = mean if eps is None else mean + std * eps
        skip = state.frame if state.anchor is None else state.anchor
        frame = self.decode(state.hiddens, z, skip, action)
        state = RolloutState(self.encode(channels_last(frame)), prior, frame, state.anchor)
        return frame.contiguous(), state

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
        """Predict H frames after C context frames.

        context_frames: B x C x 3 x 64 x 64 float in [0, 1] (C >= 1);
        actions: B x (C-1+H) x A (the C-1 context transitions, then H future actions).
        Returns B x H x 3 x 64 x 64, or B x N x H x 3 x 64 x 64 when num_samples = N > 1.
        ``temperature``: as in :meth:`step`.
        """
        return rollout_by_steps(
            self, context_frames, actions, num_samples, generator, sample, temperature
        )
