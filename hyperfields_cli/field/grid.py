"""Multiresolution grid encoding shared by all scenes (the paper's field backbone).

The parameters live in one backend-neutral layout: a flat table [rows, F] with level `l`
occupying rows offsets[l]:offsets[l+1] (dense levels row-major x-fastest, hashed levels
indexed by the Instant-NGP spatial hash). Every backend (pure torch, torch.compile'd torch,
our CUDA kernels) reads this same table, so a checkpoint loads under any of them.
tinycudann is not used: its parameter layout and level resolutions differ from this table.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from pydantic import BaseModel, Field
from torch import Tensor, nn

from hyperfields_cli.field.grid_torch import grid_encode_torch_chunked

Backend = Literal["auto", "torch", "torch-compile", "cuda"]


class GridConfig(BaseModel):
    """Grid hyper-parameters (paper: 16 levels x 2 features, base 16, finest 2048, 2^19 rows)."""

    num_levels: int = Field(16, ge=1, le=32)
    features_per_level: int = Field(2, ge=1, le=8)
    base_resolution: int = Field(16, ge=2)
    finest_resolution: int = Field(2048, ge=2)
    log2_table_size: int = Field(19, ge=8, le=24)
    init_scale: float = 1e-4

    @property
    def out_dim(self) -> int:
        return self.num_levels * self.features_per_level


def level_layout(cfg: GridConfig) -> tuple[Tensor, Tensor, Tensor]:
    """Per-level resolutions [L], row offsets [L+1] and hashed flags [L]."""
    t = 2**cfg.log2_table_size
    if cfg.num_levels > 1:
        growth = math.exp(
            (math.log(cfg.finest_resolution) - math.log(cfg.base_resolution)) / (cfg.num_levels - 1)
        )
    else:
        growth = 1.0
    resolutions, offsets, hashed = [], [0], []
    for level in range(cfg.num_levels):
        res = int(math.floor(cfg.base_resolution * growth**level + 1e-6))
        dense_rows = (res + 1) ** 3
        is_hashed = dense_rows > t
        rows = t if is_hashed else int(math.ceil(dense_rows / 8) * 8)
        resolutions.append(res)
        hashed.append(is_hashed)
        offsets.append(offsets[-1] + rows)
    return (
        torch.tensor(resolutions, dtype=torch.int64),
        torch.tensor(offsets, dtype=torch.int64),
        torch.tensor(hashed, dtype=torch.bool),
    )


class GridEncoding(nn.Module):
    """points [N, 3] in [-bound, bound] -> features [N, L*F]; optional per-point L2 norm."""

    def __init__(
        self,
        cfg: GridConfig | None = None,
        bound: float = 1.0,
        backend: Backend = "auto",
        normalize: bool = True,
    ) -> None:
        super().__init__()
        self.cfg = cfg or GridConfig()
        self.bound = bound
        self.normalize = normalize
        resolutions, offsets, hashed = level_layout(self.cfg)
        self.register_buffer("resolutions", resolutions, persistent=False)
        self.register_buffer("offsets", offsets, persistent=False)
        self.register_buffer("hashed", hashed, persistent=False)
        rows = int(offsets[-1])
        table = torch.empty(rows, self.cfg.features_per_level).uniform_(
            -self.cfg.init_scale, self.cfg.init_scale
        )
        self.table = nn.Parameter(table)
        self.requested_backend: Backend = backend

    @property
    def out_dim(self) -> int:
        return self.cfg.out_dim

    def backend_for(self, device: torch.device) -> str:
        """The backend that will run on `device` ("auto" prefers our CUDA kernels)."""
        from hyperfields_cli.field import backends

        return backends.resolve(self.requested_backend, device)

    def encode_unit(self, x: Tensor) -> Tensor:
        """x [N, 3] already in [0, 1] -> raw (unnormalised) features [N, L*F]."""
        backend = self.backend_for(x.device)
        if backend == "torch":
            return grid_encode_torch_chunked(
                x,
                self.table,
                self.resolutions,
                self.offsets,
                self.hashed,
                2**self.cfg.log2_table_size,
            )
        from hyperfields_cli.field import backends

        return backends.encode(
            backend,
            x,
            self.table,
            self.resolutions,
            self.offsets,
            self.hashed,
            2**self.cfg.log2_table_size,
        )

    def forward(self, points: Tensor) -> Tensor:
        shape = points.shape[:-1]
        x = ((points.reshape(-1, 3) + self.bound) / (2.0 * self.bound)).clamp(0.0, 1.0)
        feats = self.encode_unit(x)
        if self.normalize:
            feats = nn.functional.normalize(feats, dim=-1, eps=1e-12)
        return feats.reshape(*shape, self.out_dim)
