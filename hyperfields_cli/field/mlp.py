"""The per-scene NeRF MLP as a pure function of weights handed in from outside.

Weights arrive batched over scenes ([S, out, in]) from the hypernetwork, so S scenes run as
batched matmuls. Wiring (paper): layer 0 sees [grid ; cond]; hidden layers see
[h ; cond ; grid] with a residual skip; the last layer maps [h ; cond ; grid] to 4 outputs
(density logit + 3 colour logits) or, with colour_model "albedo_shade", 5 (+ a shading
factor: rgb = albedo * shade, so a material's albedo can be taught apart from the light its
shape catches). No biases.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
from pydantic import BaseModel, Field, model_validator
from torch import Tensor

from hyperfields_cli.field.activations import density_blob, trunc_exp
from hyperfields_cli.field.scene_linear import scene_linear

ColourModel = Literal["rgb", "albedo_shade"]

SHADE_MAX = 1.25
"""Largest shading factor of "albedo_shade" (the world's lambertian shade reaches 1.04)."""


class SceneMLPConfig(BaseModel):
    depth: int = Field(6, ge=2, description="number of weight layers, output layer included")
    width: int = Field(64, ge=8)
    cond_dim: int = Field(64, ge=0, description="text-conditioning vector fed to every layer")
    grid_dim: int = Field(32, ge=1, description="grid feature size (levels x features)")
    colour_model: ColourModel = Field(
        "rgb", description="rgb: 3 colour logits; albedo_shade: 3 albedo logits + a shade logit"
    )
    out_dim: int = Field(4, description="set from colour_model: 4 (rgb) or 5 (albedo_shade)")
    blob_amplitude: float = 5.0
    blob_std: float = 0.2

    @model_validator(mode="after")
    def _outputs_of_colour_model(self) -> SceneMLPConfig:
        self.out_dim = 5 if self.colour_model == "albedo_shade" else 4
        return self

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
    """raw [S, N, out_dim], points [S, N, 3] -> sigma [S, N] (blob prior, trunc exp),
    rgb [S, N, 3] (albedo_shade: albedo * shade, not clamped, so an overshoot keeps its
    gradient)."""
    blob = density_blob(points, cfg.blob_amplitude, cfg.blob_std)
    sigma = trunc_exp(raw[..., 0] + blob)
    rgb = decode_albedo(raw)
    if cfg.colour_model == "albedo_shade":
        rgb = rgb * (SHADE_MAX * torch.sigmoid(raw[..., 4:5]))  # [S, N, 3] * [S, N, 1]
    return sigma, rgb


def decode_albedo(raw: Tensor) -> Tensor:
    """raw [S, N, out_dim] -> the colour logits' sigmoid [S, N, 3] (the albedo, when shaded)."""
    return torch.sigmoid(raw[..., 1:4])
