"""Compositional weight generation: every token proposes its own modulation, and each MLP
branch takes an attention-weighted sum of the proposals.

Why: with the dynamic arch (transformer + probe feedback) a prompt's weights are one entangled
function of all its words, and shape/material pairs never seen together come out worse than
training pairs (issue #6; `benchmarks/zero_shot_testbed.py`). Here a word's proposal does not
depend on the other words, so "checkered" proposes the same modulation on a vase as on the
bowl it was trained on:

    Delta_i(t) = head_i(x_t) - 1                       x_t = in_proj(token t)   [dim]
    additive:  M_i = 1 + mean_t Delta_i(t)
    routed:    M_i[row] = 1 + sum_t alpha_{b(row), t} Delta_i(t)[row]
               alpha_b = softmax_t(q_b . k(LN(x_t)))   b = density | colour branch

With "routed" the scene MLP is also split into a density and a colour branch
(`field/branches.py`), and the cond vector is [cond_density ; cond_colour], each from its
branch's pooled tokens: the queries start at zero (uniform weights = "additive") and can learn
to send shape words to the density branch and material words to the colour branch.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class TokenRouter(nn.Module):
    """x [B, T, dim], mask [B, T] -> alpha [B, K, T] (per-branch weights over valid tokens)."""

    def __init__(self, dim: int, branches: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.key = nn.Linear(dim, dim, bias=False)
        self.query = nn.Parameter(torch.zeros(branches, dim))  # zero: uniform at init

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        k = self.key(self.norm(x))  # [B, T, dim]
        logits = torch.einsum("kd,btd->bkt", self.query, k) / math.sqrt(k.shape[-1])
        logits = logits.masked_fill(~mask[:, None, :], float("-inf"))  # [B, K, T]
        return torch.softmax(logits, dim=-1)


def uniform_weights(mask: Tensor) -> Tensor:
    """mask [B, T] -> alpha [B, 1, T]: the mean over valid tokens."""
    m = mask.float()  # callers cast alpha to their dtype
    return (m / m.sum(-1, keepdim=True))[:, None, :]


def pooled_cond(cond_proj: nn.Linear, x: Tensor, alpha: Tensor, density_cond: int) -> Tensor:
    """cond [B, C]: one branch = normalize(cond_proj(pooled x)); two = each part normalised
    and scaled so the whole vector has unit norm."""
    pooled = torch.einsum("bkt,btd->bkd", alpha.to(x.dtype), x)  # [B, K, dim]
    proj = cond_proj(pooled)  # [B, K, C]
    if alpha.shape[1] == 1:
        return F.normalize(proj[:, 0], dim=-1)
    c = proj.shape[-1]
    dens = F.normalize(proj[:, 0, :density_cond], dim=-1) * math.sqrt(density_cond / c)
    col = F.normalize(proj[:, 1, density_cond:], dim=-1) * math.sqrt((c - density_cond) / c)
    return torch.cat([dens, col], dim=-1)


def token_modulation(
    head: nn.Module, x: Tensor, alpha: Tensor, rows_colour: Tensor | None
) -> Tensor:
    """Per-token proposals of one layer, mixed per branch -> M [B, out, in].

    head: ModulationHead (x [N, dim] -> 1 + Delta [N, out, in]); x [B, T, dim];
    alpha [B, K, T]; rows_colour [out] bool (K = 2) or None (K = 1).
    """
    b, t, _ = x.shape
    delta = head(x.reshape(b * t, -1)) - 1.0  # [B*T, out, in]
    delta = delta.view(b, t, *delta.shape[1:])  # [B, T, out, in]
    mixed = torch.einsum("bkt,btoi->bkoi", alpha.to(delta.dtype), delta)  # [B, K, out, in]
    if rows_colour is None:
        return 1.0 + mixed[:, 0]
    return 1.0 + torch.where(rows_colour[None, :, None], mixed[:, 1], mixed[:, 0])
