"""Deterministic 3D noise in pure torch.

Textures must be identical on every run and every device, and must not depend on a global RNG,
so lattice values come from an integer hash of the cell coordinates (no tables, no state).
All integer products stay below 2^62, so int64 arithmetic never overflows on CPU or CUDA.
"""

from __future__ import annotations

import torch
from torch import Tensor

from hyperfields_cli.synthetic.consts import const

_MASK = 0x7FFFFFFF  # keep hashes in 31 bits so every product fits in int64
_M1 = 1540483477  # odd multipliers (< 2^31) for the avalanche steps
_M2 = 1274126177

# 12 cube-edge gradient directions (Perlin's improved noise), one picked per lattice corner.
_GRADS = (
    (1, 1, 0), (-1, 1, 0), (1, -1, 0), (-1, -1, 0),
    (1, 0, 1), (-1, 0, 1), (1, 0, -1), (-1, 0, -1),
    (0, 1, 1), (0, -1, 1), (0, 1, -1), (0, -1, -1),
)  # fmt: skip


def hash3(ix: Tensor, iy: Tensor, iz: Tensor, seed: int | Tensor) -> Tensor:
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


# Cell corners in the order of three nested loops over dx, dy, dz (dz innermost).
_CORNERS = [(a, b, c) for a in (0, 1) for b in (0, 1) for c in (0, 1)]


def gradient_noise(p: Tensor, seed: int | Tensor = 0) -> Tensor:
    """Perlin-style gradient noise: p [..., 3] -> [...] in about [-1, 1], 0 at lattice points.

    All 8 corners are evaluated in one batch (a few dozen kernel launches in all, not a few
    hundred: the procedural teachers are launch-bound on a GPU); their contributions are still
    added in the fixed corner order, so values are the same as a corner-by-corner loop.
    `seed` may be a tensor broadcastable to p's leading dims (fbm's octaves).
    """
    cell = torch.floor(p)
    f = p - cell  # [..., 3] position inside the cell
    i = cell.to(torch.int64)
    u = _fade(f)
    corners = const(_CORNERS, p, torch.int64)  # [8, 3]
    c = i[..., None, :] + corners  # [..., 8, 3]
    seeds = seed[..., None] if isinstance(seed, Tensor) else seed  # broadcast over corners
    h = hash3(c[..., 0], c[..., 1], c[..., 2], seeds)  # [..., 8]
    grads = const(_GRADS, p)  # [12, 3]
    g = grads[h % 12]  # [..., 8, 3]
    d = f[..., None, :] - const(_CORNERS, p)  # [..., 8, 3]
    lo_hi = torch.stack((1.0 - u, u), dim=-2)  # [..., 2, 3]: weight of offset 0 / 1 per axis
    # corner k takes offset corners[k, a] (0 or 1) along axis a
    w = lo_hi[..., corners[:, 0], 0] * lo_hi[..., corners[:, 1], 1] * lo_hi[..., corners[:, 2], 2]
    contrib = w * (g * d).sum(dim=-1)  # [..., 8]
    out = torch.zeros(p.shape[:-1], dtype=p.dtype, device=p.device)
    for k in range(8):
        out = out + contrib[..., k]
    return out


def fbm(
    p: Tensor, octaves: int = 4, seed: int = 0, lacunarity: float = 2.0, gain: float = 0.5
) -> Tensor:
    """Fractal sum of gradient noise: p [..., 3] -> [...], about [-1, 1] (normalised by weight).

    The octaves go through one batched gradient_noise call ([octaves, ..., 3]).
    """
    qs, q = [], p
    for _ in range(octaves):
        qs.append(q)
        q = q * lacunarity
    seeds = const([seed + 101 * k for k in range(octaves)], p, torch.int64)
    seeds = seeds.view(octaves, *([1] * (p.dim() - 1)))  # [K, 1, ...]
    noise = gradient_noise(torch.stack(qs), seeds)  # [K, ...]
    total = torch.zeros(p.shape[:-1], dtype=p.dtype, device=p.device)
    amp, norm = 1.0, 0.0
    for k in range(octaves):
        total = total + amp * noise[k]
        norm += amp
        amp *= gain
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
    off = const(_OFFSETS, p, torch.int64)  # [27, 3]
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
