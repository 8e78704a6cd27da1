"""The world's per-shape and per-material functions, replayed as CUDA graphs on a GPU.

A shape's SDF or a material's albedo is a chain of 100-400 small elementwise ops. In a distill
step the GPU finishes them faster than the host can launch them, so the step is host-bound and
each extra GPU (each with its own host thread doing the same launches) buys little. On a GPU
every function is captured once per input-size bucket (rows rounded up to a power of two) and
then replayed: one launch instead of hundreds, the same kernels, the same values. Inputs are
copied into static buffers, outputs cloned out right after the replay, so all graphs can share
one memory pool. CPU tensors, tensors that need gradients and `HYPERFIELDS_CUDA_GRAPHS=0` take
the eager path.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable

import torch
from torch import Tensor

MIN_ROWS = 4096
"""Smallest bucket: tiny calls share one graph instead of one graph per size."""

_streams: dict[torch.device, torch.cuda.Stream] = {}
_anchors: dict[torch.device, torch.cuda.CUDAGraph] = {}
"""The first graph captured on each device, kept for the life of the process: its memory pool
is the one every later graph there shares (outputs are cloned out at once). Keeping it alive
keeps the pool alive: once every graph of a shared pool is gone, capturing into it again trips
an allocator assert (seen on the H100 when a test's graphs were garbage-collected)."""


def graphs_enabled() -> bool:
    return os.environ.get("HYPERFIELDS_CUDA_GRAPHS", "1") != "0"


def _pool(device: torch.device) -> tuple[int, int] | None:
    """The device's shared memory pool (None: the first capture there makes it)."""
    anchor = _anchors.get(device)
    return anchor.pool() if anchor is not None else None


def _capture_stream(device: torch.device) -> torch.cuda.Stream:
    """Captures need a side stream; one per device, so no memory is stranded on many."""
    if device not in _streams:
        _streams[device] = torch.cuda.Stream(device)
    return _streams[device]


class GraphedPointFn:
    """fn(x [M, ...], *more [M, ...]) -> [M, ...], a pure function of its rows' inputs."""

    def __init__(self, fn: Callable[..., Tensor], name: str) -> None:
        self.fn, self.name = fn, name
        self._graphs: dict[tuple, tuple[torch.cuda.CUDAGraph, list[Tensor], Tensor]] = {}
        self._failed = False  # a capture failed once: eager from then on

    def __call__(self, *xs: Tensor) -> Tensor:
        x = xs[0]
        eager = (
            x.device.type != "cuda"
            or x.shape[0] == 0
            or self._failed
            or not graphs_enabled()
            or (torch.is_grad_enabled() and any(t.requires_grad for t in xs))
            or torch.cuda.is_current_stream_capturing()
        )
        if eager:
            return self.fn(*xs)
        m = x.shape[0]
        bucket = max(MIN_ROWS, 1 << (m - 1).bit_length())
        key = (x.device, bucket, *((t.dtype, tuple(t.shape[1:])) for t in xs))
        entry = self._graphs.get(key)
        if entry is None:
            try:
                entry = self._graphs[key] = self._capture_retrying(xs, bucket)
            except RuntimeError as exc:  # e.g. an op that cannot be captured: stay correct
                msg = f"{self.name}: CUDA graph capture failed, running eagerly: {exc}"
                warnings.warn(msg, stacklevel=2)
                self._failed = True
                return self.fn(*xs)
        graph, static_in, static_out = entry
        for buf, t in zip(static_in, xs, strict=True):
            buf[:m].copy_(t)
        graph.replay()
        return static_out[:m].clone()

    def _capture_retrying(
        self, xs: tuple[Tensor, ...], bucket: int
    ) -> tuple[torch.cuda.CUDAGraph, list[Tensor], Tensor]:
        """A graph's pool needs fresh device memory; a training run may hold it all in the
        allocator's cache (seen: 77 GiB reserved, unused): release that once and retry."""
        try:
            return self._capture(xs, bucket)
        except torch.OutOfMemoryError:
            torch.cuda.empty_cache()
            return self._capture(xs, bucket)

    def _capture(
        self, xs: tuple[Tensor, ...], bucket: int
    ) -> tuple[torch.cuda.CUDAGraph, list[Tensor], Tensor]:
        """Warm up eagerly (once per device: fills the constant caches), then capture one call
        on a side stream.

        capture_begin/end rather than `torch.cuda.graph`, which also empties the allocator's
        cache on every capture (the next training step would then re-allocate everything).
        """
        device = xs[0].device
        static_in = [t.new_zeros(bucket, *t.shape[1:]) for t in xs]
        for buf, t in zip(static_in, xs, strict=True):
            buf[: t.shape[0]].copy_(t)
        if not any(k[0] == device for k in self._graphs):  # a first call fills the const caches
            with torch.no_grad():
                self.fn(*static_in)
        stream, side = torch.cuda.current_stream(device), _capture_stream(device)
        side.wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.no_grad(), torch.cuda.stream(side):
            graph.capture_begin(pool=_pool(device))
            try:
                static_out = self.fn(*static_in)
            finally:
                graph.capture_end()
        stream.wait_stream(side)
        _anchors.setdefault(device, graph)
        return graph, static_in, static_out

    def __repr__(self) -> str:
        return f"GraphedPointFn({self.name}, {len(self._graphs)} graphs)"
