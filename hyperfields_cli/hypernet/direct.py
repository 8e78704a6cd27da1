"""NeRFs whose MLP weights are learned directly (one set per scene): no hypernetwork.

Used to fit a scene from posed images, as the from-scratch baseline of finetune, and as
the capacity upper bound any hypernetwork over the same grid is measured against.
"""

from __future__ import annotations

import math

import torch
from pydantic import BaseModel, Field
from torch import nn

from hyperfields_cli.field.background import BackgroundMLP
from hyperfields_cli.field.grid import Backend, GridConfig, GridEncoding
from hyperfields_cli.field.mlp import SceneMLPConfig
from hyperfields_cli.field.scene_field import SceneField


class DirectNeRFConfig(BaseModel):
    num_scenes: int = Field(1, ge=1)
    grid: GridConfig = GridConfig()
    mlp: SceneMLPConfig = SceneMLPConfig()
    bound: float = 1.0


class DirectNeRF(nn.Module):
    """Per-scene weights [S, out, in] as parameters over one shared grid and background."""

    def __init__(self, cfg: DirectNeRFConfig, grid_backend: Backend = "auto") -> None:
        super().__init__()
        self.cfg = cfg
        mlp = cfg.mlp.model_copy(update={"grid_dim": cfg.grid.out_dim})
        self.mlp_cfg = mlp
        self.grid = GridEncoding(cfg.grid, cfg.bound, backend=grid_backend)
        self.weights = nn.ParameterList(
            nn.Parameter(torch.randn(cfg.num_scenes, o, i) * math.sqrt(2.0 / i))
            for o, i in mlp.layer_shapes()
        )
        self.cond = nn.Parameter(torch.zeros(cfg.num_scenes, mlp.cond_dim))
        self.background = BackgroundMLP()

    def field(self) -> SceneField:
        """The differentiable field of all scenes."""
        return SceneField(self.grid, self.mlp_cfg, list(self.weights), self.cond, self.background)
