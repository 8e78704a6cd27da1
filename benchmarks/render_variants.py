"""Helpers of bench_render.py: timing, inference-speed variants and the per-stage profile.

A variant is a '+'-joined list of tokens applied to the default render (CUDA marcher,
occupancy, float32, reference MLP, default round schedule):

    base            the defaults
    fp32|tf32|bf16|fp16  precision of the MLP's matmuls (grid, decoding, compositing stay float32)
    fold            MLP with the conditioning folded into biases (mlp="folded"); ref: reference
    min=N max=N budget=N compact=N   RoundSchedule knobs (compact=0: never compact the ray list)
    lazy            compact=0

e.g. "fold+bf16+min=4+lazy". Presets: "all" (a grid worth one GPU run), "quick" (CPU check).
"""

from __future__ import annotations

import math
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from hyperfields_cli.render.marcher_ext import RoundSchedule
from hyperfields_cli.render.profiling import RoundStats, StageTimer

Render = Callable[[dict[str, Any]], torch.Tensor]  # march kwargs -> rgb

PRESETS: dict[str, list[str]] = {
    "all": [
        "base",
        "tf32",
        "bf16",
        "fp16",
        "fold",
        "fold+tf32",
        "fold+bf16",
        "fold+fp16",
        "lazy",
        "fold+tf32+lazy",
        "fold+bf16+lazy",
        "fold+fp16+lazy",
        "fold+bf16+min=4",
        "fold+bf16+min=16",
        "fold+bf16+min=4+lazy",
        "fold+bf16+min=16+lazy",
        "fold+bf16+max=64",
        "fold+bf16+budget=2097152",
        "fold+tf32+min=16+lazy",
        "fold+fp16+min=16+lazy",
    ],
    "quick": ["base", "bf16", "fold", "fold+bf16", "lazy", "fold+bf16+min=4+lazy"],
}
STAGES = ("setup", "march", "grid", "mlp", "decode", "query", "composite", "bookkeeping")
_KNOBS = {"min": "min_per_round", "max": "max_per_round", "budget": "round_budget"}


@dataclass(frozen=True)
class Variant:
    name: str
    precision: str = "fp32"
    mlp: str = "reference"
    schedule: RoundSchedule = field(default_factory=RoundSchedule)

    def march_kw(self) -> dict[str, Any]:
        return {"precision": self.precision, "mlp": self.mlp, "schedule": self.schedule}


def parse_variant(spec: str) -> Variant:
    """'fold+bf16+min=4' -> Variant (see the module docstring)."""
    precision, mlp, knobs = "fp32", "reference", {}
    for tok in spec.split("+"):
        key, _, val = tok.partition("=")
        if tok in ("base", ""):
            continue
        if tok in ("fp32", "tf32", "bf16", "fp16"):
            precision = tok
        elif tok in ("fold", "ref"):
            mlp = "folded" if tok == "fold" else "reference"
        elif tok == "lazy":
            knobs["compact_every"] = 0
        elif key in _KNOBS and val.isdigit():
            knobs[_KNOBS[key]] = int(val)
        elif key == "compact" and val.isdigit():
            knobs["compact_every"] = int(val)
        else:
            raise SystemExit(f"bad variant token {tok!r} in {spec!r} (see render_variants.py)")
    return Variant(spec, precision, mlp, RoundSchedule(**knobs).check())


def expand(specs: list[str]) -> list[Variant]:
    """Specs and preset names -> variants, "base" first, no duplicates."""
    names: list[str] = ["base"]
    for s in specs:
        for name in PRESETS.get(s, [s]):
            if name not in names:
                names.append(name)
    return [parse_variant(n) for n in names]


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a.float() - b.float()) ** 2).mean())
    return float("inf") if mse == 0 else -10.0 * math.log10(mse)


def time_once(fn: Callable[[], torch.Tensor], device: torch.device) -> tuple[float, torch.Tensor]:
    """Milliseconds of one fn() (CUDA events on the GPU, a host clock on the CPU)."""
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        out = fn()
        end.record()
        torch.cuda.synchronize(device)
        return start.elapsed_time(end), out
    t0 = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t0) * 1e3, out


def timed(
    fn: Callable[[], torch.Tensor], device: torch.device, warmup: int, repeats: int
) -> tuple[float, list[float], torch.Tensor]:
    """Median milliseconds of fn() over `repeats` runs after `warmup` runs, and its output."""
    out = fn()
    for _ in range(max(warmup - 1, 0)):
        out = fn()
    times = []
    for _ in range(repeats):
        ms, out = time_once(fn, device)
        times.append(ms)
    return statistics.median(times), times, out


def run_variants(
    render: Render,
    variants: list[Variant],
    device: torch.device,
    warmup: int,
    repeats: int,
    pixels: int,
) -> list[dict[str, Any]]:
    """Time every variant (runs interleaved round-robin against clock drift); PSNR vs the first."""
    fns = {v.name: (lambda v=v: render(v.march_kw())) for v in variants}
    rows: dict[str, dict[str, Any]] = {}
    for v in list(variants):
        stats = RoundStats()
        try:
            img = render({**v.march_kw(), "stats": stats})  # also warms up
            for _ in range(max(warmup - 1, 0)):
                fns[v.name]()
        except Exception as exc:  # noqa: BLE001 - report it, time the others
            if v is variants[0]:
                raise
            print(f"variant {v.name} failed: {type(exc).__name__}: {exc}", flush=True)
            variants = [u for u in variants if u is not v]
            continue
        rows[v.name] = {
            "variant": v.name,
            "precision": v.precision,
            "mlp": v.mlp,
            "schedule": v.schedule._asdict(),
            "queries_per_pixel": stats.queried / pixels,
            "rounds": len(stats.rounds),
            "times_ms": [],
            "image": img,
        }
    for _ in range(repeats):
        for v in variants:
            ms, _ = time_once(fns[v.name], device)
            rows[v.name]["times_ms"].append(ms)
    base = rows[variants[0].name]["image"]
    out = []
    for v in variants:
        r = rows[v.name]
        r["median_ms"] = statistics.median(r["times_ms"])
        r["psnr_vs_base"] = psnr(r.pop("image"), base)
        out.append(r)
    return out


def print_variants(rows: list[dict[str, Any]], min_psnr: float = 40.0) -> None:
    base = rows[0]["median_ms"]
    ref = rows[0]["variant"]
    print(f"\n| variant | median ms | speed-up | queries/px | rounds | PSNR vs `{ref}` |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['variant']} | {r['median_ms']:.2f} | {base / r['median_ms']:.2f}x | "
            f"{r['queries_per_pixel']:.2f} | {r['rounds']} | {r['psnr_vs_base']:.1f} |"
        )
    ok = [r for r in rows if r["psnr_vs_base"] >= min_psnr]
    best = min(ok, key=lambda r: r["median_ms"])
    print(
        f"\nfastest with PSNR >= {min_psnr:g} dB vs `{ref}`: {best['variant']} "
        f"({best['median_ms']:.2f} ms)"
    )


_KERNEL_GROUPS = (
    ("march", ("march_",)),
    ("composite", ("composite_",)),
    ("matmul", ("gemm", "cutlass", "cublas", "xmma", "matmul", "kernel2")),
    ("grid encode", ("grid", "forward_kernel", "encode")),
    ("reduce/norm", ("reduce", "norm")),
    ("copy/fill", ("memcpy", "memset", "copy", "fill")),
    ("elementwise/index", ("elementwise", "vectorized", "unrolled", "index", "scatter", "gather")),
)


def kernel_group(name: str) -> str:
    low = name.lower()
    for group, keys in _KERNEL_GROUPS:
        if any(k in low for k in keys):
            return group
    return "other"


def _short(name: str, n: int = 90) -> str:
    name = re.sub(r"\s+", " ", name)
    return name if len(name) <= n else name[: n - 3] + "..."


def kernel_profile(
    fn: Callable[[], torch.Tensor], device: torch.device, runs: int
) -> dict[str, Any]:
    """torch.profiler over `runs` calls: device (or CPU op) time per group and the top entries,
    per call, in milliseconds."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    cuda = device.type == "cuda"
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=acts) as prof:
        for _ in range(runs):
            fn()
        if cuda:
            torch.cuda.synchronize(device)
    per_name: dict[str, list[float]] = {}
    if cuda:
        for e in prof.events():
            if e.device_type != DeviceType.CUDA or getattr(e, "is_user_annotation", False):
                continue
            entry = per_name.setdefault(e.name, [0.0, 0])
            entry[0] += e.time_range.elapsed_us() / 1e3 / runs
            entry[1] += 1 / runs
    else:
        for a in prof.key_averages():
            entry = per_name.setdefault(a.key, [0.0, 0])
            entry[0] += a.self_cpu_time_total / 1e3 / runs
            entry[1] += a.count / runs
    groups: dict[str, float] = {}
    for name, (ms, _) in per_name.items():
        g = kernel_group(name) if cuda else "cpu ops"
        groups[g] = groups.get(g, 0.0) + ms
    top = sorted(per_name.items(), key=lambda kv: -kv[1][0])[:15]
    return {
        "kind": "cuda kernels" if cuda else "cpu ops (self time)",
        "busy_ms": sum(groups.values()),
        "groups_ms": dict(sorted(groups.items(), key=lambda kv: -kv[1])),
        "top": [{"name": _short(n), "ms": ms, "calls": round(c, 1)} for n, (ms, c) in top],
    }


def profile_variant(
    render: Render, variant: Variant, device: torch.device, runs: int
) -> dict[str, Any]:
    """Stage times (per render), the round log and a kernel profile of one variant."""
    kw = variant.march_kw()
    render(kw)  # warm
    timer = StageTimer(device)
    wall = []
    for _ in range(runs):
        ms, _ = time_once(lambda: render({**kw, "stats": RoundStats(timer=timer)}), device)
        wall.append(ms)
    stages = {k: v / runs for k, v in timer.totals_ms().items()}
    stats = RoundStats(count_used=True)
    render({**kw, "stats": stats})
    rounds = stats.summary()
    try:
        kernels = kernel_profile(lambda: render(kw), device, runs)
    except Exception as exc:  # noqa: BLE001 - a profiler failure must not lose the rest
        kernels = {"kind": f"profiler failed: {exc}", "busy_ms": math.nan, "groups_ms": {}}
        kernels["top"] = []
    return {
        "variant": variant.name,
        "wall_ms_with_marks": statistics.median(wall),
        "stages_ms": stages,
        "stages_total_ms": sum(stages.values()),
        "rounds": rounds,
        "queried": sum(r["samples"] for r in rounds),
        "used": sum(r["used"] for r in rounds),
        "kernels": kernels,
    }


def print_profile(profiles: list[dict[str, Any]], pixels: int) -> None:
    print("\nper-stage time of one render (ms; device timeline between stage marks, host waits")
    print("included in the stage that waits; 'query' = gather/casts around the field query)\n")
    head = " | ".join(STAGES)
    print(f"| variant | {head} | sum | wall | busy | idle |")
    print("|---|" + "---:|" * (len(STAGES) + 4))
    for p in profiles:
        st = p["stages_ms"]
        cells = " | ".join(f"{st.get(s, 0.0):.2f}" for s in STAGES)
        busy = p["kernels"]["busy_ms"]
        print(
            f"| {p['variant']} | {cells} | {p['stages_total_ms']:.2f} | "
            f"{p['wall_ms_with_marks']:.2f} | {busy:.2f} | {p['wall_ms_with_marks'] - busy:.2f} |"
        )
    for p in profiles:
        k = p["kernels"]
        print(
            f"\n`{p['variant']}`: {len(p['rounds'])} rounds, {p['queried'] / pixels:.2f} queries "
            f"per pixel, {p['used'] / pixels:.2f} used (in front of termination)"
        )
        print("round: rays listed / per-ray cap / samples queried / used")
        for i, r in enumerate(p["rounds"]):
            print(f"  {i}: {r['rays']} / {r['per_ray']} / {r['samples']} / {r['used']}")
        print(
            f"{k['kind']} per render: "
            + ", ".join(f"{g} {ms:.2f}" for g, ms in k["groups_ms"].items())
        )
        if p is profiles[0]:
            print("top entries (ms per render, calls):")
            for t in k["top"]:
                print(f"  {t['ms']:7.3f}  {t['calls']:6.1f}  {t['name']}")
