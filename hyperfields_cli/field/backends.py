"""Grid-encoding backends: pure torch, torch.compile'd torch, and our CUDA kernels (csrc/).

All backends read the same table layout (see grid.py). Names accepted by `resolve`:

- "torch": the reference (grid_torch.py), any device.
- "torch-compile": the same function in its gather formulation (`grid_encode_torch_gather`, the
  one Inductor fuses) under torch.compile (recompiles for new shapes).
- "cuda": our kernels, built on first use with torch's extension builder (F in 1, 2, 4, 8;
  fp32 or fp16 table). Supports grads wrt the table and wrt the points, but not double
  backward (autograd through the gradient): use "torch" or finite differences there.
- "auto": "cuda" when the points are on a GPU and the kernels build, else "torch". A failed
  build warns once and falls back to "torch".
- "tcnn": refused. tiny-cuda-nn's HashGrid keeps its own parameter layout and level scales
  (per-level offsets, its own resolution rule and hash), so it cannot read our table without a
  faithful, separately tested mapping; our CUDA kernels cover the need on the same layout.
"""

from __future__ import annotations

import functools
import warnings
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import torch
from torch import Tensor

from hyperfields_cli.errors import UsageError
from hyperfields_cli.field.grid_torch import (
    grid_encode_torch_chunked,
    grid_encode_torch_gather,
)

BACKENDS = ("auto", "torch", "torch-compile", "cuda", "tcnn")
CUDA_FEATURES = (1, 2, 4, 8)
EXTENSION_NAME = "hyperfields_grid_encode"
EXTENSION_SOURCES = ("grid_encode.cpp", "grid_encode.cu")

_build: dict[str, Any] = {}  # "module" or "error", set once per process

# Backward tuning knob (F = 2 only): add x-adjacent rows with one 16-byte atomic instead of two
# 8-byte ones. 0 off; 1 only pairs starting at an even row (H200: 574 vs 507 M points/s at 2^20
# with 0); 2 also odd-started pairs, through a second dense accumulator (csrc/grid_atomics.cuh).
PAIR_ATOMICS = 2

# Backward tuning knob (F <= 2): on levels with resolution <= MERGE_RES, consecutive points
# that share a cell (samples along one ray) sum their contributions in the warp and add them
# with one set of atomics (csrc/grid_warp.cuh); 0 turns it off. bench_grid, H100, 2^20 points:
# fwd+bwd on ray samples 2.12 -> 1.71 ms, uniform points unchanged (2.107 vs 2.109 ms).
MERGE_RES = 256


def cuda_extension() -> ModuleType | None:
    """The compiled kernels, or None when they cannot be built here (reason: `build_error()`)."""
    if "module" in _build:
        return _build["module"]
    if "error" in _build:
        return None
    from hyperfields_cli import _cuda

    if not _cuda.cuda_available():
        _build["error"] = "torch has no CUDA device"
        return None
    try:
        _build["module"] = _cuda.load_extension(EXTENSION_NAME, EXTENSION_SOURCES)
    except Exception as exc:  # compiler missing, toolkit mismatch, build error, ...
        _build["error"] = f"{type(exc).__name__}: {exc}".strip()
        return None
    return _build["module"]


def build_error() -> str | None:
    """Why `cuda_extension()` returned None (None if it built or was not tried)."""
    return _build.get("error")


def _fallback_warning() -> None:
    if not _build.get("warned"):
        _build["warned"] = True
        first = (build_error() or "unknown error").splitlines()[0][:300]
        warnings.warn(
            f"hyperfields: CUDA grid kernels unavailable ({first}); using the pure-torch "
            "grid (set HYPERFIELDS_VERBOSE_BUILD=1 to see the build log)",
            stacklevel=3,
        )


def resolve(requested: str, device: torch.device | str) -> str:
    """The backend that will run for points on `device`; raises UsageError if it cannot."""
    device = torch.device(device)
    if requested in ("torch", "torch-compile"):
        return requested
    if requested == "auto":
        if device.type != "cuda":
            return "torch"
        if cuda_extension() is not None:
            return "cuda"
        _fallback_warning()
        return "torch"
    if requested == "cuda":
        if device.type != "cuda":
            raise UsageError(
                f"grid backend 'cuda' needs the points on a CUDA device, not {device}",
                "use --grid-backend torch (or auto) on this machine",
            )
        if cuda_extension() is None:
            raise UsageError(
                f"grid backend 'cuda' could not be built: {build_error()}",
                "use --grid-backend torch, or HYPERFIELDS_VERBOSE_BUILD=1 for the log",
            )
        return "cuda"
    if requested == "tcnn":
        try:
            import tinycudann  # noqa: F401
        except ImportError:
            raise UsageError(
                "grid backend 'tcnn' needs tinycudann, which is not installed",
                "use --grid-backend cuda or torch",
            ) from None
        raise UsageError(
            "grid backend 'tcnn' is not supported: tiny-cuda-nn's hash grid uses "
            "its own parameter layout, so it cannot read our table",
            "use --grid-backend cuda (our kernels, same table) or torch",
        )
    raise UsageError(f"unknown grid backend {requested!r}", f"choose one of {', '.join(BACKENDS)}")


@dataclass(frozen=True)
class HostLayout:
    """Level layout as Python ints (what the extension takes): no device sync per call."""

    resolutions: tuple[int, ...]
    offsets: tuple[int, ...]
    hashed_mask: int


_LayoutEntry = tuple[tuple[weakref.ref, ...], tuple[int, ...], HostLayout]
_LAYOUTS: dict[tuple[int, int, int], _LayoutEntry] = {}


def host_layout(resolutions: Tensor, offsets: Tensor, hashed: Tensor) -> HostLayout:
    """Host copy of the layout tensors, cached per tensor object (one .tolist() each)."""
    tensors = (resolutions, offsets, hashed)
    key = (id(resolutions), id(offsets), id(hashed))
    versions = tuple(t._version for t in tensors)
    hit = _LAYOUTS.get(key)
    if (
        hit is not None
        and hit[1] == versions
        and all(r() is t for r, t in zip(hit[0], tensors, strict=True))
    ):
        return hit[2]
    mask = sum(1 << i for i, h in enumerate(hashed.tolist()) if h)
    layout = HostLayout(
        tuple(int(r) for r in resolutions.tolist()), tuple(int(o) for o in offsets.tolist()), mask
    )
    if len(_LAYOUTS) > 64:  # drop entries whose tensors are gone
        for k in [k for k, v in _LAYOUTS.items() if any(r() is None for r in v[0])]:
            del _LAYOUTS[k]
    _LAYOUTS[key] = (tuple(weakref.ref(t) for t in tensors), versions, layout)
    return layout


class GridEncodeCUDA(torch.autograd.Function):
    """Autograd wrapper of the kernels: grads wrt table (atomics) and x (only if it needs one)."""

    @staticmethod
    def forward(
        ctx: Any,
        x: Tensor,
        table: Tensor,
        layout: HostLayout,
        table_size: int,
        pairs: int,
        merge_res: int,
    ) -> Tensor:
        ext = cuda_extension()
        assert ext is not None, "resolve() must succeed before encode()"
        out = ext.forward(
            x, table, list(layout.resolutions), list(layout.offsets), layout.hashed_mask, table_size
        )
        ctx.save_for_backward(x, table)
        ctx.layout, ctx.table_size, ctx.pairs, ctx.merge_res = layout, table_size, pairs, merge_res
        return out

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        if torch.is_grad_enabled():  # create_graph=True: the result would silently lack a graph
            raise UsageError(
                "grid backend 'cuda' has no double backward (autograd through its gradient, "
                "e.g. a loss on autograd normals)",
                "use --grid-backend torch, or finite-difference normals",
            )
        x, table = ctx.saved_tensors
        need_x, need_table = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        if not (need_x or need_table):
            return None, None, None, None, None, None
        lay: HostLayout = ctx.layout
        grad_table, grad_x = cuda_extension().backward(
            grad_out.float().contiguous(), x, table, list(lay.resolutions), list(lay.offsets),
            lay.hashed_mask, ctx.table_size, need_table, need_x, ctx.pairs, ctx.merge_res,
        )  # fmt: skip
        grad_table = grad_table.to(table.dtype) if need_table else None
        return (grad_x if need_x else None), grad_table, None, None, None, None


def encode_cuda(
    x: Tensor, table: Tensor, resolutions: Tensor, offsets: Tensor, hashed: Tensor,
    table_size: int, pair_atomics: int | None = None, merge_res: int | None = None,
) -> Tensor:  # fmt: skip
    """Our kernels; x [N, 3] in [0, 1] -> [N, L*F] fp32 (other F / dtypes: torch reference)."""
    if table.shape[1] not in CUDA_FEATURES or table.dtype not in (torch.float32, torch.float16):
        return grid_encode_torch_chunked(x, table, resolutions, offsets, hashed, table_size)
    layout = host_layout(resolutions, offsets, hashed)
    if table.shape[0] < layout.offsets[-1]:  # checked here too: the raw extension must not see it
        raise ValueError(
            f"grid table has {table.shape[0]} rows, the level layout needs {layout.offsets[-1]}"
        )
    pairs = int(PAIR_ATOMICS if pair_atomics is None else pair_atomics)
    merge = MERGE_RES if merge_res is None else merge_res
    return GridEncodeCUDA.apply(
        x.float().contiguous(), table.contiguous(), layout, table_size, pairs, merge
    )


@functools.cache
def compiled_grid_encode(dynamic: bool | None = None) -> Callable[..., Tensor]:
    """torch.compile of the gather formulation (the one Inductor fuses; see grid_torch);
    dynamic=False specialises on N (benchmark baseline)."""
    return torch.compile(grid_encode_torch_gather, dynamic=dynamic)


def compiled_torch_encode(
    x: Tensor, table: Tensor, resolutions: Tensor, offsets: Tensor, hashed: Tensor, table_size: int
) -> Tensor:
    """torch.compile'd reference, compiled lazily on first call (~40 s on a GPU)."""
    return compiled_grid_encode()(x, table, resolutions, offsets, hashed, table_size)


def encode(
    backend: str,
    x: Tensor,
    table: Tensor,
    resolutions: Tensor,
    offsets: Tensor,
    hashed: Tensor,
    table_size: int,
) -> Tensor:
    """x [N, 3] in [0, 1] -> raw features [N, L*F] with a backend that `resolve` returned."""
    if backend == "torch":
        return grid_encode_torch_chunked(x, table, resolutions, offsets, hashed, table_size)
    if backend == "torch-compile":
        return compiled_torch_encode(x, table, resolutions, offsets, hashed, table_size)
    if backend == "cuda":
        return encode_cuda(x, table, resolutions, offsets, hashed, table_size)
    raise UsageError(f"grid backend {backend!r} is not available", "use --grid-backend torch")
