"""Time a 512x512 render of a fitted scene: occupancy + CUDA marcher vs the pure-torch paths.

Fits a DirectNeRF to views of a procedural scene for `--fit-seconds` (or loads nothing: the
point is a realistic density field with its occupancy grid), then renders one 512x512 view
with each renderer and reports the median of `--repeats` timed runs after `--warmup` runs
(CUDA events on the GPU, a host clock on the CPU), samples queried per pixel, and the PSNR of
each render against the CUDA one (they should agree to float rounding).

    python benchmarks/bench_render.py --out render.json
    python benchmarks/bench_render.py --device cpu --quick --out render_cpu.json

Speed options of the default render (see render_variants.py for the variant syntax):
`--variants all` times a grid of them (precision, folded MLP, round schedule) against the
default in one run (median ms, queries per pixel, rounds, PSNR vs the default render);
`--profile` adds a per-stage breakdown (march, grid, MLP, decode, compositing, bookkeeping),
the round log and a kernel profile of the default (and of each `--profile-variants` entry);
`--no-baselines` skips the slow renderers (no occupancy, pure torch).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_fit_views import QUICK  # noqa: E402
from render_variants import (  # noqa: E402
    expand,
    print_profile,
    print_variants,
    profile_variant,
    psnr,
    run_variants,
    timed,
)

from hyperfields_cli.guidance.posed_views import load_views  # noqa: E402
from hyperfields_cli.render.cameras import camera_rays, orbit_cameras  # noqa: E402
from hyperfields_cli.render.marcher import default_step, march_rays, resolve_backend  # noqa: E402
from hyperfields_cli.render.renderer import render_image, render_rays  # noqa: E402
from hyperfields_cli.synthetic.dataset import export_nerf_dataset  # noqa: E402
from hyperfields_cli.synthetic.scene import SceneSpec  # noqa: E402
from hyperfields_cli.train.fit_views import FitViewsConfig, fit_views  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--quick", action="store_true", help="tiny sizes for a CPU logic check")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--size", type=int)
    ap.add_argument("--fit-seconds", type=float)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeats", type=int)
    ap.add_argument("--steps-across", type=int, default=1024, help="march step = diagonal / this")
    ap.add_argument(
        "--cpu-kernels",
        action="store_true",
        help="on the CPU, also time the marcher kernels' CPU build (logic check)",
    )
    ap.add_argument("--ref-samples", type=int, default=128, help="bins of the render_rays baseline")
    ap.add_argument(
        "--variants",
        nargs="+",
        default=[],
        metavar="SPEC",
        help="speed variants of the default render to time, e.g. all | fold+bf16+min=4+lazy",
    )
    ap.add_argument("--profile", action="store_true", help="per-stage breakdown of the default")
    ap.add_argument(
        "--profile-variants", nargs="+", default=[], metavar="SPEC", help="also profile these"
    )
    ap.add_argument(
        "--no-baselines",
        action="store_true",
        help="skip the slow renderers (cuda without occupancy, torch marcher, render_rays)",
    )
    ap.add_argument("--min-psnr", type=float, default=40.0, help="quality bar of --variants")
    args = ap.parse_args()
    q = args.quick
    size = args.size or (48 if q else 512)
    repeats = args.repeats or (2 if q else 10)
    device = torch.device(args.device)
    if device.type == "cpu" and q:
        torch.set_num_threads(1)  # tiny tensors: one thread is faster and steady on busy hosts
    card = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"CPU ({torch.get_num_threads()} threads)"
    )

    with tempfile.TemporaryDirectory(prefix="hf-bench-render-") as tmp:
        export_nerf_dataset(
            SceneSpec("chair", "wood"),
            tmp,
            views=12 if q else 60,
            size=32 if q else 128,
            test_views=2,
            device=device,
        )
        data = load_views(tmp)
    cfg = FitViewsConfig(time_limit_s=args.fit_seconds or (8.0 if q else 20.0))
    if q:
        cfg = cfg.model_copy(update=QUICK)
    model, fit = fit_views(data, cfg, device, progress=False)
    occ = model.occupancy
    # the fitted SceneField against plain white (the training background), for every renderer
    field = dataclasses.replace(model.field(), background_fn=torch.ones_like)
    print(
        f"fitted for {fit['seconds']:.1f}s ({fit['steps']} steps): held-out PSNR "
        f"{fit['psnr_test']:.2f} dB, occupied cells {fit['occupied_fraction']:.3f}"
    )

    cams = orbit_cameras(
        torch.tensor([65.0]), torch.tensor([30.0]), torch.tensor([2.2]), torch.tensor([45.0]), size
    ).to(device)
    step = default_step(1.0, args.steps_across)
    has_cuda_marcher = resolve_backend("auto", device) is not None or (
        args.cpu_kernels and resolve_backend("cuda", device) is not None
    )
    counts: dict[str, int] = {}

    def marcher(backend: str, grid) -> Callable[[], torch.Tensor]:
        def run() -> torch.Tensor:
            return render_image(field, cams, occupancy=grid, step=step, backend=backend).rgb

        return run

    def reference() -> torch.Tensor:
        o, d = camera_rays(cams)
        with torch.no_grad():
            parts = [
                render_rays(field, o[0, j : j + 8192], d[0, j : j + 8192], args.ref_samples).rgb
                for j in range(0, o.shape[1], 8192)
            ]
        return torch.cat(parts, dim=1)

    variants: list[tuple[str, Callable[[], torch.Tensor]]] = []
    if has_cuda_marcher:
        variants += [("cuda marcher + occupancy", marcher("cuda", occ))]
        if not args.no_baselines:
            variants += [("cuda marcher, no occupancy", marcher("cuda", None))]
    if not args.no_baselines or not has_cuda_marcher:
        variants += [("torch marcher + occupancy", marcher("torch", occ))]
    if not args.no_baselines:
        variants += [(f"torch render_rays, {args.ref_samples} bins (reference)", reference)]
    o, d = camera_rays(cams)
    with torch.no_grad():
        for name, backend, grid in (("cuda", "cuda", occ), ("torch", "torch", occ)):
            if backend == "cuda" and not has_cuda_marcher:
                continue
            out = march_rays(field, o[0], d[0], grid, step=step, backend=backend, training=False)
            counts[name] = out.num_queried

    rows, images = [], {}
    for name, fn in variants:
        reps = repeats if "reference" not in name and "torch" not in name else max(2, repeats // 3)
        ms, all_ms, img = timed(fn, device, args.warmup, reps)
        images[name] = img.reshape(-1, 3)
        rows.append({"variant": name, "median_ms": ms, "times_ms": all_ms})
        print(f"{name}: {ms:.2f} ms", flush=True)
    base = images[variants[0][0]]
    for r in rows:
        r["psnr_vs_first"] = psnr(images[r["variant"]], base)
    px = size * size
    result = {
        "card": card,
        "device": str(device),
        "torch": torch.__version__,
        "size": size,
        "quick": q,
        "step": step,
        "fit": {k: v for k, v in fit.items() if k != "history"},
        "queries_per_pixel": {k: v / px for k, v in counts.items()},
        "rows": rows,
    }
    print(f"\n### {size}x{size} render of a fitted wooden chair on {card}\n")
    print(
        f"march step {step:.5f} (diagonal / {args.steps_across}), median of timed runs after "
        f"{args.warmup} warm-up runs\n"
    )
    print(f"| renderer | median ms | speed-up | PSNR vs `{variants[0][0]}` |")
    print("|---|---:|---:|---:|")
    slowest = max(r["median_ms"] for r in rows)
    for r in rows:
        print(
            f"| {r['variant']} | {r['median_ms']:.2f} | {slowest / r['median_ms']:.1f}x | "
            f"{r['psnr_vs_first']:.1f} |"
        )
    print(
        "\nfield queries per pixel: "
        + ", ".join(f"{k} {v:.2f}" for k, v in result["queries_per_pixel"].items())
    )

    # speed options of the default render: the CUDA marcher + occupancy (torch without it)
    fast_backend = "cuda" if has_cuda_marcher else "torch"

    def render(kw: dict[str, Any]) -> torch.Tensor:
        return render_image(
            field, cams, occupancy=occ, step=step, backend=fast_backend, **kw
        ).rgb.reshape(-1, 3)

    if args.variants:
        vrows = run_variants(render, expand(args.variants), device, args.warmup, repeats, px)
        print(f"\n### speed variants ({fast_backend} marcher + occupancy, {size}x{size}, {card})")
        print_variants(vrows, args.min_psnr)
        result["variants"] = vrows
    if args.profile or args.profile_variants:
        specs = expand(args.profile_variants)
        runs = 2 if q else 5
        profiles = [profile_variant(render, v, device, runs) for v in specs]
        print(f"\n### profile ({fast_backend} marcher + occupancy, {size}x{size}, {card})")
        print_profile(profiles, px)
        result["profile"] = profiles
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
