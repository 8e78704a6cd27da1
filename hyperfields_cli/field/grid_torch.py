"""Pure-torch multiresolution grid encoding: the reference every other backend must match.

All levels and all 8 corners are handled at once, so the number of kernel launches does not
grow with the level count (a per-level loop is launch-bound on GPUs). Corner indices and
weights are built per axis and combined by broadcasting, and the gather + weighted sum is one
`embedding_bag`, so no [N, L, 8, 3] or [N, L, 8, F] intermediate is ever materialised: that
keeps the CPU path (the default without CUDA) memory-bound instead of allocation-bound.

`grid_encode_torch_gather` is the same function written for torch.compile: Inductor cannot fuse
`embedding_bag` (compiled, it ran at eager speed, 17.5 M points/s fwd+bwd on an H100) nor trace
through `nonzero`, but it fuses a plain gather + weighted sum into one kernel (~290 M points/s).
"""

from __future__ import annotations

import torch
from torch import Tensor

# Spatial hash primes (Teschner et al.; as in Instant-NGP). The first is 1 for cache locality.
PRIMES = (1, 2654435761, 805459861)


def _pairs(lo: Tensor, frac: Tensor) -> tuple[Tensor, Tensor]:
    """Per-axis corner coordinates [N, L, 2] (lo, lo+1) and their weights (1-f, f)."""
    return torch.stack([lo, lo + 1], dim=-1), torch.stack([1.0 - frac, frac], dim=-1)


def corner_indices(
    x: Tensor,
    resolutions: Tensor,
    offsets: Tensor,
    hashed: Tensor,
    table_size: int,
    branchless: bool = False,
) -> tuple[Tensor, Tensor]:
    """Row indices into the flat embedding table and trilinear weights.

    x [N, 3] in [0, 1]; resolutions [L] int64 cells per axis; offsets [L+1] row starts;
    hashed [L] bool (level stored in a hash table of `table_size` rows instead of densely).
    Returns idx [N, L, 8] int64 and w [N, L, 8]; corner c = x-bit + 2 y-bit + 4 z-bit.
    branchless: both layouts for every level, picked with `where` (no data-dependent
    `nonzero`, so torch.compile traces one graph; twice the index arithmetic).
    """
    res = resolutions.to(x.device)
    pos = x[:, None, :] * res[None, :, None].to(x.dtype)  # [N, L, 3]
    base = torch.minimum(pos.floor().clamp_(min=0), (res - 1)[None, :, None].to(x.dtype))
    frac = pos - base  # [N, L, 3] in [0, 1]
    lo = base.long()
    (ix, wx), (iy, wy), (iz, wz) = (_pairs(lo[..., a], frac[..., a]) for a in range(3))
    hashed = hashed.to(x.device)
    if branchless:
        local = torch.where(
            hashed[None, :, None, None, None],
            _hash_rows(ix, iy, iz, table_size),
            _dense_rows(ix, iy, iz, (res + 1)[None, :, None]),
        )
        idx = local.reshape(*local.shape[:2], 8) + offsets.to(x.device)[None, :-1, None]
        return idx, _corner_weights(wx, wy, wz)
    local = torch.empty(*lo.shape[:2], 2, 2, 2, dtype=torch.int64, device=x.device)
    dense_l = (~hashed).nonzero().squeeze(1)  # levels stored densely / in the hash table
    hash_l = hashed.nonzero().squeeze(1)
    if dense_l.numel():
        side = (res[dense_l] + 1)[None, :, None]  # [1, Ld, 1]
        local[:, dense_l] = _dense_rows(ix[:, dense_l], iy[:, dense_l], iz[:, dense_l], side)
    if hash_l.numel():
        local[:, hash_l] = _hash_rows(ix[:, hash_l], iy[:, hash_l], iz[:, hash_l], table_size)
    idx = local.reshape(*local.shape[:2], 8) + offsets.to(x.device)[None, :-1, None]
    return idx, _corner_weights(wx, wy, wz)


def _dense_rows(ix: Tensor, iy: Tensor, iz: Tensor, side: Tensor) -> Tensor:
    """Per-axis corners [N, L, 2] -> dense rows x + side * (y + side * z) [N, L, 2, 2, 2]."""
    dy, dz = iy * side, iz * side * side
    return ix[:, :, None, None, :] + dy[:, :, None, :, None] + dz[:, :, :, None, None]


def _hash_rows(ix: Tensor, iy: Tensor, iz: Tensor, table_size: int) -> Tensor:
    """Per-axis corners [N, L, 2] -> hashed rows (x p0 ^ y p1 ^ z p2) mod T [N, L, 2, 2, 2]."""
    hx, hy, hz = ix * PRIMES[0], iy * PRIMES[1], iz * PRIMES[2]
    return (hx[:, :, None, None, :] ^ hy[:, :, None, :, None] ^ hz[:, :, :, None, None]) & (
        table_size - 1
    )


def _corner_weights(wx: Tensor, wy: Tensor, wz: Tensor) -> Tensor:
    """Per-axis weights [N, L, 2] -> trilinear corner weights [N, L, 8]."""
    w = wz[:, :, :, None, None] * wy[:, :, None, :, None] * wx[:, :, None, None, :]
    return w.reshape(*w.shape[:2], 8)


def grid_encode_torch(
    x: Tensor, table: Tensor, resolutions: Tensor, offsets: Tensor, hashed: Tensor, table_size: int
) -> Tensor:
    """x [N, 3] in [0, 1], table [rows, F] -> features [N, L * F] (level-major)."""
    idx, w = corner_indices(x, resolutions, offsets, hashed, table_size)
    n, levels = idx.shape[:2]
    weights = w.reshape(n * levels, 8).to(table.dtype)
    out = torch.nn.functional.embedding_bag(
        idx.reshape(n * levels, 8), table, per_sample_weights=weights, mode="sum"
    )  # [N * L, F]
    return out.reshape(n, levels * table.shape[1])


def grid_encode_torch_gather(
    x: Tensor, table: Tensor, resolutions: Tensor, offsets: Tensor, hashed: Tensor, table_size: int
) -> Tensor:
    """`grid_encode_torch` as a gather + weighted sum: the formulation torch.compile fuses."""
    idx, w = corner_indices(x, resolutions, offsets, hashed, table_size, branchless=True)
    feats = table[idx]  # [N, L, 8, F]
    out = (feats * w[..., None].to(table.dtype)).sum(dim=2)  # [N, L, F]
    return out.reshape(x.shape[0], -1)


GPU_DX_CHUNK = 2**18
"""Points per call when a GPU run needs gradients w.r.t. the points: PyTorch's embedding_bag
per-sample-weight backward ran for over 100 s at 2^20 points x 16 levels on an H100 (and
36 ms at 2^18; `benchmarks/results/diag_grid_h100.txt`), so larger batches go in chunks."""


def grid_encode_torch_chunked(
    x: Tensor, table: Tensor, resolutions: Tensor, offsets: Tensor, hashed: Tensor, table_size: int
) -> Tensor:
    """`grid_encode_torch`, in chunks of GPU_DX_CHUNK points where that stall could happen."""
    args = (table, resolutions, offsets, hashed, table_size)
    if x.device.type != "cuda" or not x.requires_grad or x.shape[0] <= GPU_DX_CHUNK:
        return grid_encode_torch(x, *args)
    return encode_in_chunks(x, *args, chunk=GPU_DX_CHUNK)


def encode_in_chunks(x: Tensor, *args: Tensor | int, chunk: int) -> Tensor:
    """grid_encode_torch over consecutive chunks of `chunk` points, concatenated [N, L*F]."""
    return torch.cat([grid_encode_torch(part, *args) for part in x.split(chunk)])  # type: ignore[arg-type]
