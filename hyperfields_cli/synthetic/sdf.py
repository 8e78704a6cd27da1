"""Signed-distance primitives and combinators the procedural shapes are built from.

Every function maps points p [N, 3] (or [..., 3]) to distances [N] (negative inside). Several
(ellipsoid, revolved profiles, smooth unions) are bounds rather than exact distances; near the
surface they are close enough for density (a sigmoid of the distance) and normals (its gradient).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import reduce

import torch
from torch import Tensor

from hyperfields_cli.synthetic.consts import const

Vec = Sequence[float]


def shift(p: Tensor, c: Vec) -> Tensor:
    """Move the frame so `c` becomes the origin: p [..., 3] -> p - c."""
    return p - const(c, p)


def swizzle(p: Tensor, order: Sequence[int]) -> Tensor:
    """Reorder axes, e.g. (0, 2, 1) turns a z-axis primitive into a y-axis one."""
    return p.index_select(-1, const(tuple(order), p, torch.int64))  # no host copy per call


def sphere(p: Tensor, r: float) -> Tensor:
    return torch.linalg.vector_norm(p, dim=-1) - r


def box(p: Tensor, half: Vec, r: float = 0.0) -> Tensor:
    """Axis-aligned box with half extents `half`, edges rounded by r (overall size kept)."""
    q = p.abs() - const(half, p) + r
    return torch.linalg.vector_norm(q.clamp_min(0.0), dim=-1) + q.amax(dim=-1).clamp_max(0.0) - r


def _cap2(d: Tensor) -> Tensor:
    """2D (radial, axial) excess [..., 2] -> exact distance of a capped solid."""
    return torch.linalg.vector_norm(d.clamp_min(0.0), dim=-1) + d.amax(dim=-1).clamp_max(0.0)


def cylinder(p: Tensor, r: float, h: float, rounding: float = 0.0) -> Tensor:
    """Cylinder along z, radius r, half height h, rim rounded by `rounding`."""
    rho = torch.linalg.vector_norm(p[..., :2], dim=-1)
    d = torch.stack([rho - r + rounding, p[..., 2].abs() - h + rounding], dim=-1)
    return _cap2(d) - rounding


def torus(p: Tensor, major: float, minor: float) -> Tensor:
    """Torus around the z axis in the xy plane."""
    rho = torch.linalg.vector_norm(p[..., :2], dim=-1)
    return torch.linalg.vector_norm(torch.stack([rho - major, p[..., 2]], dim=-1), dim=-1) - minor


def capsule(p: Tensor, a: Vec, b: Vec, r0: float, r1: float | None = None) -> Tensor:
    """Segment a-b thickened by a radius that goes linearly from r0 to r1 (a tapered rod)."""
    av, bv = const(a, p), const(b, p)
    pa, ba = p - av, bv - av
    h = ((pa * ba).sum(dim=-1) / (ba * ba).sum()).clamp(0.0, 1.0)  # [N]
    r = r0 if r1 is None else r0 + (r1 - r0) * h
    return torch.linalg.vector_norm(pa - ba * h[..., None], dim=-1) - r


def ellipsoid(p: Tensor, radii: Vec) -> Tensor:
    """Ellipsoid bound (exact on the axes, good near the surface)."""
    rad = const(radii, p)
    k0 = torch.linalg.vector_norm(p / rad, dim=-1)
    k1 = torch.linalg.vector_norm(p / (rad * rad), dim=-1).clamp_min(1e-6)
    return k0 * (k0 - 1.0) / k1


def revolved(
    p: Tensor, radius: Callable[[Tensor], Tensor], z0: float, z1: float, eps: float = 1e-3
) -> Tensor:
    """Solid of revolution around z with radius profile r(z) for z in [z0, z1].

    The side distance (rho - r(z)) is divided by sqrt(1 + r'(z)^2) so slanted walls still
    give unit-gradient distances; r' comes from a central difference of the profile.
    """
    z = p[..., 2]
    rho = torch.linalg.vector_norm(p[..., :2], dim=-1)
    zc = z.clamp(z0, z1)
    slope = (radius(zc + eps) - radius(zc - eps)) / (2.0 * eps)
    side = (rho - radius(zc)) / torch.sqrt(1.0 + slope * slope)
    caps = torch.maximum(z0 - z, z - z1)
    return _cap2(torch.stack([side, caps], dim=-1))


def height_sheet(
    p: Tensor, height: Callable[[Tensor], Tensor], u: Tensor, thickness: float, eps: float = 1e-3
) -> Tensor:
    """Slab of half `thickness` around the surface z = height(u) (u: a coordinate of p, [N])."""
    slope = (height(u + eps) - height(u - eps)) / (2.0 * eps)
    return (p[..., 2] - height(u)).abs() / torch.sqrt(1.0 + slope * slope) - thickness


def union(*ds: Tensor) -> Tensor:
    return reduce(torch.minimum, ds)


def intersect(*ds: Tensor) -> Tensor:
    return reduce(torch.maximum, ds)


def subtract(a: Tensor, b: Tensor) -> Tensor:
    """a with b carved out."""
    return torch.maximum(a, -b)


def smooth_union(a: Tensor, b: Tensor, k: float) -> Tensor:
    """Polynomial smooth minimum: blends a and b over a fillet of size k."""
    h = (0.5 + 0.5 * (b - a) / k).clamp(0.0, 1.0)
    return b + (a - b) * h - k * h * (1.0 - h)


def repeat(x: Tensor, spacing: float, lo: int, hi: int) -> Tensor:
    """Fold a coordinate onto copies at spacing * k for k in [lo, hi] (bounded repetition)."""
    return x - spacing * torch.round(x / spacing).clamp(lo, hi)


def smoothstep(e0: float, e1: float, x: Tensor) -> Tensor:
    t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)
