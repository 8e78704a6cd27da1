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
from typing import NamedTuple

import torch
from torch import Tensor

from hyperfields_cli._cuda import cuda_available, load_extension
from hyperfields_cli.field.base import RadianceField
from hyperfields_cli.render import profiling
from hyperfields_cli.render.packing import query_packed, scene_bounds
from hyperfields_cli.render.profiling import RoundStats


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


class RoundSchedule(NamedTuple):
    """How `march_infer` splits the marching into rounds (defaults: the measured baseline).

    Round i lets each listed scene-ray emit up to
    per_ray = min(max(round_budget // live, min_per_round), min(max_per_round, min_per_round << i))
    occupied samples (live: rays still marching). Few samples first (opaque surfaces end rays
    within a handful), more once rays thin out: samples emitted behind a ray's termination point
    are queried for nothing, while every round costs host round-trips.
    compact_every: drop finished rays from the list every this many rounds (1: every round, one
    extra device sync each; 0: never: finished rays stay listed and emit nothing, and `live` is
    bounded by samples // per_ray of the last round, which the host knows without a sync).
    """

    round_budget: int = 1 << 20
    min_per_round: int = 8
    max_per_round: int = 256
    compact_every: int = 1

    def check(self) -> RoundSchedule:
        if self.round_budget < 1 or self.min_per_round < 1 or self.compact_every < 0:
            raise ValueError(f"bad round schedule {self}")
        if self.max_per_round < self.min_per_round:
            raise ValueError(f"max_per_round < min_per_round in {self}")
        return self

    def per_ray(self, rounds: int, live: int) -> int:
        """Samples per listed scene-ray in round `rounds` (0-based) with `live` rays marching."""
        cap = min(self.max_per_round, self.min_per_round << rounds)
        return int(min(max(self.round_budget // max(live, 1), self.min_per_round), cap))


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
    schedule: RoundSchedule | None = None,
    stats: RoundStats | None = None,
) -> tuple[Tensor, Tensor, Tensor, int]:
    """March in rounds: each listed scene-ray emits a few occupied samples, they are queried
    and composited onto the ray's running state, and rays below T = t_thresh or past their
    last step retire (see `RoundSchedule`). Returns rgb [S, R, 3] (no background), depth,
    opacity [S, R], queries. stats: per-round record (and stage times if it has a timer)."""
    sched = (schedule or RoundSchedule()).check()
    with profiling.active(stats.timer if stats is not None else None):
        profiling.start()
        return _march_rounds(
            ext, field, origins, dirs, steps, bits, res, bound, t_thresh, sched, stats
        )


def _march_rounds(
    ext: ModuleType,
    field: RadianceField,
    origins: Tensor,
    dirs: Tensor,
    steps: Steps,
    bits: Tensor,
    res: int,
    bound: float,
    t_thresh: float,
    sched: RoundSchedule,
    stats: RoundStats | None,
) -> tuple[Tensor, Tensor, Tensor, int]:
    s, r = field.num_scenes, origins.shape[0]
    sr = s * r
    dev = origins.device
    tau, acc_rgb = torch.zeros(sr, device=dev), torch.zeros(sr, 3, device=dev)
    acc_d, acc_o = torch.zeros(sr, device=dev), torch.zeros(sr, device=dev)
    k_state = torch.zeros(sr, dtype=torch.int32, device=dev)
    nsteps_sr = steps.nsteps.repeat(s)  # [SR]
    alive = torch.nonzero(nsteps_sr > 0).squeeze(1)  # [A] listed scene-rays (sorted)
    live = alive.numel()  # exact after a compaction, else an upper bound
    max_tau = -math.log(t_thresh) if t_thresh > 0 else math.inf
    no_trans = tau.new_empty(0)
    queried = 0
    rounds = 0
    profiling.mark("setup")
    while live > 0:
        per_ray = sched.per_ray(rounds, live)
        rounds += 1
        offsets, pts, ts, dts = march(
            ext, origins, dirs, steps, bits, res, bound, alive, k_state, per_ray
        )
        m = pts.shape[0]  # known on the host: march synchronises once to size its outputs
        profiling.mark("march")
        used: Tensor | int = 0
        if m > 0:
            bounds = scene_bounds(alive, offsets, s, r) if s > 1 else None
            sigma, rgb = query_packed(field, pts, bounds)
            profiling.mark("query")
            trans = sigma.new_zeros(m) if stats is not None and stats.count_used else no_trans
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
                trans,
            )
            if trans.numel():
                used = (trans > 0).sum()
            queried += m
            profiling.mark("composite")
        if stats is not None:
            stats.record(alive.numel(), per_ray, m, used)
        if sched.compact_every and rounds % sched.compact_every == 0:
            more = (k_state[alive] < nsteps_sr[alive]) & (tau[alive] <= max_tau)
            alive = alive[more]  # a device sync (the list's new length)
            live = alive.numel()
        else:
            # Terminated rays stop emitting (k_state -> nsteps) and stay listed; a ray still
            # marching emitted exactly per_ray samples, so at most m // per_ray are live.
            k_state.copy_(torch.where(tau <= max_tau, k_state, nsteps_sr))
            live = min(alive.numel(), m // per_ray)
        profiling.mark("bookkeeping")
    return acc_rgb.reshape(s, r, 3), acc_d.reshape(s, r), acc_o.reshape(s, r), queried
