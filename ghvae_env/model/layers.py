"""Building blocks: normalised convolutions, residual blocks, the ConvLSTM cell, and the
fast paths they run through on the CPU (issue 11): channels-last activations and a sub-pixel
form of "nearest 2x upsample, then 3x3 conv"."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "conv_block",
    "ResBlock",
    "ConvLSTMCell",
    "upsample_conv_block",
    "channels_last",
    "image_head",
    "init_copy_bias",
]


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """x (N x C x H x W) in channels-last memory order: oneDNN's convolutions and GroupNorm run
    without per-layer reorders (cpu-small model.step at B=64, one thread: 1.15x)."""
    return x.contiguous(memory_format=torch.channels_last)


def is_channels_last(x: torch.Tensor) -> bool:
    """x (N x C x H x W) keeps its channels innermost, as channels-last does, also when it is
    a slice of a bigger channels-last tensor (a context's last frame). C = 1 or H = W = 1 is
    plain contiguous too and counts as not."""
    if x.dim() != 4 or x.shape[1] == 1 or x.shape[2] * x.shape[3] == 1:
        return False
    c, w = x.shape[1], x.shape[3]
    return x.stride(1) == 1 and x.stride(3) == c and (x.shape[2] == 1 or x.stride(2) == w * c)


def cat_channels(parts: list[torch.Tensor]) -> torch.Tensor:
    """``torch.cat(parts, dim=1)`` in the memory order of ``parts[0]``. Plain ``cat`` falls
    back to NCHW when any part is not channels-last (an expanded action, an NCHW latent), and
    every convolution after it then ran oneDNN's NCHW path (issue 11; RESULTS.md "Speed":
    the bundled model's step at B=200 +5 to +14 % in 4 interleaved A/B pairs, cpu-fast
    within noise)."""
    grad = torch.is_grad_enabled() and any(p.requires_grad for p in parts)
    if grad or not is_channels_last(parts[0]) or all(is_channels_last(p) for p in parts[1:]):
        # cat(out=) has no autograd: training (free-running rollouts too) keeps plain cat
        return torch.cat(parts, dim=1)
    n, _, h, w = parts[0].shape
    c = sum(p.shape[1] for p in parts)
    x = parts[0]
    out = torch.empty(
        (n, c, h, w), dtype=x.dtype, device=x.device, memory_format=torch.channels_last
    )
    return torch.cat(parts, dim=1, out=out)


# nearest 2x upsampling folded into a 3x3 kernel: output row 2i+p sees input rows
# (i-1, i) for p = 0 and (i, i+1) for p = 1, with the 3 taps summed onto 2 (_FOLD[p] @ taps).
_FOLD = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]], [[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]])


def _upsample_conv3x3(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """``conv(interpolate(x, scale_factor=2, mode="nearest"))`` for a 3x3, stride-1, pad-1
    conv, computed as one 2x2 conv at the input's resolution with 4 phases of output channels
    (the same weights, 16/36 of the multiply-adds, no upsampled copy of x).

    x: B x Cin x H x W -> B x Cout x 2H x 2W; equal to the direct form up to float rounding.
    """
    w, b = conv.weight, conv.bias
    cout, cin = w.shape[:2]
    fold = _FOLD.to(dtype=w.dtype, device=w.device)
    # (py, px, Cout, Cin, 2, 2): phase (py, px) of output pixel (2i+py, 2j+px), phase-major so
    # that each phase is a contiguous run of channels in either memory order
    w2 = torch.einsum("pak,qbl,oikl->pqoiab", fold, fold, w).reshape(4 * cout, cin, 2, 2)
    b2 = None if b is None else b.repeat(4)
    y = F.conv2d(x, w2, b2, padding=1)  # (B, 4 Cout, H+1, W+1); phase p reads rows p..p+H-1
    B, _, H1, W1 = y.shape
    H, W = H1 - 1, W1 - 1
    if y.is_contiguous(memory_format=torch.channels_last):
        ym = y.permute(0, 2, 3, 1).unflatten(3, (2, 2, cout))  # (B, H+1, W+1, py, px, Cout)
        out = y.new_empty(B, H, 2, W, 2, cout)
        for py in (0, 1):
            for px in (0, 1):
                out[:, :, py, :, px] = ym[:, py : py + H, px : px + W, py, px]
        return out.view(B, 2 * H, 2 * W, cout).permute(0, 3, 1, 2)  # channels-last view
    y = y.unflatten(1, (2, 2, cout))  # (B, py, px, Cout, H+1, W+1)
    out = y.new_empty(B, cout, H, 2, W, 2)
    for py in (0, 1):
        for px in (0, 1):
            out[:, :, :, py, :, px] = y[:, py, px, :, py : py + H, px : px + W]
    return out.view(B, cout, 2 * H, 2 * W)


# the same folding into 3 taps (zero where a phase reads no row): all 4 phases then share
# one output grid, and a pixel shuffle interleaves them
_FOLD3 = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 1.0], [0.0, 0.0, 0.0]],
                       [[0.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]])  # fmt: skip


def _upsample_conv3x3_shuffled(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """:func:`_upsample_conv3x3` for training: one 3x3 conv with 4 x Cout channels at the
    input's resolution, then a pixel shuffle. As many multiply-adds as the direct form, but
    its backward is a pixel unshuffle: the 2x2 form's phase slicing zero-fills a full-size
    gradient per phase (cpu-small greedy-1 step: 13 ms of fills)."""
    w, b = conv.weight, conv.bias
    cout, cin = w.shape[:2]
    fold = _FOLD3.to(dtype=w.dtype, device=w.device)
    # (Cout, py, px, Cin, 3, 3): channel o*4 + py*2 + px, pixel_shuffle's order
    w3 = torch.einsum("pak,qbl,oikl->opqiab", fold, fold, w).reshape(4 * cout, cin, 3, 3)
    b3 = None if b is None else b.repeat_interleave(4)
    return F.pixel_shuffle(F.conv2d(x, w3, b3, padding=1), 2)


def upsample_conv_block(block: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """``block(interpolate(x, scale_factor=2, mode="nearest"))`` for a :func:`conv_block`.

    Uses the sub-pixel form for 3x3 stride-1 convs (decoder upsampling at every level:
    cpu-small's three ``up`` convs drop from 28 to 13 MFLOP per frame and the upsampled
    copy, 14% of ``model.step``, disappears); any other conv takes the direct path.
    """
    conv = block[0]
    if conv.kernel_size == (3, 3) and conv.stride == (1, 1) and conv.padding == (1, 1):
        grad = torch.is_grad_enabled() and (x.requires_grad or conv.weight.requires_grad)
        y = _upsample_conv3x3_shuffled(x, conv) if grad else _upsample_conv3x3(x, conv)
    else:
        y = conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
    for layer in list(block)[1:]:
        y = layer(y)
    return y


class SiLU(nn.SiLU):
    """``nn.SiLU`` that overwrites its input when autograd is off. Every use here activates
    a fresh tensor (a GroupNorm's output, a residual sum), and at inference the in-place
    form skips writing a second full-size activation (issue 11; measured in RESULTS.md
    "Speed": GroupNorm + SiLU on 200 x 32 x 32 x 32, one thread, 31 -> 15 ms)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() and x.requires_grad:
            return F.silu(x)
        return F.silu(x, inplace=True)


def _norm(channels: int) -> nn.GroupNorm:
    # GroupNorm, not BatchNorm: predictions must not depend on what else is in the batch
    # (an env with 1 or 256 parallel copies must decode the same frame).
    groups = 8 if channels % 8 == 0 else (4 if channels % 4 == 0 else 1)
    return nn.GroupNorm(groups, channels)


def conv_block(cin: int, cout: int, kernel: int = 3, stride: int = 1) -> nn.Sequential:
    """Conv -> GroupNorm -> SiLU. ``stride=2`` with kernel 4 halves H and W."""
    pad = (kernel - stride + 1) // 2 if stride > 1 else kernel // 2
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, pad), _norm(cout), SiLU())


class ResBlock(nn.Module):
    """x + conv(silu(norm(conv(x)))): keeps C x H x W."""

    def __init__(self, channels: int, kernel: int = 3) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv_block(channels, channels, kernel),
            nn.Conv2d(channels, channels, kernel, padding=kernel // 2),
            _norm(channels),
        )
        self.act = SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.body(x))


class ConvLSTMCell(nn.Module):
    """Convolutional LSTM (Shi et al. 2015): gates from one conv over [x, h].

    x: B x Cin x H x W; state (h, c): B x Chid x H x W each, or None for zeros.

    The gate conv is linear in its input, so conv([x, h]) = conv_x(x) + conv_h(h) with the
    weight split along input channels (same parameters, same state_dict). A caller that has x
    for every time step up front (teacher-forced training) computes :meth:`input_gates` for
    all steps in one batched conv and passes them as ``x_gates``; the recurrent conv_h is
    skipped while h is zero (the first step).
    """

    def __init__(self, cin: int, chid: int, kernel: int = 3) -> None:
        super().__init__()
        self.chid = chid
        self.cin = cin
        self.gates = nn.Conv2d(cin + chid, 4 * chid, kernel, padding=kernel // 2)
        with torch.no_grad():  # forget-gate bias 1: remember by default (Jozefowicz et al. 2015)
            self.gates.bias[chid : 2 * chid].fill_(1.0)

    def input_gates(self, x: torch.Tensor) -> torch.Tensor:
        """conv_x(x) + bias: N x Cin x H x W -> N x 4 Chid x H x W (any N, e.g. B*T)."""
        g = self.gates
        return F.conv2d(x, g.weight[:, : self.cin], g.bias, padding=g.padding)

    def forward(
        self,
        x: torch.Tensor | None,
        state: tuple[torch.Tensor, torch.Tensor] | None,
        x_gates: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        gates = self.input_gates(x) if x_gates is None else x_gates
        if state is not None:
            h, c = state
            g = self.gates
            gates = gates + F.conv2d(h, g.weight[:, self.cin :], None, padding=g.padding)
        n = self.chid  # gates are [i, f, o, g]: one sigmoid over i, f, o (fewer strided ops)
        # split, not slicing: split's backward is a cat in the gradients' own (channels-last)
        # layout; a slice's zero-fills a contiguous full-size buffer, which every conv
        # backward then converted back (cpu-small greedy-1: 60 ms of 600 per step)
        sig, g = gates.split([3 * n, n], dim=1)
        i, f, o = torch.sigmoid(sig).chunk(3, dim=1)
        c_new = i * torch.tanh(g)
        if state is not None:  # c = 0 at the first step: f * c vanishes
            c_new = f * c + c_new
        h = o * torch.tanh(c_new)
        return h, (h, c_new)


# ----------------------------------------------------------------------------- image head
def image_head(y: torch.Tensor, prev_frame: torch.Tensor | None) -> torch.Tensor:
    """The last decoder's exit, shared by the GHVAE's decoder_1 and SVG''s decoder.

    y: B x 3 x H x W logits -> sigmoid(y) when ``prev_frame`` is None; with ``prev_frame``
    (x_t, "pixel skip"), y is B x 4 x H x W (RGB and a mask m) and the next frame is
    ``m * x_t + (1 - m) * sigmoid(rgb)``: static background is copied, not re-synthesised.
    """
    if is_channels_last(y):
        # the exits come channels-last at inference; elementwise work on 4 strided channels
        # ran ~3x slower than on NCHW (image head at B=64: 3.6 vs 1.1 ms with the copy), and
        # cpu-fast's model.step at B=64-200, one thread, 1.07-1.15x faster (session 12 A/B)
        y = y.contiguous()
    if prev_frame is None:
        return torch.sigmoid(y)
    mask = torch.sigmoid(y[:, -1:])
    return mask * prev_frame + (1.0 - mask) * torch.sigmoid(y[:, :-1])


def init_copy_bias(conv: nn.Conv2d, mask_channels: int = 1) -> None:
    """Start the pixel-skip mask near 1 (bias 2, sigmoid 0.88): mostly copy x_t, the right
    answer for most pixels. The mask is the last ``mask_channels`` output channels."""
    with torch.no_grad():
        conv.bias[-mask_channels:].fill_(2.0)
