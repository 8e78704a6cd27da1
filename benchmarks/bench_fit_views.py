"""Fit one NeRF from posed views of a procedural scene: held-out PSNR against training time.

Exports `--views` training views (default 100 at 200x200) and a test ring of an in-house scene
(a wooden chair), fits a DirectNeRF with `fit_views` for `--seconds` of training time (clock
paused during the periodic evaluations, which use `--eval-views` test views), and reports
held-out PSNR over time and at the end on all test views. Target: >= 30 dB within 60 s (H100).

    python benchmarks/bench_fit_views.py --out fit_views.json              # GPU, full size
    python benchmarks/bench_fit_views.py --device cpu --quick --out x.json  # logic check
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hyperfields_cli.field.grid import GridConfig  # noqa: E402
from hyperfields_cli.field.mlp import SceneMLPConfig  # noqa: E402
from hyperfields_cli.guidance.posed_views import load_views  # noqa: E402
from hyperfields_cli.render.marcher import resolve_backend  # noqa: E402
from hyperfields_cli.synthetic.dataset import export_nerf_dataset  # noqa: E402
from hyperfields_cli.synthetic.scene import SceneSpec  # noqa: E402
from hyperfields_cli.train.fit_views import FitViewsConfig, fit_views  # noqa: E402

TARGET_DB, TARGET_S = 30.0, 60.0


def card_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({torch.get_num_threads()} threads)"


QUICK = {
    "grid": GridConfig(num_levels=6, base_resolution=8, finest_resolution=128, log2_table_size=14),
    "mlp": SceneMLPConfig(depth=3, width=32, cond_dim=8),
    "max_rays": 512,
    "min_rays": 128,
    "target_samples": 8192,
    "query_budget": 32768,
    "steps_across": 128,
    "occupancy_resolution": 32,
}
"""--quick FitViewsConfig fields (also bench_render's): tiny model and batches for a CPU."""


def config(args: argparse.Namespace) -> FitViewsConfig:
    if args.quick:
        return FitViewsConfig(
            time_limit_s=args.seconds,
            eval_every_s=args.eval_every,
            eval_views=args.eval_views,
            **QUICK,
            grid_lr=args.grid_lr,
            mlp_lr=args.mlp_lr,
            march_backend=args.march_backend,
            grid_backend=args.grid_backend,
        )
    return FitViewsConfig(
        time_limit_s=args.seconds,
        eval_every_s=args.eval_every,
        eval_views=args.eval_views,
        grid_lr=args.grid_lr,
        mlp_lr=args.mlp_lr,
        target_samples=args.target_samples,
        march_backend=args.march_backend,
        grid_backend=args.grid_backend,
        grid=GridConfig(log2_table_size=args.log2_table),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--quick", action="store_true", help="tiny sizes for a CPU logic check")
    ap.add_argument("--out", type=Path, help="write results as JSON here")
    ap.add_argument("--data", type=Path, help="reuse/export the dataset here (default: temp)")
    ap.add_argument("--shape", default="chair")
    ap.add_argument("--attribute", default="wood")
    ap.add_argument("--views", type=int)
    ap.add_argument("--test-views", type=int)
    ap.add_argument("--size", type=int)
    ap.add_argument("--seconds", type=float)
    ap.add_argument("--eval-every", type=float)
    ap.add_argument("--eval-views", type=int, default=5)
    ap.add_argument("--grid-lr", type=float, default=FitViewsConfig().grid_lr)
    ap.add_argument("--mlp-lr", type=float, default=FitViewsConfig().mlp_lr)
    ap.add_argument("--target-samples", type=int, default=1 << 18)
    ap.add_argument("--log2-table", type=int, default=19)
    ap.add_argument("--march-backend", default="auto", choices=["auto", "torch", "cuda"])
    ap.add_argument("--grid-backend", default="auto")
    args = ap.parse_args()
    q = args.quick
    args.views = args.views or (12 if q else 100)
    args.test_views = args.test_views or (3 if q else 25)
    args.size = args.size or (32 if q else 200)
    args.seconds = args.seconds or (20.0 if q else TARGET_S)
    args.eval_every = args.eval_every or (5.0 if q else 5.0)
    device = torch.device(args.device)
    if device.type == "cpu" and q:
        torch.set_num_threads(1)  # tiny tensors: one thread is faster and steady on busy hosts
    torch.manual_seed(0)

    tmp = None
    data = args.data
    if data is None:
        tmp = tempfile.TemporaryDirectory(prefix="hf-bench-views-")
        data = Path(tmp.name)
    if not (data / "transforms_train.json").is_file():
        t0 = time.perf_counter()
        export_nerf_dataset(
            SceneSpec(args.shape, args.attribute),
            data,
            views=args.views,
            size=args.size,
            seed=0,
            test_views=args.test_views,
            device=device,
        )
        print(
            f"exported {args.views}+{args.test_views} views of {args.size}px in "
            f"{time.perf_counter() - t0:.1f}s to {data}"
        )
    dataset = load_views(data)
    cfg = config(args)
    march = "cuda" if resolve_backend(cfg.march_backend, device) is not None else "torch"

    # Warm-up (untimed): builds the CUDA extensions and initialises cuBLAS and the allocator.
    fit_views(
        dataset,
        cfg.model_copy(update={"steps": 20, "time_limit_s": None, "eval_every_s": None}),
        device,
        progress=False,
    )
    history: list[dict[str, float]] = []
    model, metrics = fit_views(dataset, cfg, device, progress=True, on_eval=history.append)
    reached = next((h["seconds"] for h in history if h["psnr_test"] >= TARGET_DB), None)
    result = {
        "card": card_name(device),
        "device": str(device),
        "torch": torch.__version__,
        "scene": f"{args.attribute} {args.shape}",
        "views": len(dataset.train),
        "test_views": len(dataset.test),
        "size": dataset.train.width,
        "quick": q,
        "march_backend": march,
        "grid_backend": model.grid.backend_for(device),
        "config": json.loads(cfg.model_dump_json()),
        "final": {k: v for k, v in metrics.items() if k != "history"},
        "history": history,
        "seconds_to_30db_eval_subset": reached,
        "pass": (not q)
        and metrics["psnr_test"] >= TARGET_DB
        and metrics["seconds"] <= TARGET_S + 1.0,
    }
    print(
        f"\n### fit_views: {result['scene']}, {result['views']} views "
        f"{result['size']}x{result['size']} on {result['card']}\n"
    )
    print(
        f"march backend `{march}`, grid backend `{result['grid_backend']}`, "
        f"eval on {args.eval_views} test views during training\n"
    )
    print("| train time (s) | steps | held-out PSNR (dB) |")
    print("|---:|---:|---:|")
    for h in history:
        print(f"| {h['seconds']:.1f} | {int(h['step'])} | {h['psnr_test']:.2f} |")
    f = result["final"]
    print(
        f"| **{f['seconds']:.1f}** | **{f['steps']}** | **{f['psnr_test']:.2f}** "
        f"(all {len(dataset.test)} test views) |"
    )
    print(
        f"\n{f['steps_per_s']:.1f} steps/s, occupied cells {f['occupied_fraction']:.3f}; "
        f"target >= {TARGET_DB} dB in <= {TARGET_S:.0f} s: "
        f"{'PASS' if result['pass'] else 'n/a (quick)' if q else 'FAIL'}"
    )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
