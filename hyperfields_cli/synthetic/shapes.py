"""The shapes of the procedural world as signed distance functions (z up, inside radius ~0.65).

Each shape is a function p [N, 3] -> sdf [N]. The ten training shapes follow the HyperFields
paper's teacher packs; the reserved ones (`split="ood"`) never appear in a training pack so
out-of-distribution finetuning has something genuinely new to learn. Long objects lie along x
and backs face +y, so a camera on the -y side sees them broadside.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from hyperfields_cli.synthetic import shapes_ood
from hyperfields_cli.synthetic.sdf import (
    box,
    capsule,
    cylinder,
    height_sheet,
    intersect,
    repeat,
    revolved,
    shift,
    smoothstep,
    sphere,
    subtract,
    swizzle,
    torus,
    union,
)

Split = Literal["train", "ood"]


@dataclass(frozen=True)
class Shape:
    """A named shape: its distance function, split tag, and a bounding radius for culling."""

    name: str
    split: Split
    sdf: Callable[[Tensor], Tensor]
    radius: float = 0.75  # every surface point lies inside this sphere around the origin
    description: str = ""
    scale: float = 1.0  # uniform scale applied to the modelled distance function

    def distance(self, p: Tensor) -> Tensor:
        """p [N, 3] -> signed distance [N] of the (scaled) shape."""
        if self.scale == 1.0:
            return self.sdf(p)
        return self.sdf(p / self.scale) * self.scale


def _abs_xy(p: Tensor) -> Tensor:
    """Mirror into the +x +y quadrant: one modelled part stands for four symmetric ones."""
    return torch.stack([p[..., 0].abs(), p[..., 1].abs(), p[..., 2]], dim=-1)


def _abs_x(p: Tensor) -> Tensor:
    return torch.stack([p[..., 0].abs(), p[..., 1], p[..., 2]], dim=-1)


def chair(p: Tensor) -> Tensor:
    """Square seat, four legs, a back of two posts, a top rail and three slats (back at +y)."""
    x, y, z = p.unbind(-1)
    seat = box(shift(p, (0.0, 0.0, -0.02)), (0.28, 0.28, 0.035), 0.012)
    legs = box(shift(_abs_xy(p), (0.245, 0.245, -0.255)), (0.03, 0.03, 0.2), 0.008)
    posts = box(shift(_abs_x(p), (0.245, 0.245, 0.27)), (0.03, 0.03, 0.27), 0.008)
    rail = box(shift(p, (0.0, 0.245, 0.47)), (0.24, 0.025, 0.065), 0.01)
    sx = repeat(x, 0.12, -1, 1)
    slats = box(torch.stack([sx, y - 0.245, z - 0.2], -1), (0.025, 0.018, 0.22), 0.006)
    return union(seat, legs, posts, rail, slats)


def pot(p: Tensor) -> Tensor:
    """Open cooking pot: straight wall with a rolled rim and two ear handles."""
    outer = cylinder(shift(p, (0.0, 0.0, -0.12)), 0.36, 0.22, 0.03)
    inner = cylinder(shift(p, (0.0, 0.0, 0.0)), 0.325, 0.3)
    body = subtract(outer, inner)
    rim = torus(shift(p, (0.0, 0.0, 0.1)), 0.345, 0.025)
    ear = torus(shift(_abs_x(p), (0.38, 0.0, 0.02)), 0.085, 0.024)
    ears = intersect(ear, 0.36 - p[..., 0].abs())  # keep the outer half of each loop
    return union(body, rim, ears)


def toaster(p: Tensor) -> Tensor:
    """Rounded box with two bread slots, two slices of toast popping out, a lever and feet."""
    body = box(shift(p, (0.0, 0.0, -0.13)), (0.36, 0.22, 0.25), 0.09)
    slot_p = torch.stack([p[..., 0], p[..., 1].abs() - 0.085, p[..., 2] - 0.12], -1)
    body = subtract(body, box(slot_p, (0.25, 0.035, 0.2), 0.01))
    toast = box(
        torch.stack([p[..., 0], slot_p[..., 1], p[..., 2] - 0.11], -1), (0.21, 0.022, 0.14), 0.05
    )
    lever = box(shift(p, (0.385, 0.0, 0.0)), (0.04, 0.05, 0.022), 0.01)
    knob = cylinder(swizzle(shift(p, (0.37, 0.0, -0.22)), (1, 2, 0)), 0.045, 0.03, 0.01)
    feet = box(shift(_abs_xy(p), (0.27, 0.14, -0.39)), (0.04, 0.04, 0.025), 0.01)
    return union(body, toast, lever, knob, feet)


def bench(p: Tensor) -> Tensor:
    """Park bench along x: three seat slats, two back slats, side frames with armrests."""
    x, y, z = p.unbind(-1)
    sy = repeat(y + 0.02, 0.115, -1, 1)
    seat = box(torch.stack([x, sy, z + 0.08], -1), (0.56, 0.047, 0.022), 0.008)
    back_z = repeat(z - 0.2, 0.13, 0, 1)
    back = box(torch.stack([x, y - 0.2, back_z], -1), (0.56, 0.02, 0.045), 0.008)
    q = _abs_x(p)
    legs = box(
        torch.stack([q[..., 0] - 0.46, y.abs() - 0.13, z + 0.25], -1), (0.028, 0.028, 0.17), 0.008
    )
    posts = box(shift(q, (0.46, 0.2, 0.0)), (0.028, 0.025, 0.42), 0.008)
    arms = box(shift(q, (0.46, 0.02, 0.07)), (0.032, 0.2, 0.02), 0.01)
    arm_legs = box(shift(q, (0.46, -0.13, -0.0)), (0.022, 0.022, 0.08), 0.006)
    return union(seat, back, legs, posts, arms, arm_legs)


def stool(p: Tensor) -> Tensor:
    """Round seat on four splayed legs with a foot ring."""
    seat = cylinder(shift(p, (0.0, 0.0, 0.12)), 0.26, 0.04, 0.02)
    c = 0.7071
    leg = capsule(_abs_xy(p), (0.15 * c, 0.15 * c, 0.1), (0.26 * c, 0.26 * c, -0.45), 0.03, 0.024)
    ring = torus(shift(p, (0.0, 0.0, -0.22)), 0.21, 0.018)
    return union(seat, leg, ring)


def bowl(p: Tensor) -> Tensor:
    """Spherical-cap bowl with a round lip and a foot ring; open at the top."""
    c = shift(p, (0.0, 0.0, 0.35))
    shell = sphere(c, 0.6).abs() - 0.025
    cut = p[..., 2] - 0.08  # keep below the rim plane
    body = intersect(shell, cut)
    rim = torus(shift(p, (0.0, 0.0, 0.08)), 0.536, 0.028)
    foot = subtract(
        cylinder(shift(p, (0.0, 0.0, -0.27)), 0.2, 0.04, 0.01),
        cylinder(shift(p, (0.0, 0.0, -0.31)), 0.16, 0.03),
    )
    return union(body, rim, foot)


def _vase_radius(z: Tensor) -> Tensor:
    body = 0.2 * torch.exp(-(((z + 0.12) / 0.25) ** 2))
    return 0.1 + body + 0.075 * smoothstep(0.32, 0.5, z)


def vase(p: Tensor) -> Tensor:
    """Amphora-like vase: round belly, narrow neck, flared open lip."""
    solid = revolved(p, _vase_radius, -0.45, 0.5)
    cavity = intersect(revolved(p, _vase_radius, -0.45, 0.6) + 0.022, 0.2 - p[..., 2])
    return subtract(solid, cavity)


def _kick(x: Tensor) -> Tensor:
    return -0.2 + 0.1 * smoothstep(0.3, 0.52, x.abs()) ** 1.5


def skateboard(p: Tensor) -> Tensor:
    """Deck along x with upturned kicktails, two trucks and four wheels."""
    x, y, z = p.unbind(-1)
    seg = torch.stack([x - x.clamp(-0.38, 0.38), y], -1)  # stadium outline
    outline = torch.linalg.vector_norm(seg, dim=-1) - 0.14
    deck = intersect(height_sheet(p, _kick, x, 0.018), outline)
    q = _abs_xy(p)
    trucks = box(shift(_abs_x(p), (0.3, 0.0, -0.255)), (0.035, 0.09, 0.025), 0.01)
    wheel_p = swizzle(shift(q, (0.3, 0.11, -0.32)), (0, 2, 1))  # axis along y
    wheels = cylinder(wheel_p, 0.06, 0.03, 0.012)
    return union(deck, trucks, wheels)


def _blade_edge(x: Tensor) -> Tensor:
    return -0.15 + 0.21 * ((x + 0.2) / 0.75).clamp(0.0, 1.0) ** 3


def _blade_spine(x: Tensor) -> Tensor:
    return 0.08 - 0.06 * smoothstep(0.3, 0.56, x)


def knife(p: Tensor) -> Tensor:
    """Chef's knife standing on its edge along x: riveted handle, bolster, curved blade."""
    x, y, z = p.unbind(-1)
    handle = box(shift(p, (-0.39, 0.0, 0.0)), (0.17, 0.035, 0.055), 0.03)
    bolster = box(shift(p, (-0.2, 0.0, 0.0)), (0.022, 0.042, 0.07), 0.01)
    top, bottom = _blade_spine(x), _blade_edge(x)
    slope = 0.21 * 3.0 / 0.75 * ((x + 0.2) / 0.75).clamp(0.0, 1.0) ** 2
    edge = (bottom - z) / torch.sqrt(1.0 + slope * slope)
    profile = intersect(z - top, edge, x - 0.56, -0.2 - x)
    frac = ((z - bottom) / (top - bottom).clamp_min(1e-3)).clamp(0.0, 1.0)
    half_t = 0.008 + 0.014 * frac  # thin at the edge, thicker at the spine
    blade = intersect(profile, y.abs() - half_t)
    rivets = sphere(torch.stack([repeat(x + 0.39, 0.1, -1, 1), y.abs() - 0.035, z], -1), 0.016)
    return union(handle, bolster, blade, rivets)


def _plate_height(rho: Tensor) -> Tensor:
    return -0.2 + 0.07 * smoothstep(0.27, 0.4, rho) + 0.012 * smoothstep(0.44, 0.48, rho)


def plate(p: Tensor) -> Tensor:
    """Dinner plate: flat well, raised rim, a foot ring underneath."""
    rho = torch.linalg.vector_norm(p[..., :2], dim=-1)
    dish = intersect(height_sheet(p, _plate_height, rho, 0.016), rho - 0.48)
    foot = subtract(
        cylinder(shift(p, (0.0, 0.0, -0.225)), 0.2, 0.015),
        cylinder(shift(p, (0.0, 0.0, -0.24)), 0.17, 0.02),
    )
    return union(dish, foot)


SHAPES: dict[str, Shape] = {
    s.name: s
    for s in (
        Shape(
            "chair", "train", chair, description="four-legged chair with a slatted back", scale=0.95
        ),
        Shape("pot", "train", pot, description="open cooking pot with two handles", scale=1.2),
        Shape(
            "toaster",
            "train",
            toaster,
            description="two-slot toaster with toast popping up",
            scale=1.1,
        ),
        Shape("bench", "train", bench, description="park bench with slats and armrests", scale=0.9),
        Shape("stool", "train", stool, description="round stool on splayed legs", scale=1.1),
        Shape("bowl", "train", bowl, description="round bowl on a foot ring", scale=1.05),
        Shape("vase", "train", vase, description="amphora vase with a flared lip", scale=1.1),
        Shape(
            "skateboard", "train", skateboard, description="skateboard deck with wheels", scale=1.15
        ),
        Shape("knife", "train", knife, description="chef's knife standing on its edge", scale=1.1),
        Shape("plate", "train", plate, description="dinner plate with a raised rim", scale=1.15),
        Shape(
            "blender",
            "ood",
            shapes_ood.blender,
            description="kitchen blender with a jar",
            scale=1.15,
        ),
        Shape("teapot", "ood", shapes_ood.teapot, description="teapot with spout and handle"),
        Shape(
            "lamp", "ood", shapes_ood.lamp, description="table lamp with a conical shade", scale=1.2
        ),
        Shape("mug", "ood", shapes_ood.mug, description="coffee mug with a handle", scale=1.25),
    )
}
"""Every shape by name; `split` says whether it may appear in training packs."""
