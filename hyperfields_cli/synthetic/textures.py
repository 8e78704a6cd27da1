"""Solid (3D) textures: albedo as a function of the surface point and its normal.

Each texture maps p [M, 3], n [M, 3] (unit normals) -> albedo [M, 3] in [0, 1]. They are
volumetric, so any shape can wear any material without UV maps; the normal only picks a
projection (knit, plaid) or fakes a view-independent reflection (gold, snow on glacier tops).
Seeds are fixed: every texture is the same on every run and device.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from hyperfields_cli.synthetic.consts import const
from hyperfields_cli.synthetic.noise import fbm, gradient_noise, hash3, hash_unit, worley
from hyperfields_cli.synthetic.sdf import smoothstep


def _rgb(p: Tensor, c: tuple[float, float, float]) -> Tensor:
    return const(c, p)


def _fract(x: Tensor) -> Tensor:
    """Fractional part in [0, 1) also for negative x (torch.frac keeps the sign)."""
    return x - torch.floor(x)


def _mix(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Blend colours a, b ([3] or [M, 3]) by t [M]."""
    return a + (b - a) * t[..., None]


_KNIT_COL = 0.09
_AROUND = 31 * _KNIT_COL / (2.0 * math.pi)  # a whole number of stitch columns per turn: no seam


def _knit(u: Tensor, v: Tensor, p: Tensor) -> Tensor:
    """Stockinette stitches in a (u across, v up) chart -> brightness [M] in [0, 1]."""
    col_w, row_h = _KNIT_COL, 0.06
    s = _fract(u / col_w) - 0.5  # [-0.5, 0.5) across one stitch column
    r = v / row_h + 1.1 * s.abs()  # V-shaped rows: each leg slants upward
    f = _fract(r)
    strand = torch.sin(math.pi * f).clamp_min(0.0) ** 0.5  # round strand cross-section
    between = smoothstep(0.0, 0.1, 0.5 - s.abs()) * smoothstep(0.0, 0.06, s.abs())
    ply = 0.5 + 0.5 * torch.sin(2.0 * math.pi * (3.0 * f - 2.0 * s))  # twisted plies
    fuzz = gradient_noise(p * 120.0, seed=7)
    return (strand * (0.45 + 0.55 * between) * (0.8 + 0.2 * ply) + 0.1 * fuzz).clamp(0, 1)


def yarn(p: Tensor, n: Tensor) -> Tensor:
    """Knitted wool: V stitches running around the object (top faces use an xy chart)."""
    x, y, z = p.unbind(-1)
    around = torch.atan2(y, x) * _AROUND  # arc-length-ish coordinate around the z axis
    side_chart = _knit(around, z, p)
    top_chart = _knit(x, y, p)
    w = smoothstep(0.55, 0.85, n[..., 2].abs())
    b = side_chart + (top_chart - side_chart) * w
    heather = 0.08 * fbm(p * 5.0, 2, seed=11)
    dark, light = _rgb(p, (0.38, 0.26, 0.2)), _rgb(p, (0.98, 0.9, 0.74))
    return _mix(dark, light, (b + heather).clamp(0, 1))


def _sett(c: Tensor) -> Tensor:
    """One tartan thread colour sequence along a coordinate -> rgb [M, 3]."""
    f = _fract(c / 0.22)
    base = _rgb(c, (0.72, 0.07, 0.09))  # red ground
    green = (f - 0.3).abs() < 0.13
    navy = (f - 0.78).abs() < 0.06
    yellow = (f - 0.55).abs() < 0.012
    white = (f - 0.97).abs() < 0.01
    out = base.expand(*c.shape, 3)
    for mask, rgb in (
        (green, (0.05, 0.28, 0.14)),
        (navy, (0.06, 0.08, 0.25)),
        (yellow, (0.95, 0.8, 0.2)),
        (white, (0.92, 0.9, 0.85)),
    ):  # later threads lie on top; `where`, not masked assignment, so the GPU is not waited on
        out = torch.where(mask[..., None], _rgb(c, rgb), out)
    return out


def plaid(p: Tensor, n: Tensor) -> Tensor:
    """Tartan: a thread sett along each axis, woven (averaged) on the faces that axis crosses."""
    w = 1.0 - n * n  # [M, 3]: an axis counts on faces it runs across
    cols = torch.stack([_sett(p[..., k] + 0.031 * k) for k in range(3)], dim=1)  # [M, 3, 3]
    twill = 0.95 + 0.05 * torch.sin(2 * math.pi * (p.sum(-1) / 0.012))  # diagonal weave
    out = (w[..., None] * cols).sum(1) / w.sum(-1, keepdim=True).clamp_min(1e-6)
    return out * twill[..., None]


def marble(p: Tensor, n: Tensor) -> Tensor:
    """White marble with dark meandering veins and finer secondary veining."""
    warp = fbm(p * 2.2, 5, seed=21)
    main = torch.sin(7.0 * (p[..., 0] * 0.8 + p[..., 2] * 0.6 + 1.3 * warp))
    fine = torch.sin(19.0 * (p[..., 1] * 0.7 - p[..., 2] * 0.5 + 0.8 * fbm(p * 4.0, 4, seed=23)))
    vein = torch.exp(-main.abs() / 0.16) * 0.9 + torch.exp(-fine.abs() / 0.08) * 0.45
    cloud = 0.1 * fbm(p * 3.0, 3, seed=25).abs()
    white, grey = _rgb(p, (0.95, 0.94, 0.91)), _rgb(p, (0.25, 0.26, 0.3))
    return _mix(white, grey, vein.clamp(0, 1)) - cloud[..., None]


def wood(p: Tensor, n: Tensor) -> Tensor:
    """Growth rings around an off-centre axis along x, with fibre streaks along the grain."""
    x, y, z = p.unbind(-1)
    r = torch.sqrt((y + 0.9) ** 2 + (z + 1.3) ** 2) + 0.05 * fbm(
        p * const((1.5, 4.0, 4.0), p), 3, seed=31
    )
    ring = _fract(r * 13.0)
    late = smoothstep(0.55, 0.95, ring)  # dark latewood at the end of each ring
    streak = gradient_noise(p * const((3.0, 60.0, 60.0), p), seed=33)
    light, dark = _rgb(p, (0.8, 0.56, 0.3)), _rgb(p, (0.45, 0.25, 0.11))
    return _mix(light, dark, (0.75 * late + 0.15 * streak + 0.1).clamp(0, 1))


def gold(p: Tensor, n: Tensor) -> Tensor:
    """Polished gold: a baked environment (bright sky, dark ground, hot horizon) on the normal."""
    nz = n[..., 2]
    sky = smoothstep(-0.3, 0.9, nz)
    horizon = torch.exp(-(((nz - 0.15) / 0.18) ** 2))
    glint = (n * const((0.48, -0.64, 0.6), n)).sum(-1).clamp_min(0) ** 24
    t = (0.3 + 0.45 * sky + 0.35 * horizon + 0.03 * fbm(p * 12.0, 2, seed=41)).clamp(0, 1)
    c = _mix(_rgb(p, (0.5, 0.31, 0.05)), _rgb(p, (1.0, 0.8, 0.32)), t)
    return _mix(c, _rgb(p, (1.0, 0.97, 0.82)), glint)


def terracotta(p: Tensor, n: Tensor) -> Tensor:
    """Fired clay: mottled orange-brown with grit speckles and faint throwing rings."""
    mottle = fbm(p * 4.0, 4, seed=51)
    c = torch.floor(p * 180.0).long()
    grit = hash_unit(hash3(c[..., 0], c[..., 1], c[..., 2], 53)).to(p.dtype)
    speck = (grit > 0.93).to(p.dtype) * 0.5 - (grit < 0.05).to(p.dtype) * 0.4
    rings = 0.04 * torch.sin(p[..., 2] * 140.0)
    t = (0.5 + 0.35 * mottle + rings + 0.25 * speck).clamp(0, 1)
    return _mix(_rgb(p, (0.58, 0.24, 0.12)), _rgb(p, (0.88, 0.5, 0.32)), t)


def checkered(p: Tensor, n: Tensor) -> Tensor:
    """Black and white 3D checkerboard (cells offset so flat faces never sit on a cell border)."""
    cell = torch.floor((p + 0.0517) / 0.15).long()
    odd = (cell.sum(-1) % 2).to(p.dtype)
    return _mix(_rgb(p, (0.06, 0.06, 0.07)), _rgb(p, (0.95, 0.95, 0.93)), odd)


def tiger(p: Tensor, n: Tensor) -> Tensor:
    """Orange fur with narrow, broken black stripes (period ~0.13) and a pale underside."""
    d = const((0.72, 0.45, 0.53), p)
    w = 2.0 * math.pi * (p @ d) / 0.13 + 2.2 * fbm(p * 2.5, 3, seed=61)
    width = 0.35 + 0.35 * fbm(p * 4.5, 2, seed=63)  # where stripes thin out and break
    stripe = smoothstep(width - 0.08, width + 0.08, torch.sin(w))
    fur = 0.07 * gradient_noise(p * 80.0, seed=65)
    orange = _rgb(p, (0.95, 0.52, 0.08)) + fur[..., None]
    belly = smoothstep(-0.35, -0.55, p[..., 2])[..., None] * 0.5
    orange = orange + (_rgb(p, (1.0, 0.92, 0.8)) - orange) * belly
    return _mix(orange, _rgb(p, (0.05, 0.04, 0.03)), stripe)


_GLASS = (
    (0.78, 0.08, 0.12), (0.12, 0.25, 0.8), (0.1, 0.6, 0.25), (0.97, 0.7, 0.1),
    (0.58, 0.2, 0.72), (0.1, 0.68, 0.75), (0.95, 0.4, 0.1),
)  # fmt: skip


def stained_glass(p: Tensor, n: Tensor) -> Tensor:
    """Voronoi panes of saturated glass separated by dark lead came."""
    f1, f2, cell = worley(p * 7.0, seed=71)
    palette = const(_GLASS, p)
    pane = palette[cell % len(_GLASS)]
    glow = 0.85 + 0.25 * (1.0 - f1.clamp(0, 1))
    lead = smoothstep(0.09, 0.05, f2 - f1)
    return _mix(pane * glow[..., None], _rgb(p, (0.08, 0.08, 0.09)), lead)


def polka_dots(p: Tensor, n: Tensor) -> Tensor:
    """White dots on navy: two interleaved lattices (body-centred) give evenly spread dots."""
    s = 0.16
    q1 = p / s - torch.round(p / s)
    q2 = (p / s + 0.5) - torch.round(p / s + 0.5)
    d = torch.minimum(q1.norm(dim=-1), q2.norm(dim=-1)) * s
    dot = smoothstep(0.048, 0.04, d)
    return _mix(_rgb(p, (0.08, 0.13, 0.4)), _rgb(p, (0.97, 0.95, 0.9)), dot)


def glacier(p: Tensor, n: Tensor) -> Tensor:
    """Glacier ice: pale cyan body, deep blue crevasses, strata, and snow on upward faces."""
    f1, f2, _ = worley(p * 5.0 + 0.5 * fbm(p * 3.0, 2, seed=81)[..., None], seed=83)
    crack = smoothstep(0.12, 0.02, f2 - f1)
    strata = 0.5 + 0.5 * torch.sin(p[..., 2] * 40.0 + 3.0 * fbm(p * 2.0, 3, seed=85))
    ice = _mix(_rgb(p, (0.7, 0.88, 0.96)), _rgb(p, (0.45, 0.74, 0.9)), 0.5 * strata)
    ice = _mix(ice, _rgb(p, (0.12, 0.38, 0.66)), crack)
    drift = smoothstep(-0.05, 0.25, fbm(p * 3.0, 3, seed=87))  # snow lies in patches
    snow = smoothstep(0.65, 0.9, n[..., 2]) * drift
    return _mix(ice, _rgb(p, (0.97, 0.98, 1.0)), snow)
