"""The per-scene NeRF MLP as a pure function of weights handed in from outside.

Weights arrive batched over scenes ([S, out, in]) from the hypernetwork, so S scenes run as
batched matmuls. Wiring (paper): layer 0 sees [grid ; cond]; hidden layers see
[h ; cond ; grid] with a residual skip; the last layer maps [h ; cond ; grid] to 4 outputs
(density logit + 3 albedo logits). No biases.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from pydantic import BaseModel, Field
from torch import Tensor

from hyperfields_cli.field.activations import density_blob, trunc_exp
from hyperfields_cli.field.scene_linear import scene_linear


class SceneMLPConfig(BaseModel):
    depth: int = Field(6, ge=2, description="number of weight layers, output layer included")
    width: int = Field(64, ge=8)
    cond_dim: int = Field(64, ge=0, description="text-conditioning vector fed to every layer")
    grid_dim: int = Field(32, ge=1, description="grid feature size (levels x features)")
    out_dim: int = 4
    blob_amplitude: float = 5.0
    blob_std: float = 0.2

    def layer_shapes(self) -> list[tuple[int, int]]:
        """(out, in) of each layer, in order."""
        first = (self.width, self.grid_dim + self.cond_dim)
        hidden = (self.width, self.width + self.cond_dim + self.grid_dim)
        last = (self.out_dim, self.width + self.cond_dim + self.grid_dim)
        return [first] + [hidden] * (self.depth - 2) + [last]


class LayerState(NamedTuple):
    h: Tensor  # [S, N, width] post-activation hidden state
    pre: Tensor  # [S, N, out] this layer's pre-activation output


def layer_input(
    cfg: SceneMLPConfig, i: int, h: Tensor | None, grid: Tensor, cond: Tensor
) -> Tensor:
    """What layer i multiplies: grid [S, N, G], cond [S, C], h [S, N, W] -> [S, N, in_i]."""
    cond_n = cond[:, None, :].expand(-1, grid.shape[1], -1)
    if i == 0:
        return torch.cat([grid, cond_n], dim=-1)
    assert h is not None
    return torch.cat([h, cond_n, grid], dim=-1)


def apply_layer(cfg: SceneMLPConfig, i: int, h: Tensor | None, x: Tensor, w: Tensor) -> LayerState:
    """x [S, N, in] @ w [S, out, in]^T -> new hidden state (residual on hidden layers)."""
    pre = scene_linear(x, w)  # [S, N, out]
    if i == cfg.depth - 1:
        return LayerState(pre, pre)
    act = torch.relu(pre)
    return LayerState(act if h is None else h + act, pre)


def scene_mlp(cfg: SceneMLPConfig, weights: list[Tensor], grid: Tensor, cond: Tensor) -> Tensor:
    """Run all layers with fixed weights -> raw outputs [S, N, out_dim]."""
    h: Tensor | None = None
    for i, w in enumerate(weights):
        x = layer_input(cfg, i, h, grid, cond)
        h = apply_layer(cfg, i, h, x, w).h
    assert h is not None
    return h


def decode_outputs(cfg: SceneMLPConfig, raw: Tensor, points: Tensor) -> tuple[Tensor, Tensor]:
    """raw [S, N, 4], points [S, N, 3] -> sigma [S, N] (blob prior, trunc exp), rgb [S, N, 3]."""
    blob = density_blob(points, cfg.blob_amplitude, cfg.blob_std)
    sigma = trunc_exp(raw[..., 0] + blob)
    rgb = torch.sigmoid(raw[..., 1:4])
    return sigma, rgb
