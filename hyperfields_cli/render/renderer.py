"""Render a batch of scenes: rays -> samples -> field queries -> composited pixels.

This is the pure-torch reference path. Occupancy-grid skipping and the CUDA marcher plug in
here without changing callers.
"""

from __future__ import annotations

import torch
from torch import Tensor

from hyperfields_cli.field.base import RadianceField
from hyperfields_cli.render.cameras import Cameras, camera_rays
from hyperfields_cli.render.composite import RenderOutput, composite
from hyperfields_cli.render.sampling import ray_aabb, stratified_t


def sample_points(origins: Tensor, dirs: Tensor, bound: float, num_samples: int, perturb: bool,
                  generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """Shared ray samples for every scene: origins/dirs [R, 3] -> points [R, K, 3], t, deltas."""
    near, far, _ = ray_aabb(origins, dirs, bound)
    t, deltas = stratified_t(near, far, num_samples, perturb, generator)
    points = origins[:, None, :] + dirs[:, None, :] * t[..., None]
    return points, t, deltas


def render_rays(field: RadianceField, origins: Tensor, dirs: Tensor, num_samples: int = 128,
                perturb: bool = False, keep_weights: bool = False,
                generator: torch.Generator | None = None) -> RenderOutput:
    """Render rays [R, 3] shared by all S scenes of `field` -> RenderOutput with [S, R, ...]."""
    s, r = field.num_scenes, origins.shape[0]
    points, t, deltas = sample_points(origins, dirs, field.bound, num_samples, perturb, generator)
    out = field.query(points.reshape(1, -1, 3).expand(s, -1, -1))
    sigma = out.sigma.reshape(s, r, num_samples)
    rgb = out.rgb.reshape(s, r, num_samples, 3)
    bg = field.background(dirs[None].expand(s, -1, -1))
    return composite(sigma, rgb, t, deltas, bg, keep_weights)


@torch.no_grad()
def render_image(field: RadianceField, cams: Cameras, num_samples: int = 128,
                 chunk: int = 16384) -> RenderOutput:
    """Render every scene of `field` from every camera -> rgb [B, S, H, W, 3] (no grad).

    Rays go through in chunks so a 512x512 image fits on small GPUs and CPUs.
    """
    origins, dirs = camera_rays(cams)  # [B, P, 3]
    b, p = origins.shape[:2]
    s = field.num_scenes
    rgb, depth, opac = [], [], []
    for i in range(b):
        parts = [render_rays(field, origins[i, j : j + chunk], dirs[i, j : j + chunk], num_samples)
                 for j in range(0, p, chunk)]
        rgb.append(torch.cat([q.rgb for q in parts], dim=1))
        depth.append(torch.cat([q.depth for q in parts], dim=1))
        opac.append(torch.cat([q.opacity for q in parts], dim=1))
    shape = (b, s, cams.height, cams.width)
    return RenderOutput(torch.stack(rgb).reshape(*shape, 3), torch.stack(depth).reshape(shape),
                        torch.stack(opac).reshape(shape))
