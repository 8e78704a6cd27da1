"""Per-scene occupancy grids: which cells of the cube can hold density, so marching skips the rest.

Each scene keeps an EMA of the density its field answers in every cell of a res^3 grid over
[-bound, bound]^3 (cell index x + res*(y + res*z), x fastest, the grid encoding's layout) and a
packed bitfield (1 bit per cell, byte c >> 3, bit c & 7) derived from it. Both are buffers, so
they travel with `state_dict()` / safetensors and a loaded model renders fast at once.

Update rule (Instant-NGP style, reimplemented): every update queries the field once per cell at
a uniformly jittered point inside it, then `ema = max(decay * ema, sigma)` on visited cells and
`ema *= decay` elsewhere. A cell is occupied when its EMA exceeds

    thresh = min(mean EMA of the scene, -ln(1 - alpha_threshold) / cell_size)

i.e. when a ray crossing one full cell of that density would lose at least `alpha_threshold`
(1 %) of its light; the `mean` term keeps nearly empty or very faint scenes from being pruned
away entirely. Until the first update every cell counts as occupied (the warm-up), and the first
`warmup_updates` updates visit every cell even when `cells_per_update` asks for a subset.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from hyperfields_cli.field.base import RadianceField

_BIT_WEIGHTS = torch.tensor([1, 2, 4, 8, 16, 32, 64, 128], dtype=torch.uint8)


def pack_bits(mask: Tensor) -> Tensor:
    """bool [S, C] (C divisible by 8) -> uint8 [S, C // 8], bit i of byte j = cell 8j + i."""
    s, c = mask.shape
    w = _BIT_WEIGHTS.to(mask.device)
    return (mask.reshape(s, c // 8, 8).to(torch.uint8) * w).sum(-1, dtype=torch.uint8)


def unpack_bits(bits: Tensor) -> Tensor:
    """uint8 [S, B] -> bool [S, 8B] (inverse of `pack_bits`)."""
    w = _BIT_WEIGHTS.to(bits.device)
    return (bits[..., None] & w).ne(0).reshape(bits.shape[0], -1)


class OccupancyGrid(nn.Module):
    """S scenes x res^3 cells: EMA density [S, res^3] fp32 and occupancy bits uint8 [S, res^3/8]."""

    def __init__(
        self,
        num_scenes: int,
        resolution: int = 128,
        bound: float = 1.0,
        decay: float = 0.95,
        alpha_threshold: float = 0.01,
        warmup_updates: int = 16,
    ) -> None:
        super().__init__()
        if resolution < 2 or resolution % 2:
            raise ValueError("occupancy resolution must be even and >= 2")
        self.num_scenes = num_scenes
        self.resolution = resolution
        self.bound = float(bound)
        self.decay = decay
        self.alpha_threshold = alpha_threshold
        self.warmup_updates = warmup_updates
        cells = resolution**3
        self.register_buffer("density", torch.zeros(num_scenes, cells))
        self.register_buffer("bits", torch.full((num_scenes, cells // 8), 255, dtype=torch.uint8))
        self.register_buffer("updates", torch.zeros((), dtype=torch.int64))

    @property
    def cell_size(self) -> float:
        return 2.0 * self.bound / self.resolution

    @property
    def density_threshold(self) -> float:
        """Density whose opacity over one cell is `alpha_threshold` (upper end of the rule)."""
        return -math.log(1.0 - self.alpha_threshold) / self.cell_size

    def reset(self) -> None:
        """Back to the warm-up state: every cell occupied, no density seen."""
        self.density.zero_()
        self.bits.fill_(255)
        self.updates.zero_()

    def mask(self) -> Tensor:
        """bool [S, res^3] occupancy, x fastest."""
        return unpack_bits(self.bits)

    def occupied_fraction(self) -> Tensor:
        """[S] fraction of occupied cells (1.0 during warm-up)."""
        return self.mask().float().mean(dim=1)

    def cell_index(self, points: Tensor) -> tuple[Tensor, Tensor]:
        """points [..., 3] -> linear cell index [...] (int64, clamped) and inside-cube mask [...].

        The float formula floor((p + bound) * res / (2 bound)) is the one csrc/raymarch uses.
        """
        scale = self.resolution / (2.0 * self.bound)
        g = ((points + self.bound) * scale).floor()
        inside = ((g >= 0) & (g < self.resolution)).all(dim=-1)
        ijk = g.clamp(0, self.resolution - 1).long()
        res = self.resolution
        return ijk[..., 0] + res * (ijk[..., 1] + res * ijk[..., 2]), inside

    def occupied(self, points: Tensor) -> Tensor:
        """points [S, N, 3] (or [N, 3], shared by all scenes) -> bool [S, N].

        Points outside the cube are empty.
        """
        shared = points.dim() == 2
        idx, inside = self.cell_index(points)  # [S, N] or [N]
        if shared:
            idx = idx[None].expand(self.num_scenes, -1)
            inside = inside[None].expand(self.num_scenes, -1)
        byte = torch.gather(self.bits, 1, idx >> 3)  # [S, N] uint8
        bit = (byte >> (idx & 7).to(torch.uint8)) & 1
        return bit.bool() & inside

    def cell_centres(
        self, cells: Tensor, jitter: bool, generator: torch.Generator | None = None
    ) -> Tensor:
        """Linear cell indices [N] -> points [N, 3], uniformly jittered inside each cell."""
        res = self.resolution
        ijk = torch.stack([cells % res, (cells // res) % res, cells // (res * res)], dim=-1)
        if jitter:
            off = torch.rand(cells.shape[0], 3, device=cells.device, generator=generator)
        else:
            off = torch.full((cells.shape[0], 3), 0.5, device=cells.device)
        return (ijk.float() + off) * self.cell_size - self.bound

    @torch.no_grad()
    def update(
        self,
        field: RadianceField,
        cells_per_update: int | None = None,
        chunk: int = 1 << 20,
        generator: torch.Generator | None = None,
    ) -> None:
        """One EMA step from field densities at jittered cell centres (all scenes together).

        cells_per_update: visit all cells (None, the default; cheap on a GPU at 128^3) or this
        many uniformly random cells plus as many random currently-occupied ones per update.
        """
        device = self.density.device
        total = self.resolution**3
        full = cells_per_update is None or int(self.updates) < self.warmup_updates
        if full:
            cells = torch.arange(total, device=device)[None].expand(self.num_scenes, -1)
        else:
            cells = self._sample_cells(cells_per_update, generator)  # [S, n]
        fresh = torch.zeros_like(self.density)
        seen = torch.zeros_like(self.density, dtype=torch.bool)
        n = cells.shape[1]
        for j in range(0, n, max(1, chunk // self.num_scenes)):
            c = cells[:, j : j + max(1, chunk // self.num_scenes)]  # [S, n_j]
            pts = self.cell_centres(c.reshape(-1), True, generator).reshape(*c.shape, 3)
            sigma = field.query(pts).sigma.float().nan_to_num(0.0).clamp_min(0.0)  # [S, n_j]
            fresh.scatter_reduce_(1, c, sigma, reduce="amax")
            seen.scatter_(1, c, True)
        decayed = self.density * self.decay
        self.density.copy_(torch.where(seen, torch.maximum(decayed, fresh), decayed))
        self.updates += 1
        self._refresh_bits()

    def _sample_cells(self, n: int, generator: torch.Generator | None) -> Tensor:
        """[S, 2n] cell indices: n uniform + n drawn among occupied cells (uniform if none)."""
        device = self.density.device
        total = self.resolution**3
        uni = torch.randint(0, total, (self.num_scenes, n), device=device, generator=generator)
        occ = self.mask().float() + 1e-12  # [S, total]; tiny floor keeps multinomial valid
        picked = torch.multinomial(occ, n, replacement=True, generator=generator)
        return torch.cat([uni, picked], dim=1)

    def _refresh_bits(self) -> None:
        mean = self.density.mean(dim=1, keepdim=True)  # [S, 1]
        thresh = mean.clamp(max=self.density_threshold)
        self.bits.copy_(pack_bits(self.density > thresh))

    def extra_repr(self) -> str:
        return (
            f"scenes={self.num_scenes}, res={self.resolution}, bound={self.bound}, "
            f"decay={self.decay}, alpha_threshold={self.alpha_threshold}"
        )
