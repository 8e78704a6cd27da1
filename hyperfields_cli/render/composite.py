"""Volume rendering quadrature: densities and colours along rays -> pixel colour, depth, opacity."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor


class RenderOutput(NamedTuple):
    rgb: Tensor  # [S, R, 3] composited over the background
    depth: Tensor  # [S, R] expected ray depth (0 where empty)
    opacity: Tensor  # [S, R] accumulated alpha
    weights: Tensor | None = None  # [S, R, K] per-sample weights (training only)


def transmittance_weights(sigma: Tensor, deltas: Tensor) -> tuple[Tensor, Tensor]:
    """sigma [S, R, K], deltas [R, K] or [S, R, K] -> weights, transmittance [S, R, K].

    alpha_k = 1 - exp(-sigma_k delta_k); T_k = prod_{j<k} (1 - alpha_j); w_k = alpha_k T_k.
    T is computed as exp(-cumsum) so the gradient stays well-behaved for opaque samples.
    """
    tau = sigma * deltas  # optical depth per sample
    alpha = 1.0 - torch.exp(-tau)
    cum = torch.cumsum(tau, dim=-1)
    trans = torch.exp(-(cum - tau))  # exclusive prefix
    return alpha * trans, trans


def composite(
    sigma: Tensor,
    rgb: Tensor,
    t: Tensor,
    deltas: Tensor,
    background: Tensor,
    keep_weights: bool = False,
) -> RenderOutput:
    """Alpha-composite samples front to back.

    sigma [S, R, K], rgb [S, R, K, 3], t/deltas [R, K] (or [S, R, K]), background [S, R, 3].
    """
    weights, _ = transmittance_weights(sigma, deltas)
    opacity = weights.sum(dim=-1)  # [S, R]
    color = torch.einsum("srk,srkc->src", weights, rgb)
    color = color + (1.0 - opacity)[..., None] * background
    depth = (weights * t).sum(dim=-1)
    return RenderOutput(color, depth, opacity, weights if keep_weights else None)


def opacity_entropy(weights_sum: Tensor, eps: float = 1e-5) -> Tensor:
    """Binary entropy of per-ray opacity (pushes rays to be fully empty or fully opaque)."""
    a = weights_sum.clamp(eps, 1.0 - eps)
    return -(a * torch.log(a) + (1.0 - a) * torch.log(1.0 - a)).mean()
