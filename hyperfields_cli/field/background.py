"""Background colour as a small MLP of the ray direction, shared by all scenes."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class BackgroundMLP(nn.Module):
    """dirs [..., 3] -> rgb [..., 3]. Low-frequency direction encoding keeps it smooth.

    `init_color` sets the starting colour (white matches the procedural world's background).
    """

    def __init__(self, hidden: int = 32, frequencies: int = 4, init_color: float = 1.0) -> None:
        super().__init__()
        self.frequencies = frequencies
        in_dim = 3 + 6 * frequencies
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, 3))
        with torch.no_grad():
            self.net[-1].weight.mul_(0.01)
            c = min(max(init_color, 1e-3), 1 - 1e-3)
            self.net[-1].bias.fill_(math.log(c / (1 - c)) if 0 < init_color < 1 else 4.0)

    def forward(self, dirs: Tensor) -> Tensor:
        freqs = 2.0 ** torch.arange(self.frequencies, device=dirs.device, dtype=dirs.dtype)
        ang = dirs[..., None, :] * freqs[:, None]  # [..., F, 3]
        enc = torch.cat([dirs, ang.sin().flatten(-2), ang.cos().flatten(-2)], dim=-1)
        return torch.sigmoid(self.net(enc))
