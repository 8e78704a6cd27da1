"""Held-out evaluation: PSNR of a field against a target field on fixed cameras.

Training cameras are drawn at random each step; these fixed views (offset azimuths, mid
elevations) are never drawn exactly, so they measure generalisation across views.
"""

from __future__ import annotations

import torch
from torch import Tensor

from hyperfields_cli.field.base import RadianceField
from hyperfields_cli.render.cameras import Cameras, orbit_cameras
from hyperfields_cli.render.renderer import render_image


def eval_cameras(
    views: int = 4, size: int = 128, radius: float = 2.2, fov: float = 45.0
) -> Cameras:
    """`views` cameras around the object at alternating elevations, offset from training grids."""
    az = torch.arange(views, dtype=torch.float32) * (360.0 / views) + 17.0
    polar = torch.where(torch.arange(views) % 2 == 0, torch.tensor(62.0), torch.tensor(78.0))
    full = torch.full((views,), 1.0)
    return orbit_cameras(polar, az, full * radius, full * fov, size)


@torch.no_grad()
def render_views(field: RadianceField, cams: Cameras, num_samples: int) -> Tensor:
    """-> rgb [B, S, H, W, 3] for every scene of `field` from every camera."""
    return render_image(field, cams, num_samples=num_samples).rgb.clamp(0, 1)


def psnr(a: Tensor, b: Tensor, dims: tuple[int, ...]) -> Tensor:
    mse = ((a - b) ** 2).mean(dim=dims)
    return -10.0 * torch.log10(mse.clamp_min(1e-10))


@torch.no_grad()
def field_psnr(
    field: RadianceField,
    target: RadianceField,
    cams: Cameras,
    num_samples: int = 192,
    target_samples: int = 512,
) -> tuple[Tensor, Tensor, Tensor]:
    """Per-scene PSNR [S] over all views, and the renders (field, target) [B, S, H, W, 3]."""
    got = render_views(field, cams, num_samples)
    want = render_views(target, cams, target_samples)
    per_scene = psnr(got, want, dims=(0, 2, 3, 4))
    return per_scene, got, want
