"""Where along each ray the field is queried: ray/box clipping and stratified samples."""

from __future__ import annotations

import torch
from torch import Tensor


def ray_aabb(
    origins: Tensor, dirs: Tensor, bound: float, min_near: float = 0.05
) -> tuple[Tensor, Tensor, Tensor]:
    """Clip rays to the cube [-bound, bound]^3.

    origins, dirs [R, 3] -> near [R], far [R], hit [R] (rays that miss get near == far).
    """
    safe = torch.where(dirs.abs() < 1e-9, torch.full_like(dirs, 1e-9), dirs)
    inv = 1.0 / safe
    t0 = (-bound - origins) * inv
    t1 = (bound - origins) * inv
    near = torch.minimum(t0, t1).amax(dim=-1).clamp_min(min_near)
    far = torch.maximum(t0, t1).amin(dim=-1)
    hit = far > near
    far = torch.where(hit, far, near)
    return near, far, hit


def stratified_t(
    near: Tensor,
    far: Tensor,
    num_samples: int,
    perturb: bool,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Sample depths per ray: one per equal bin, jittered inside it when `perturb`.

    near, far [R] -> t [R, K] (bin centres or jittered), deltas [R, K] (bin widths).
    """
    r = near.shape[0]
    u = torch.linspace(0.0, 1.0, num_samples + 1, device=near.device, dtype=near.dtype)
    lo, hi = u[:-1].expand(r, -1), u[1:].expand(r, -1)  # [R, K]
    if perturb:
        jitter = torch.rand(
            r, num_samples, device=near.device, dtype=near.dtype, generator=generator
        )
    else:
        jitter = torch.full((r, num_samples), 0.5, device=near.device, dtype=near.dtype)
    frac = lo + (hi - lo) * jitter
    span = (far - near)[:, None]
    t = near[:, None] + span * frac
    deltas = (span / num_samples).expand(-1, num_samples)
    return t, deltas
