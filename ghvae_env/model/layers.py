"""Building blocks: normalised convolutions, residual blocks, the ConvLSTM cell."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["conv_block", "ResBlock", "ConvLSTMCell"]


def _norm(channels: int) -> nn.GroupNorm:
    # GroupNorm, not BatchNorm: predictions must not depend on what else is in the batch
    # (an env with 1 or 256 parallel copies must decode the same frame).
    groups = 8 if channels % 8 == 0 else (4 if channels % 4 == 0 else 1)
    return nn.GroupNorm(groups, channels)


def conv_block(cin: int, cout: int, kernel: int = 3, stride: int = 1) -> nn.Sequential:
    """Conv -> GroupNorm -> SiLU. ``stride=2`` with kernel 4 halves H and W."""
    pad = (kernel - stride + 1) // 2 if stride > 1 else kernel // 2
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, pad), _norm(cout), nn.SiLU())


class ResBlock(nn.Module):
    """x + conv(silu(norm(conv(x)))): keeps C x H x W."""

    def __init__(self, channels: int, kernel: int = 3) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv_block(channels, channels, kernel),
            nn.Conv2d(channels, channels, kernel, padding=kernel // 2),
            _norm(channels),
        )
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.body(x))


class ConvLSTMCell(nn.Module):
    """Convolutional LSTM (Shi et al. 2015): gates from one conv over [x, h].

    x: B x Cin x H x W; state (h, c): B x Chid x H x W each, or None for zeros.
    """

    def __init__(self, cin: int, chid: int, kernel: int = 3) -> None:
        super().__init__()
        self.chid = chid
        self.gates = nn.Conv2d(cin + chid, 4 * chid, kernel, padding=kernel // 2)
        with torch.no_grad():  # forget-gate bias 1: remember by default (Jozefowicz et al. 2015)
            self.gates.bias[chid : 2 * chid].fill_(1.0)

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        if state is None:
            zeros = x.new_zeros(x.shape[0], self.chid, x.shape[2], x.shape[3])
            state = (zeros, zeros)
        h, c = state
        i, f, o, g = self.gates(torch.cat([x, h], dim=1)).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, (h, c)
