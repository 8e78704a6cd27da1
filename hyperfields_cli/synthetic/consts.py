"""Small constant tensors of the procedural world, made once per device and dtype.

`torch.tensor(values, device=cuda)` copies from host memory on every call, and a pageable
copy blocks the host: the world's SDFs and textures build a few hundred such constants per
query. `const` returns a cached, read-only-by-convention tensor instead (same values).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor


def _freeze(values: Any) -> Any:
    """Nested lists/tuples of numbers -> nested tuples (hashable cache key)."""
    if isinstance(values, list | tuple):
        return tuple(_freeze(v) for v in values)
    return values


@functools.lru_cache(maxsize=4096)
def _cached(values: Any, device: str, dtype: torch.dtype) -> Tensor:
    # A plain tensor even when first asked for under no_grad / inference_mode, so it can be
    # used (and saved for backward) anywhere later.
    with torch.inference_mode(False), torch.no_grad():
        return torch.tensor(values, dtype=dtype, device=device)


def const(values: Sequence[Any], like: Tensor, dtype: torch.dtype | None = None) -> Tensor:
    """`torch.tensor(values)` on `like`'s device, in `dtype` (default: like's); never modify it."""
    return _cached(_freeze(values), str(like.device), dtype or like.dtype)
