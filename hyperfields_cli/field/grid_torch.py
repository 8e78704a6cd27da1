"""Pure-torch multiresolution grid encoding: the reference every other backend must match.

All levels and all 8 corners are handled in one vectorised gather, so the number of kernel
launches does not grow with the level count (a per-level loop is launch-bound on GPUs).
"""

from __future__ import annotations

import torch
from torch import Tensor

# Spatial hash primes (Teschner et al.; as in Instant-NGP). The first is 1 for cache locality.
PRIMES = (1, 2654435761, 805459861)

_CORNERS = torch.tensor(
    [[(c >> 0) & 1, (c >> 1) & 1, (c >> 2) & 1] for c in range(8)], dtype=torch.int64
)  # [8, 3]


def corner_indices(
    x: Tensor, resolutions: Tensor, offsets: Tensor, hashed: Tensor, table_size: int
) -> tuple[Tensor, Tensor]:
    """Row indices into the flat embedding table and trilinear weights.

    x [N, 3] in [0, 1]; resolutions [L] int64 cells per axis; offsets [L+1] row starts;
    hashed [L] bool (level stored in a hash table of `table_size` rows instead of densely).
    Returns idx [N, L, 8] int64 and w [N, L, 8].
    """
    res = resolutions.to(x.device)
    pos = x[:, None, :] * res[None, :, None].to(x.dtype)  # [N, L, 3]
    base = pos.floor().clamp_(min=0)
    base = torch.minimum(base, (res - 1)[None, :, None].to(x.dtype))
    frac = pos - base  # [N, L, 3] in [0, 1]
    corners = _CORNERS.to(x.device)  # [8, 3]
    ijk = base.long()[:, :, None, :] + corners[None, None]  # [N, L, 8, 3]
    side = (res + 1)[None, :, None]  # vertices per axis [1, L, 1]
    dense = ijk[..., 0] + side * (ijk[..., 1] + side * ijk[..., 2])
    hashed_idx = (ijk[..., 0] * PRIMES[0]) ^ (ijk[..., 1] * PRIMES[1]) ^ (ijk[..., 2] * PRIMES[2])
    hashed_idx = hashed_idx & (table_size - 1)
    local = torch.where(hashed.to(x.device)[None, :, None], hashed_idx, dense)
    idx = local + offsets.to(x.device)[None, :-1, None]
    cf = corners.to(x.dtype)
    w = torch.where(cf[None, None] > 0, frac[:, :, None, :], 1.0 - frac[:, :, None, :]).prod(-1)
    return idx, w


def grid_encode_torch(
    x: Tensor, table: Tensor, resolutions: Tensor, offsets: Tensor, hashed: Tensor, table_size: int
) -> Tensor:
    """x [N, 3] in [0, 1], table [rows, F] -> features [N, L * F] (level-major)."""
    idx, w = corner_indices(x, resolutions, offsets, hashed, table_size)
    feats = table[idx]  # [N, L, 8, F]
    out = (feats * w[..., None].to(table.dtype)).sum(dim=2)  # [N, L, F]
    return out.reshape(x.shape[0], -1)
