"""Render a batch of scenes: rays -> samples -> field queries -> composited pixels.

`render_rays` is the simple pure-torch reference (fixed bins, every sample queried, full
autograd). `render_image` / `render_ray_batch` go through the marcher (render/marcher.py):
occupancy skipping, early termination and the CUDA kernels, for inference.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from hyperfields_cli.field.base import RadianceField
from hyperfields_cli.render.cameras import Cameras, camera_rays
from hyperfields_cli.render.composite import RenderOutput, composite
from hyperfields_cli.render.marcher import march_rays, resolve_backend
from hyperfields_cli.render.occupancy import OccupancyGrid
from hyperfields_cli.render.sampling import ray_aabb, stratified_t


def sample_points(
    origins: Tensor,
    dirs: Tensor,
    bound: float,
    num_samples: int,
    perturb: bool,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Shared ray samples for every scene: origins/dirs [R, 3] -> points [R, K, 3], t, deltas."""
    near, far, _ = ray_aabb(origins, dirs, bound)
    t, deltas = stratified_t(near, far, num_samples, perturb, generator)
    points = origins[:, None, :] + dirs[:, None, :] * t[..., None]
    return points, t, deltas


def render_rays(
    field: RadianceField,
    origins: Tensor,
    dirs: Tensor,
    num_samples: int = 128,
    perturb: bool = False,
    keep_weights: bool = False,
    generator: torch.Generator | None = None,
) -> RenderOutput:
    """Render rays [R, 3] shared by all S scenes of `field` -> RenderOutput with [S, R, ...]."""
    s, r = field.num_scenes, origins.shape[0]
    points, t, deltas = sample_points(origins, dirs, field.bound, num_samples, perturb, generator)
    out = field.query(points.reshape(1, -1, 3).expand(s, -1, -1))
    sigma = out.sigma.reshape(s, r, num_samples)
    rgb = out.rgb.reshape(s, r, num_samples, 3)
    bg = field.background(dirs[None].expand(s, -1, -1))
    return composite(sigma, rgb, t, deltas, bg, keep_weights)


def render_ray_batch(
    field: RadianceField,
    origins: Tensor,
    dirs: Tensor,
    occupancy: OccupancyGrid | None = None,
    *,
    num_samples: int = 128,
    chunk: int | None = None,
    **march_kw: Any,
) -> RenderOutput:
    """Render many rays [R, 3] (no grad) through the marcher in chunks -> [S, R, ...].

    chunk: rays per marcher call (default 2^18 / S with the CUDA marcher; in pure torch about
        2^17 points (rays x chunk_steps x S) per call, which bounds the grid's memory on CPUs).
    march_kw: forwarded to `march_rays` (step, backend, shading, background [3], ...).
    """
    if chunk is None:  # bound the points in flight: rays x steps x scenes
        backend = march_kw.get("backend", "auto")
        s = max(1, field.num_scenes)
        if resolve_backend(backend, origins.device) is not None:
            chunk = max(1024, (1 << 18) // s)
        else:
            chunk = max(32, (1 << 17) // (march_kw.get("chunk_steps", 64) * s))
    background = march_kw.pop("background", None)
    parts = []
    with torch.no_grad():
        for j in range(0, origins.shape[0], chunk):
            o, d = origins[j : j + chunk], dirs[j : j + chunk]
            bg = None if background is None else torch.as_tensor(background).to(o)
            parts.append(
                march_rays(
                    field,
                    o,
                    d,
                    occupancy,
                    num_samples=num_samples,
                    background=bg,
                    training=False,
                    **march_kw,
                )
            )
    if not parts:
        s = field.num_scenes
        return RenderOutput(
            origins.new_zeros(s, 0, 3), origins.new_zeros(s, 0), origins.new_zeros(s, 0)
        )
    return RenderOutput(
        torch.cat([q.rgb for q in parts], dim=1),
        torch.cat([q.depth for q in parts], dim=1),
        torch.cat([q.opacity for q in parts], dim=1),
    )


@torch.no_grad()
def render_image(
    field: RadianceField,
    cams: Cameras,
    num_samples: int = 128,
    chunk: int | None = None,
    *,
    occupancy: OccupancyGrid | None = None,
    **march_kw: Any,
) -> RenderOutput:
    """Render every scene of `field` from every camera -> rgb [B, S, H, W, 3] (no grad).

    Goes through the marcher (`march_rays`): empty-space skipping when `occupancy` is given,
    early ray termination at T < 1e-4, CUDA kernels when available. With no occupancy and the
    default `num_samples` bins it samples exactly like `render_rays`. Rays of all cameras are
    batched together and go through in chunks of `chunk` rays (see `render_ray_batch`).
    march_kw: step (world step instead of bins), backend, shading, light_dir, background;
        speed options: precision ("fp32" default, "tf32", "bf16", "fp16": the MLP's
        matmuls), mlp ("folded" default: conditioning folded into a per-scene bias, same
        numbers; "reference"), schedule (marcher_ext.RoundSchedule), stats
        (profiling.RoundStats) -- see `march_rays`.
    """
    origins, dirs = camera_rays(cams)  # [B, P, 3]
    b, p = origins.shape[:2]
    s = field.num_scenes
    out = render_ray_batch(
        field,
        origins.reshape(-1, 3),
        dirs.reshape(-1, 3),
        occupancy,
        num_samples=num_samples,
        chunk=chunk,
        **march_kw,
    )
    shape = (s, b, cams.height, cams.width)
    return RenderOutput(
        out.rgb.reshape(*shape, 3).transpose(0, 1).contiguous(),
        out.depth.reshape(shape).transpose(0, 1).contiguous(),
        out.opacity.reshape(shape).transpose(0, 1).contiguous(),
    )
