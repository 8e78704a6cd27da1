"""Grid-encoding throughput: pure torch (eager), torch.compile'd torch and our CUDA kernels.

Paper config (16 levels x 2 features, 2^19 rows per hashed level). For each N, each backend is
timed with CUDA events over many iterations after warm-up, median of --repeats repeats, inputs
rotated over 4 sets of fresh random data. Modes (M points/s = N / time):
  fwd         forward of the training graph (table requires grad)
  fwd+bwd     forward + backward to the table (grad_table re-allocated each step)
  fwd+bwd+dx  the same plus the gradient wrt the points (not for torch.compile: 2nd compile)
Patterns: "uniform" points in the unit cube; "rays" (CUDA only) = 128 ordered samples along
random rays, as a NeRF batch arrives (coherent: more same-row atomics at coarse levels).
Our kernels, backward variants without warp merging: "cuda-red" one atomic per row;
"cuda-pairs1" one 16-byte atomic for x-adjacent rows that start at an even row (the session-4
default); "cuda-pairs" every x-adjacent pair (backends.PAIR_ATOMICS = 2); "cuda-mergeR" = pairs
plus warp merging of same-cell runs on levels of resolution <= R (backends.MERGE_RES);
"cuda" alone = the kernels as the package configures them.

  python benchmarks/bench_grid.py --out grid.json          # GPU (compile costs ~40 s per N)
  python benchmarks/bench_grid.py --device cpu --quick     # logic check on a CPU
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hyperfields_cli.field import backends  # noqa: E402
from hyperfields_cli.field.grid import GridConfig, level_layout  # noqa: E402
from hyperfields_cli.field.grid_torch import grid_encode_torch_chunked  # noqa: E402

Encode = Callable[..., torch.Tensor]
MODES = ("fwd", "fwd+bwd", "fwd+bwd+dx")
NUM_SETS = 4


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--quick", action="store_true", help="small N, eager only, few repeats")
    ap.add_argument("--sizes", type=int, nargs="+", default=None, help="log2 N (16 18 20)")
    ap.add_argument("--backends", default=None, help="comma list, see the docstring")
    ap.add_argument("--patterns", default="uniform,rays", help="uniform and/or rays")
    ap.add_argument("--repeats", type=int, default=None, help="timed repeats (median)")
    ap.add_argument("--min-ms", type=float, default=None, help="time per repeat, ms")
    ap.add_argument("--out", type=Path, default=None, help="write JSON results here")
    args = ap.parse_args()
    cpu = args.device == "cpu"
    args.sizes = args.sizes or ([8, 10] if args.quick or cpu else [16, 18, 20])
    default_backends = "eager" if args.quick or cpu else "eager,compile,cuda-red,cuda-pairs,cuda"
    args.backends = (args.backends or default_backends).split(",")
    args.patterns = args.patterns.split(",")
    args.repeats = args.repeats or (3 if args.quick else 7)
    args.min_ms = args.min_ms or (5.0 if args.quick else 50.0)
    return args


def ray_points(n: int, device: torch.device, g: torch.Generator, samples: int = 128):
    """n points in [0, 1]^3, `samples` consecutive ones per ray, spread over the ray's chord
    through the cube (NeRF order)."""
    rays = math.ceil(n / samples)
    d = torch.randn(rays, 3, device=device, generator=g)
    d = d / d.norm(dim=-1, keepdim=True)
    d = torch.where(d.abs() < 1e-6, torch.full_like(d, 1e-6), d)
    target = 0.5 + 0.25 * (torch.rand(rays, 3, device=device, generator=g) - 0.5)
    origin = target - 2.0 * d  # outside the cube, ray through an inner point
    slab = torch.stack(((0.0 - origin) / d, (1.0 - origin) / d))  # [2, rays, 3]
    t0 = slab.min(0).values.max(-1).values
    t1 = slab.max(0).values.min(-1).values
    u = torch.linspace(0.0, 1.0, samples, device=device)
    t = t0[:, None] + (t1 - t0)[:, None] * u[None, :]
    pts = origin[:, None, :] + t[..., None] * d[:, None, :]
    return pts.reshape(-1, 3)[:n].clamp(0.0, 1.0).contiguous()


def make_sets(cfg: GridConfig, n: int, device: torch.device, pattern: str, seed: int):
    g = torch.Generator(device=device).manual_seed(seed)
    sets = []
    for _ in range(NUM_SETS):
        if pattern == "rays":
            x = ray_points(n, device, g)
        else:
            x = torch.rand(n, 3, device=device, generator=g)
        grad = torch.randn(n, cfg.out_dim, device=device, generator=g)
        sets.append((x, x.clone().requires_grad_(True), grad))
    return sets


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_ms(device: torch.device, fn: Callable[[int], None], iters: int) -> float:
    """Mean ms per call of fn(i) over `iters` calls (CUDA events on a GPU)."""
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for i in range(iters):
            fn(i)
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / iters
    t0 = time.perf_counter()
    for i in range(iters):
        fn(i)
    return (time.perf_counter() - t0) * 1e3 / iters


def bench_mode(
    encode: Encode,
    mode: str,
    table: torch.Tensor,
    layout: tuple,
    sets: list,
    device: torch.device,
    repeats: int,
    min_ms: float,
) -> dict:
    def step(i: int) -> None:
        x, x_req, grad = sets[i % NUM_SETS]
        out = encode(x_req if mode == "fwd+bwd+dx" else x, table, *layout)
        if mode != "fwd":
            out.backward(grad)
            table.grad = None
            x_req.grad = None

    t0 = time.perf_counter()
    step(0)  # first call: compile / build / allocator warm-up
    sync(device)
    first_s = time.perf_counter() - t0
    for i in range(1, 2 * NUM_SETS):
        step(i)
    sync(device)
    est = timed_ms(device, step, NUM_SETS)
    iters = max(NUM_SETS, math.ceil(min_ms / max(est, 1e-3)))
    times = [timed_ms(device, step, iters) for _ in range(repeats)]
    return {
        "ms": statistics.median(times),
        "ms_all": times,
        "iters": iters,
        "first_call_s": first_s,
    }


def check(
    encode: Encode,
    table: torch.Tensor,
    layout: tuple,
    x: torch.Tensor,
    grad: torch.Tensor,
    with_dx: bool,
) -> float:
    """Max relative error (forward, grad_table[, grad_x]) against the eager torch reference."""
    results = []
    for fn in (encode, grid_encode_torch_chunked):  # chunked: dx at 2^20 stalls in one call
        xr = x.clone().requires_grad_(with_dx)
        tr = table.detach().clone().requires_grad_(True)
        out = fn(xr, tr, *layout)
        out.backward(grad)
        results.append([out.detach(), tr.grad] + ([xr.grad] if with_dx else []))
    errs = [
        float((a.double() - b.double()).norm() / b.double().norm().clamp_min(1e-30))
        for a, b in zip(*results, strict=True)
    ]
    return max(errs)


def encoders(names: list[str], device: torch.device) -> dict[str, Encode]:
    out: dict[str, Encode] = {}
    for name in names:
        if name == "eager":  # in 2^18-point chunks when dx is asked for on a GPU (stall)
            out[name] = grid_encode_torch_chunked
        elif name == "compile":
            out[name] = backends.compiled_grid_encode(dynamic=False)
        elif name == "cuda":
            backends.resolve("cuda", device)  # raises a clear error if it cannot build
            out[name] = backends.encode_cuda
        elif name in ("cuda-red", "cuda-pairs1", "cuda-pairs") or name.startswith("cuda-merge"):
            backends.resolve("cuda", device)
            merge = int(name.removeprefix("cuda-merge")) if "merge" in name else 0
            pairs = {"cuda-red": 0, "cuda-pairs1": 1}.get(name, 2)
            out[name] = functools.partial(backends.encode_cuda, pair_atomics=pairs, merge_res=merge)
        else:
            raise SystemExit(f"unknown backend {name!r}")
    return out


def main() -> None:
    args = parse_args()
    device = torch.device(args.device)
    cfg = GridConfig()
    res, offsets, hashed = (t.to(device) for t in level_layout(cfg))
    layout = (res, offsets, hashed, 2**cfg.log2_table_size)
    g = torch.Generator(device=device).manual_seed(0)
    table = (
        0.1 * torch.randn(int(offsets[-1]), cfg.features_per_level, device=device, generator=g)
    ).requires_grad_(True)
    card = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    meta = {
        "device": card or "cpu",
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "config": cfg.model_dump(),
        "table_rows": int(offsets[-1]),
        "repeats": args.repeats,
    }
    print(
        f"# grid encoding benchmark on {meta['device']} (torch {torch.__version__}, "
        f"CUDA {torch.version.cuda}); paper config, {int(offsets[-1])} rows",
        flush=True,
    )
    encs = encoders(args.backends, device)
    rows = []
    for log2n in args.sizes:
        n = 2**log2n
        for p_i, pattern in enumerate(args.patterns):
            if pattern == "rays" and device.type != "cuda":
                continue
            sets = make_sets(cfg, n, device, pattern, seed=log2n)
            for name, enc in encs.items():
                if p_i > 0 and name == "eager":
                    continue  # the slow reference on the first pattern only
                row = {"backend": name, "pattern": pattern, "n": n}
                if name != "eager":  # first call of compile / build happens here
                    t0 = time.perf_counter()
                    row["rel_err"] = check(enc, table, layout, sets[0][0], sets[0][2],
                                           with_dx=name.startswith("cuda"))  # fmt: skip
                    row["check_s"] = time.perf_counter() - t0
                for mode in MODES:
                    if mode == "fwd+bwd+dx" and name == "compile":
                        continue
                    r = bench_mode(
                        enc, mode, table, layout, sets, device, args.repeats, args.min_ms
                    )
                    row[mode] = r
                    row[mode]["mpts"] = n / r["ms"] / 1e3
                rows.append(row)
                timings = ", ".join(f"{m} {row[m]['ms']:.3f} ms" for m in MODES if m in row)
                first = (
                    f" (check incl. first call {row['check_s']:.1f} s)" if "check_s" in row else ""
                )
                print(f"  {name:10s} {pattern:8s} 2^{log2n}: {timings}{first}", flush=True)
            del sets
            if device.type == "cuda":
                torch.cuda.empty_cache()
    print_table(rows, meta["device"])
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
        print(f"wrote {args.out}")


def print_table(rows: list[dict], card: str) -> None:
    print(f"\n### Grid encoding throughput, M points/s (median), {card}\n")
    print("| backend | points | N | fwd | fwd+bwd | fwd+bwd+dx | fwd+bwd ms | rel err |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        cells = [f"{r[m]['mpts']:.4g}" if m in r else "-" for m in MODES]
        err = f"{r['rel_err']:.1e}" if "rel_err" in r else "ref"
        print(
            f"| {r['backend']} | {r['pattern']} | 2^{int(math.log2(r['n']))} | "
            f"{' | '.join(cells)} | {r['fwd+bwd']['ms']:.3f} | {err} |"
        )
    base = {(r["n"], r["pattern"]): r for r in rows if r["backend"] == "compile"}
    for r in rows:
        ref = base.get((r["n"], r["pattern"]))
        if r["backend"].startswith("cuda") and ref is not None:
            speedup = ref["fwd+bwd"]["ms"] / r["fwd+bwd"]["ms"]
            print(
                f"\n{r['backend']} vs torch.compile, fwd+bwd, {r['pattern']}, "
                f"N=2^{int(math.log2(r['n']))}: {speedup:.2f}x",
                end="",
            )
    print()


if __name__ == "__main__":
    main()
