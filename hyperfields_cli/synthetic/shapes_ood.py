"""Reserved shapes for out-of-distribution work (never in a training pack).

Kept in their own module so the training world can be read on its own; `shapes.SHAPES`
registers them with split "ood".
"""

from __future__ import annotations

import torch
from torch import Tensor

from hyperfields_cli.synthetic.sdf import (
    box,
    capsule,
    cylinder,
    ellipsoid,
    intersect,
    revolved,
    shift,
    smooth_union,
    sphere,
    subtract,
    swizzle,
    torus,
    union,
)


def _jar_radius(z: Tensor) -> Tensor:
    return 0.13 + 0.07 * ((z + 0.2) / 0.5).clamp(0.0, 1.0)


def blender(p: Tensor) -> Tensor:
    """Countertop blender: motor base with buttons, tapered jar, lid and side handle."""
    x, y, z = p.unbind(-1)
    base = box(shift(p, (0.0, 0.0, -0.33)), (0.2, 0.2, 0.11), 0.04)
    bx = x - 0.08 * torch.round(x / 0.08).clamp(-1, 1)
    buttons = box(torch.stack([bx, y + 0.2, z + 0.33], -1), (0.022, 0.02, 0.022), 0.008)
    collar = cylinder(shift(p, (0.0, 0.0, -0.205)), 0.15, 0.02, 0.008)
    jar = revolved(p, _jar_radius, -0.2, 0.3)
    lid = cylinder(shift(p, (0.0, 0.0, 0.32)), 0.215, 0.025, 0.01)
    knob = cylinder(shift(p, (0.0, 0.0, 0.37)), 0.05, 0.03, 0.01)
    grip = capsule(p, (0.32, 0.0, -0.08), (0.32, 0.0, 0.22), 0.03)
    arms = union(
        capsule(p, (0.15, 0.0, -0.08), (0.32, 0.0, -0.08), 0.028),
        capsule(p, (0.19, 0.0, 0.22), (0.32, 0.0, 0.22), 0.028),
    )
    return union(base, buttons, collar, jar, lid, knob, grip, arms)


def teapot(p: Tensor) -> Tensor:
    """Round-bellied teapot with a lid and knob, a tapering spout (+x) and a loop handle (-x)."""
    x, y, z = p.unbind(-1)
    body = intersect(ellipsoid(shift(p, (0.0, 0.0, -0.1)), (0.34, 0.34, 0.26)), -0.32 - z)
    lid = ellipsoid(shift(p, (0.0, 0.0, 0.12)), (0.19, 0.19, 0.08))
    knob = sphere(shift(p, (0.0, 0.0, 0.22)), 0.045)
    spout = capsule(p, (0.22, 0.0, -0.16), (0.55, 0.0, 0.12), 0.075, 0.03)
    loop = torus(swizzle(shift(p, (-0.33, 0.0, -0.08)), (0, 2, 1)), 0.15, 0.03)
    handle = intersect(loop, x + 0.27)
    return union(smooth_union(body, spout, 0.05), lid, knob, handle)


def _shade_radius(z: Tensor) -> Tensor:
    return 0.32 - 0.14 * ((z + 0.02) / 0.4)


def lamp(p: Tensor) -> Tensor:
    """Table lamp: round base, thin stem, bulb and an open conical shade."""
    base = cylinder(shift(p, (0.0, 0.0, -0.42)), 0.2, 0.03, 0.015)
    stem = capsule(p, (0.0, 0.0, -0.42), (0.0, 0.0, 0.12), 0.025)
    bulb = sphere(shift(p, (0.0, 0.0, 0.12)), 0.07)
    side = revolved(p, _shade_radius, -0.02, 0.38)
    shade = intersect(side.abs() - 0.016, (p[..., 2] - 0.18).abs() - 0.2)
    return union(base, stem, bulb, shade)


def mug(p: Tensor) -> Tensor:
    """Coffee mug: cylinder with a thick floor, open top and a D-shaped handle (+x)."""
    outer = cylinder(shift(p, (0.0, 0.0, -0.1)), 0.24, 0.3, 0.03)
    inner = cylinder(shift(p, (0.0, 0.0, 0.05)), 0.205, 0.3)
    body = subtract(outer, inner)
    loop = torus(swizzle(shift(p, (0.26, 0.0, -0.08)), (0, 2, 1)), 0.15, 0.035)
    handle = intersect(loop, 0.2 - p[..., 0])
    return union(body, handle)
