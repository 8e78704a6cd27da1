"""Density activation and prior shared by every learned field."""

from __future__ import annotations

import torch
from torch import Tensor


class _TruncExp(torch.autograd.Function):
    """exp(x) whose backward clamps x at 15 so a runaway density cannot blow up gradients."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        return torch.exp(x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad * torch.exp(x.clamp(max=15.0))


def trunc_exp(x: Tensor) -> Tensor:
    return _TruncExp.apply(x)


def density_blob(points: Tensor, amplitude: float = 5.0, std: float = 0.2) -> Tensor:
    """Gaussian prior near the origin (paper: amplitude 5, std 0.2): points [..., 3] -> [...]."""
    return amplitude * torch.exp(-(points**2).sum(dim=-1) / (2.0 * std**2))
