"""Query a batch of scenes only where samples are kept, padded per scene to the largest count.

Fields take points [S, N, 3] (one batched matmul per layer for all scenes), but occupancy and
early termination keep a different number of samples per scene. These helpers gather the kept
points of each scene into [S, N_max, 3], query once, and scatter the answers back.
"""

from __future__ import annotations

import torch
from torch import Tensor

from hyperfields_cli.field.base import RadianceField


def query_masked(field: RadianceField, points: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """Shared points [M, 3], keep mask [S, M] -> sigma [S, M], rgb [S, M, 3] (0 where dropped).

    Gradients flow to the field through the kept entries only.
    """
    s, m = mask.shape
    sigma = points.new_zeros(s, m)
    rgb = points.new_zeros(s, m, 3)
    if m == 0:
        return sigma, rgb
    if bool(mask.all()):
        out = field.query(points[None].expand(s, -1, -1))
        return out.sigma.to(points.dtype), out.rgb.to(points.dtype)
    nz = mask.nonzero()  # [K, 2] (scene, sample), scene-major
    if nz.shape[0] == 0:
        return sigma, rgb
    si, mi = nz[:, 0], nz[:, 1]
    counts = mask.sum(dim=1)  # [S]
    starts = torch.cumsum(counts, 0) - counts  # [S]
    pos = torch.arange(nz.shape[0], device=mask.device) - starts[si]  # slot within scene
    n = int(counts.max())
    padded = points.new_zeros(s, n, 3)
    padded[si, pos] = points[mi]
    out = field.query(padded)  # sigma [S, n], rgb [S, n, 3]
    sigma = sigma.index_put((si, mi), out.sigma[si, pos].to(points.dtype))
    rgb = rgb.index_put((si, mi), out.rgb[si, pos].to(points.dtype))
    return sigma, rgb


def scene_bounds(rays: Tensor, offsets: Tensor, num_scenes: int, num_rays: int) -> Tensor:
    """Sorted scene-ray ids [A] (sr = s*R + r) and sample offsets [A+1] -> first sample of each
    scene and one past the last [S+1] (packed samples are scene-major)."""
    cut = torch.arange(num_scenes + 1, device=rays.device, dtype=rays.dtype) * num_rays
    entry = torch.searchsorted(rays, cut)  # [S+1] first list entry of each scene
    return offsets[entry]


def query_packed(
    field: RadianceField, points: Tensor, bounds: Tensor | None
) -> tuple[Tensor, Tensor]:
    """Packed points [M, 3], scene sample bounds [S+1] (None: one scene) -> sigma [M], rgb
    [M, 3] (float32)."""
    s = 1 if bounds is None else bounds.shape[0] - 1
    m = points.shape[0]
    if m == 0:
        return points.new_zeros(0), points.new_zeros(0, 3)
    if s == 1:
        out = field.query(points[None])
        return out.sigma[0].float(), out.rgb[0].float()
    assert bounds is not None
    counts = bounds[1:] - bounds[:-1]  # [S]
    n = int(counts.max())
    slot = torch.arange(n, device=points.device)
    valid = slot[None] < counts[:, None]  # [S, n]
    gather = (bounds[:-1, None] + slot[None]).clamp(max=m - 1)  # [S, n]
    out = field.query(points[gather])
    return out.sigma[valid].float(), out.rgb[valid].float()
