"""Deterministic 3D noise in pure torch.

Textures must be identical on every run and every device, and must not depend on a global RNG,
so lattice values come from an integer hash of the cell coordinates (no tables, no state).
All integer products stay below 2^62, so int64 arithmetic never overflows on CPU or CUDA.
"""

from __future__ import annotations

import torch
from torch import Tensor

_MASK = 0x7FFFFFFF  # keep hashes in 31 bits so every product fits in int64
_M1 = 1540483477  # odd multipliers (< 2^31) for the avalanche steps
_M2 = 1274126177

# 12 cube-edge gradient directions (Perlin's improved noise), one picked per lattice corner.
_GRADS = (
    (1, 1, 0), (-1, 1, 0), (1, -1, 0), (-1, -1, 0),
    (1, 0, 1), (-1, 0, 1), (1, 0, -1), (-1, 0, -1),
    (0, 1, 1), (0, -1, 1), (0, 1, -1), (0, -1, -1),
)  # fmt: skip


def hash3(ix: Tensor, iy: Tensor, iz: Tensor, seed: int) -> Tensor:
    """Integer lattice coordinates (int64, any shape) -> well-mixed int64 hash in [0, 2^31)."""
    h = (ix * 1619 + iy * 31337 + iz * 6971 + seed * 1013 + 12345) & _MASK
    h = ((h ^ (h >> 15)) * _M1) & _MASK
    h = ((h ^ (h >> 13)) * _M2) & _MASK
    return h ^ (h >> 16)


def hash_unit(h: Tensor) -> Tensor:
    """Hash (int64) -> float in [0, 1) using 24 bits, exact in float32."""
    return (h & 0xFFFFFF).to(torch.float32) / 16777216.0


def _fade(t: Tensor) -> Tensor:
    return t * t * t * (t * (t * 6.0 - 15.0) + 10.0)  # quintic: C2-continuous cell seams


def gradient_noise(p: Tensor, seed: int = 0) -> Tensor:
    """Perlin-style gradient noise: p [..., 3] -> [...] in about [-1, 1], 0 at lattice points."""
    cell = torch.floor(p)
    f = p - cell  # [..., 3] position inside the cell
    i = cell.to(torch.int64)
    u = _fade(f)
    grads = torch.tensor(_GRADS, dtype=p.dtype, device=p.device)  # [12, 3]
    out = torch.zeros(p.shape[:-1], dtype=p.dtype, device=p.device)
    for dx in (0, 1):
        wx = u[..., 0] if dx else 1.0 - u[..., 0]
        for dy in (0, 1):
            wy = u[..., 1] if dy else 1.0 - u[..., 1]
            for dz in (0, 1):
                wz = u[..., 2] if dz else 1.0 - u[..., 2]
                h = hash3(i[..., 0] + dx, i[..., 1] + dy, i[..., 2] + dz, seed)
                g = grads[h % 12]  # [..., 3]
                d = f - f.new_tensor((dx, dy, dz))
                out = out + wx * wy * wz * (g * d).sum(dim=-1)
    return out


def fbm(
    p: Tensor, octaves: int = 4, seed: int = 0, lacunarity: float = 2.0, gain: float = 0.5
) -> Tensor:
    """Fractal sum of gradient noise: p [..., 3] -> [...], about [-1, 1] (normalised by weight)."""
    total = torch.zeros(p.shape[:-1], dtype=p.dtype, device=p.device)
    amp, norm, q = 1.0, 0.0, p
    for k in range(octaves):
        total = total + amp * gradient_noise(q, seed + 101 * k)
        norm += amp
        amp *= gain
        q = q * lacunarity
    return total / norm


_OFFSETS = [(a, b, c) for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1)]


def worley(p: Tensor, seed: int = 0, jitter: float = 0.9) -> tuple[Tensor, Tensor, Tensor]:
    """Cellular noise: p [..., 3] -> (F1 [...], F2 [...], cell id hash int64 [...]).

    F1/F2 are distances to the nearest / second nearest feature point (one per unit cell);
    F2 - F1 is small on cell borders, which draws cracks and lead lines.
    """
    cell = torch.floor(p)
    f = p - cell  # [..., 3]
    i = cell.to(torch.int64)
    off = torch.tensor(_OFFSETS, dtype=torch.int64, device=p.device)  # [27, 3]
    c = i[..., None, :] + off  # [..., 27, 3]
    h = hash3(c[..., 0], c[..., 1], c[..., 2], seed)  # [..., 27]
    jit = torch.stack(
        [hash_unit(h), hash_unit(hash3(h, h, h, seed + 1)), hash_unit(hash3(h, h, h, seed + 2))],
        dim=-1,
    ).to(p.dtype)  # [..., 27, 3]
    feat = off.to(p.dtype) + 0.5 + jitter * (jit - 0.5)  # feature points relative to the cell
    d2 = ((feat - f[..., None, :]) ** 2).sum(dim=-1)  # [..., 27]
    best, idx = torch.topk(d2, 2, dim=-1, largest=False, sorted=True)
    cell_id = torch.gather(h, -1, idx[..., :1]).squeeze(-1)
    return best[..., 0].sqrt(), best[..., 1].sqrt(), cell_id
