"""The compiled marcher (csrc/raymarch*.{cu,cpp}): occupancy marching into packed samples and
fused compositing with early termination, forward and backward.

On CUDA tensors the kernels run; on CPU tensors the same per-ray code runs in a CPU loop (the
`hf_raymarch_cpu` build), which lets machines without a GPU test the kernel logic.
"""

from __future__ import annotations

import functools
import math
import warnings
from types import ModuleType

import torch
from torch import Tensor

from hyperfields_cli._cuda import cuda_available, load_extension
from hyperfields_cli.field.base import RadianceField
from hyperfields_cli.render.packing import query_packed, scene_bounds


@functools.cache
def _load(device_type: str) -> ModuleType | None:
    try:
        if device_type == "cuda":
            return load_extension("hf_raymarch", ("raymarch.cpp", "raymarch.cu"))
        return load_extension("hf_raymarch_cpu", ("raymarch_cpu.cpp",))
    except Exception as exc:  # noqa: BLE001 - any build failure means "use the torch path"
        warnings.warn(
            f"ray-marching kernels failed to build ({exc}); using pure torch", stacklevel=3
        )
        return None


def extension(device: torch.device) -> ModuleType | None:
    """The compiled marcher for `device`'s type, or None if it cannot be built."""
    if device.type == "cuda" and not cuda_available():
        return None
    return _load(device.type)


class Steps:
    """Per-ray sampling plan, the contract shared with the kernels (see raymarch_core.h)."""

    def __init__(self, near: Tensor, dt: Tensor, nsteps: Tensor, jitter: Tensor) -> None:
        self.near = near  # [R]
        self.dt = dt  # [R]
        self.nsteps = nsteps.to(torch.int32).contiguous()  # [R]
        self.jitter = jitter.to(near.dtype)  # [R] in [0, 1)


def march(
    ext: ModuleType,
    origins: Tensor,
    dirs: Tensor,
    steps: Steps,
    bits: Tensor,
    res: int,
    bound: float,
    rays: Tensor,
    k_state: Tensor,
    max_samples: int,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Listed scene-rays [A] -> offsets [A+1], points [M, 3], t [M], dt [M] (k_state advanced)."""

    def f(x: Tensor) -> Tensor:
        return x.float().contiguous()

    return ext.march(
        f(origins),
        f(dirs),
        f(steps.near),
        f(steps.dt),
        steps.nsteps,
        f(steps.jitter),
        bits.contiguous(),
        res,
        bound,
        rays,
        k_state,
        max_samples,
    )


class _Composite(torch.autograd.Function):
    """Packed samples of listed scene-rays -> rgb [SR, 3], depth [SR], opacity [SR] from T = 1."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx,
        sigma: Tensor,
        rgb: Tensor,
        ts: Tensor,
        dts: Tensor,
        offsets: Tensor,
        rays: Tensor,
        t_thresh: float,
        num_sr: int,
        ext: ModuleType,
    ) -> tuple[Tensor, Tensor, Tensor]:
        sigma, rgb = sigma.float().contiguous(), rgb.float().contiguous()
        tau = sigma.new_zeros(num_sr)
        acc_rgb, acc_d, acc_o = (
            sigma.new_zeros(num_sr, 3),
            sigma.new_zeros(num_sr),
            sigma.new_zeros(num_sr),
        )
        ext.composite_fwd(
            sigma,
            rgb,
            ts,
            dts,
            offsets,
            rays,
            t_thresh,
            tau,
            acc_rgb,
            acc_d,
            acc_o,
            sigma.new_empty(0),
        )
        ctx.save_for_backward(sigma, rgb, ts, dts, offsets, rays, acc_rgb, acc_d, acc_o)
        ctx.t_thresh, ctx.ext = t_thresh, ext
        return acc_rgb, acc_d, acc_o

    @staticmethod
    def backward(ctx, g_rgb: Tensor, g_d: Tensor, g_o: Tensor):  # type: ignore[override]
        sigma, rgb, ts, dts, offsets, rays, acc_rgb, acc_d, acc_o = ctx.saved_tensors
        g_rgb = torch.zeros_like(acc_rgb) if g_rgb is None else g_rgb.float().contiguous()
        g_d = torch.zeros_like(acc_d) if g_d is None else g_d.float().contiguous()
        g_o = torch.zeros_like(acc_o) if g_o is None else g_o.float().contiguous()
        gs, gc = ctx.ext.composite_bwd(
            g_rgb, g_d, g_o, sigma, rgb, ts, dts, offsets, rays, ctx.t_thresh, acc_rgb, acc_d, acc_o
        )
        return gs, gc, None, None, None, None, None, None, None


def composite_packed(
    ext: ModuleType,
    sigma: Tensor,
    rgb: Tensor,
    ts: Tensor,
    dts: Tensor,
    offsets: Tensor,
    rays: Tensor,
    t_thresh: float,
    num_sr: int,
) -> tuple[Tensor, Tensor, Tensor]:
    """Differentiable fused compositing: rgb [SR, 3] (no background), depth [SR], opacity [SR]."""
    return _Composite.apply(sigma, rgb, ts, dts, offsets, rays, t_thresh, num_sr, ext)


def march_train(
    ext: ModuleType,
    field: RadianceField,
    origins: Tensor,
    dirs: Tensor,
    steps: Steps,
    bits: Tensor,
    res: int,
    bound: float,
    t_thresh: float,
    compact: bool = True,
) -> tuple[Tensor, Tensor, Tensor, int, int]:
    """All occupied samples of every scene-ray, composited with gradients.

    compact: first evaluate densities without grad, drop samples behind the early-termination
    point, then run the differentiable pass only on what remains (the opaque interior of a
    solid costs one forward, not forward + backward). Returns rgb [S, R, 3] (no background),
    depth [S, R], opacity [S, R], samples queried, samples composited with grad.
    """
    s, r = field.num_scenes, origins.shape[0]
    sr = s * r
    rays = torch.arange(sr, device=origins.device)
    k_state = torch.zeros(sr, dtype=torch.int32, device=origins.device)
    max_n = max(1, int(steps.nsteps.max())) if r else 1
    offsets, pts, ts, dts = march(ext, origins, dirs, steps, bits, res, bound, rays, k_state, max_n)
    queried = pts.shape[0]
    compact = compact and queried > 0
    if compact:
        with torch.no_grad():
            sig0, rgb0 = query_packed(field, pts, scene_bounds(rays, offsets, s, r))
            trans = sig0.new_zeros(queried)
            z = sig0.new_zeros
            ext.composite_fwd(
                sig0.contiguous(),
                rgb0.contiguous(),
                ts,
                dts,
                offsets,
                rays,
                t_thresh,
                z(sr),
                z(sr, 3),
                z(sr),
                z(sr),
                trans,
            )
            keep = trans > 0  # written only for samples in front of the termination point
            entry = torch.repeat_interleave(
                torch.arange(sr, device=pts.device), offsets[1:] - offsets[:-1], output_size=queried
            )
            counts = torch.zeros(sr, dtype=torch.int64, device=pts.device)
            counts.index_add_(0, entry[keep], torch.ones_like(entry[keep]))
            offsets = torch.cat([counts.new_zeros(1), counts.cumsum(0)])
            pts, ts, dts = pts[keep].contiguous(), ts[keep].contiguous(), dts[keep].contiguous()
    sigma, rgb = query_packed(field, pts, scene_bounds(rays, offsets, s, r))
    c, d, o = composite_packed(ext, sigma, rgb, ts, dts, offsets, rays, t_thresh, sr)
    total = queried + pts.shape[0] if compact else queried
    return c.reshape(s, r, 3), d.reshape(s, r), o.reshape(s, r), total, pts.shape[0]


@torch.no_grad()
def march_infer(
    ext: ModuleType,
    field: RadianceField,
    origins: Tensor,
    dirs: Tensor,
    steps: Steps,
    bits: Tensor,
    res: int,
    bound: float,
    t_thresh: float,
    round_budget: int = 1 << 20,
    min_per_round: int = 8,
    max_per_round: int = 256,
) -> tuple[Tensor, Tensor, Tensor, int]:
    """March in rounds: each alive scene-ray emits a few occupied samples, they are queried
    and composited onto the ray's running state, and rays below T = t_thresh or past their
    last step retire. Returns rgb [S, R, 3] (no background), depth, opacity [S, R], queries."""
    s, r = field.num_scenes, origins.shape[0]
    sr = s * r
    dev = origins.device
    tau, acc_rgb = torch.zeros(sr, device=dev), torch.zeros(sr, 3, device=dev)
    acc_d, acc_o = torch.zeros(sr, device=dev), torch.zeros(sr, device=dev)
    k_state = torch.zeros(sr, dtype=torch.int32, device=dev)
    nsteps_sr = steps.nsteps.repeat(s)  # [SR]
    alive = torch.nonzero(nsteps_sr > 0).squeeze(1)
    max_tau = -math.log(t_thresh) if t_thresh > 0 else math.inf
    queried = 0
    rounds = 0
    while alive.numel() > 0:
        # Few samples first (opaque surfaces end rays within a handful), more once rays thin
        # out: samples emitted behind a ray's termination point are queried for nothing.
        cap = min(max_per_round, min_per_round << rounds)
        per_ray = int(min(max(round_budget // alive.numel(), min_per_round), cap))
        rounds += 1
        offsets, pts, ts, dts = march(
            ext, origins, dirs, steps, bits, res, bound, alive, k_state, per_ray
        )
        if pts.shape[0] > 0:
            sigma, rgb = query_packed(field, pts, scene_bounds(alive, offsets, s, r))
            ext.composite_fwd(
                sigma.contiguous(),
                rgb.contiguous(),
                ts,
                dts,
                offsets,
                alive,
                t_thresh,
                tau,
                acc_rgb,
                acc_d,
                acc_o,
                sigma.new_empty(0),
            )
            queried += pts.shape[0]
        more = (k_state[alive] < nsteps_sr[alive]) & (tau[alive] <= max_tau)
        alive = alive[more]
    return acc_rgb.reshape(s, r, 3), acc_d.reshape(s, r), acc_o.reshape(s, r), queried
