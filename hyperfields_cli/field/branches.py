"""Split the scene MLP into a density branch and a colour branch by zeroing weight blocks.

The field stays one MLP (same layer shapes, same renderer and kernels); only which inputs
each unit may read changes. Hidden units [0, d) and cond entries [0, c) form the density
branch, the rest the colour branch:

- density units and the density output read the grid, the density cond and density units;
- colour units and the rgb outputs read the grid, the colour cond, colour units *and*
  density units (the geometry features shading needs), never the density cond;
- the shade output of colour_model "albedo_shade" belongs to the density branch: how much
  light a point catches is a matter of the shape, so a material word cannot change it.

So nothing a prompt puts into the colour branch can change the shape, which lets a
hypernetwork route shape words and material words to different weights (arch "routed").
"""

from __future__ import annotations

import torch
from torch import Tensor

from hyperfields_cli.field.mlp import SceneMLPConfig


def split_sizes(total: int, fraction: float) -> int:
    """How many of `total` slots go to the density branch (at least 1, at most total - 1)."""
    if total < 2:
        raise ValueError(f"cannot split {total} slot(s) into two branches")
    return min(total - 1, max(1, round(total * fraction)))


def colour_rows(cfg: SceneMLPConfig, i: int, density_units: int) -> Tensor:
    """[out_i] bool: which output rows of layer i belong to the colour branch."""
    if i == cfg.depth - 1:  # output layer: rows 1-3 are colour; density (+ shade, row 4) not
        rows = torch.arange(cfg.out_dim)
        return (rows >= 1) & (rows <= 3)
    return torch.arange(cfg.width) >= density_units


def branch_masks(cfg: SceneMLPConfig, density_units: int, density_cond: int) -> list[Tensor]:
    """0/1 masks [out_i, in_i], one per layer, that wire the two branches (module doc)."""
    w, c, g = cfg.width, cfg.cond_dim, cfg.grid_dim
    h_density = torch.arange(w) < density_units  # [W]
    c_density = torch.arange(c) < density_cond  # [C]
    masks = []
    for i, (out, _) in enumerate(cfg.layer_shapes()):
        rows_c = colour_rows(cfg, i, density_units)[:, None]  # [out, 1]
        cond_ok = torch.where(rows_c, ~c_density[None], c_density[None])  # [out, C]
        grid_ok = torch.ones(out, g, dtype=torch.bool)  # [out, G]
        if i == 0:  # input [grid ; cond]
            parts = [grid_ok, cond_ok]
        else:  # input [h ; cond ; grid]
            h_ok = rows_c | h_density[None]  # [out, W]: colour reads all, density its own
            parts = [h_ok, cond_ok, grid_ok]
        masks.append(torch.cat(parts, dim=1).float())
    return masks
