"""Scale-out check: data-parallel `distill` on 2 GPUs vs 1, and 2 packs taught in parallel.

Measures, on one machine with (at least) two GPUs:
  1. distill at the same global batch on 1 GPU (in-process) and on 2 GPUs (torchrun, DDP):
     loss curves (must agree within noise) and scenes/s (target >= 1.8x);
  2. teach: 1 pack in 1 torchrun worker vs 2 packs in 2 workers (one per GPU), wall clock
     including process start (target: about the time of one, <= 1.2x).
Teachers for distill are procedural packs (exact teachers), so no trained artifacts are
needed. Prints a markdown table last and writes everything (curves included) to --out.

    python benchmarks/bench_scaleout.py --out scaleout.json                   # 2 GPUs
    python benchmarks/bench_scaleout.py --device cpu --quick --out x.json     # gloo, CPU
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hyperfields_cli.artifacts import ArtifactStore  # noqa: E402
from hyperfields_cli.config import DistillConfig, TeachConfig  # noqa: E402
from hyperfields_cli.field.grid import GridConfig  # noqa: E402
from hyperfields_cli.field.mlp import SceneMLPConfig  # noqa: E402
from hyperfields_cli.hypernet.hypernet import HyperNetConfig  # noqa: E402
from hyperfields_cli.hypernet.model import HyperFieldsConfig, ProbeConfig  # noqa: E402
from hyperfields_cli.train import distributed  # noqa: E402
from hyperfields_cli.train.distill import distill  # noqa: E402
from hyperfields_cli.train.steps import RayConfig  # noqa: E402
from hyperfields_cli.train.trainer import OptimConfig  # noqa: E402

SPEEDUP_TARGET, CURVE_TOL, TEACH_RATIO_MAX = 1.8, 0.05, 1.2


def sizes(quick: bool) -> dict[str, Any]:
    """Model / rays / optimiser: the defaults on GPU, tiny ones for the CPU logic check."""
    optim = dict(log_every=1, checkpoint_every=100_000)
    if not quick:
        return {"optim": {**DistillConfig.model_fields["optim"].default.model_dump(), **optim}}
    model = HyperFieldsConfig(
        hypernet=HyperNetConfig(
            dim=32, depth=1, heads=4, ffn_mult=2.0, head_hidden=32, modulation_rank=4
        ),
        grid=GridConfig(num_levels=4, base_resolution=8, finest_resolution=64, log2_table_size=12),
        mlp=SceneMLPConfig(depth=4, width=32, cond_dim=16),
        probe=ProbeConfig(num_points=256),
    )
    return {
        "model": model,
        "rays": RayConfig(image_size=24, rays_per_step=256, num_samples=32),
        "optim": OptimConfig(lr=2e-3, grid_lr=3e-2, warmup_steps=5, **optim),
        "eval_views": 1,
        "eval_size": 16,
    }


def distill_run(
    args: argparse.Namespace, tmp: Path, store: ArtifactStore, gpus: int, iters: int, name: str
) -> dict[str, Any]:
    """One distill run; its per-step global-mean losses, throughput and peak memory."""
    manifest = tmp / "teachers.toml"
    manifest.write_text("".join(f'[[teachers]]\npack = "{p}"\n' for p in args.teachers))
    cfg = DistillConfig(
        teachers=manifest,
        name=name,
        iters=iters,
        meta_batch=args.meta_batch,
        device=args.device,
        gpus=gpus,
        run_dir=tmp / "runs" / name,
        **sizes(args.quick),
    )
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    art = distill(cfg, store)
    wall = time.perf_counter() - t0
    assert art is not None
    state = json.loads((tmp / "runs" / name / "checkpoint" / "state.json").read_text())
    m = art.manifest.metrics
    peak = None  # GiB, of the in-process (1-GPU) run only
    if gpus == 1 and args.device != "cpu" and torch.cuda.is_available():
        peak = torch.cuda.max_memory_allocated() / 2**30
        torch.cuda.empty_cache()  # leave the GPU to the workers that come next
    return {
        "ref": art.ref,
        "versions": store.versions("student", name),
        "wall_s": wall,
        "train_s": m["train_seconds"],
        "scenes_per_s": m["scenes_per_second"],
        "world_size": m["world_size"],
        "peak_gib": peak,
        "loss": [h["loss"] for h in state["history"]],
        "steady_scenes_per_s": steady_rate(state["history"], args.meta_batch),
    }


def steady_rate(history: list[dict[str, float]], batch: int, skip: float = 0.2) -> float | None:
    """Scenes/s after the first `skip` of the steps (one-off costs: CUDA-graph captures,
    allocator growth, NCCL set-up), from the steps' issue times in the history."""
    timed = [h for h in history if "seconds" in h]
    if len(timed) < 5:
        return None
    first, last = timed[int(len(timed) * skip)], timed[-1]
    return (last["step"] - first["step"]) * batch / max(last["seconds"] - first["seconds"], 1e-9)


def teach_run(
    args: argparse.Namespace, store: ArtifactStore, packs: list[str], iters: int
) -> dict[str, Any]:
    """Teach `packs` in len(packs) torchrun workers (one pack each); wall clock of it all."""
    extra = {k: v for k, v in sizes(args.quick).items() if k != "optim"}
    cfg = TeachConfig(prompt_pack=packs[0], iters=iters, device=args.device, **extra)
    job = {"config": cfg.model_dump(mode="json"), "packs": packs, "store": str(store.root)}
    t0 = time.perf_counter()
    refs = distributed.launch("teach", job, len(packs), timeout=args.timeout)
    wall = time.perf_counter() - t0
    arts = [store.resolve(r) for r in refs]
    return {
        "refs": refs,
        "wall_s": wall,
        "train_s": [a.manifest.metrics["train_seconds"] for a in arts],
        "devices": [a.manifest.config["device"] for a in arts],
    }


def windows_rel_diff(a: list[float], b: list[float], n: int = 10) -> float:
    """Largest relative gap between the two curves' means over n equal windows of steps."""
    k = max(1, len(a) // n)
    gaps = []
    for i in range(0, len(a) - k + 1, k):
        ma, mb = sum(a[i : i + k]) / k, sum(b[i : i + k]) / k
        gaps.append(abs(mb - ma) / max(abs(ma), 1e-12))
    return max(gaps)


def table(r: dict[str, Any]) -> str:
    d1, d2, t1, t2 = r["distill_1"], r["distill_2"], r["teach_1"], r["teach_2"]
    ok = r["checks"]
    rows = [
        ("| measure | 1 process | 2 processes | ratio / gap | target | ok |"),
        ("|---|---|---|---|---|---|"),
        (
            f"| distill scenes/s (global batch {r['meta_batch']}) | {d1['scenes_per_s']:.1f} | "
            f"{d2['scenes_per_s']:.1f} | {r['speedup']:.2f}x | >= {SPEEDUP_TARGET}x | "
            f"{ok['speedup']} |"
        ),
        (
            f"| distill scenes/s after the first 20% of steps | "
            f"{d1['steady_scenes_per_s'] or 0:.1f} | {d2['steady_scenes_per_s'] or 0:.1f} | "
            f"{r['steady_speedup']:.2f}x | >= {SPEEDUP_TARGET}x | {ok['steady_speedup']} |"
        ),
        (
            f"| distill loss, first step | {d1['loss'][0]:.5f} | {d2['loss'][0]:.5f} | "
            f"{r['first_step_rel_diff']:.1e} | same data | - |"
        ),
        (
            f"| distill loss, mean of last 10% | {r['tail_1']:.5f} | {r['tail_2']:.5f} | "
            f"{r['tail_rel_diff']:.2%} | <= {CURVE_TOL:.0%} | {ok['tail']} |"
        ),
        (
            f"| distill loss curve, worst of 10 windows | - | - | {r['curve_rel_diff']:.2%} | "
            f"<= {CURVE_TOL:.0%} | {ok['curve']} |"
        ),
        (
            f"| distill artifacts written (rank 0 only) | {len(d1['versions'])} | "
            f"{len(d2['versions'])} | - | 1 | {ok['one_artifact']} |"
        ),
        (f"| distill peak GPU memory, GiB | {d1['peak_gib'] or 0:.1f} | - | - | fits | - |"),
        (
            f"| teach wall s (1 pack vs 2 packs) | {t1['wall_s']:.1f} | {t2['wall_s']:.1f} | "
            f"{r['teach_ratio']:.2f}x | <= {TEACH_RATIO_MAX}x | {ok['teach']} |"
        ),
        (
            f"| teach train s per pack | {t1['train_s'][0]:.1f} | "
            f"{' / '.join(f'{s:.1f}' for s in t2['train_s'])} | - | - | - |"
        ),
    ]
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--quick", action="store_true", help="tiny sizes, few steps (CPU: gloo)")
    ap.add_argument("--out", type=Path, help="write results as JSON here")
    ap.add_argument("--iters", type=int, help="distill steps (default 300; quick 6)")
    ap.add_argument("--teach-iters", type=int, help="teach steps (default 600; quick 4)")
    ap.add_argument("--meta-batch", type=int, help="global scenes per step (default 16; quick 2)")
    ap.add_argument("--teachers", nargs="+", default=["all_train"], help="procedural packs")
    ap.add_argument("--packs", nargs=2, default=["bowls", "vases"], help="the 2 packs to teach")
    ap.add_argument("--timeout", type=float, default=540.0, help="per launched run, seconds")
    args = ap.parse_args()
    args.iters = args.iters or (6 if args.quick else 300)
    args.teach_iters = args.teach_iters or (4 if args.quick else 600)
    args.meta_batch = args.meta_batch or (2 if args.quick else 16)
    if args.device != "cpu":
        distributed.check_gpus(2, args.device)
    torch.set_num_threads(1 if args.device == "cpu" else torch.get_num_threads())
    card = torch.cuda.get_device_name(0) if args.device != "cpu" else "cpu (gloo)"
    print(
        f"device: {card}; global batch {args.meta_batch}; distill {args.iters} steps; "
        f"teach {args.teach_iters} steps",
        flush=True,
    )

    r: dict[str, Any] = {
        "device": card,
        "quick": args.quick,
        "meta_batch": args.meta_batch,
        "iters": args.iters,
        "teach_iters": args.teach_iters,
        "teachers": args.teachers,
        "packs": args.packs,
    }

    def keep(key: str, value: dict[str, Any], line: str) -> dict[str, Any]:
        """Record one phase (and rewrite --out, so a cut-off run keeps what it measured)."""
        r[key] = value
        print(line, flush=True)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(r, indent=2))
        return value

    with tempfile.TemporaryDirectory(prefix="bench-scaleout-") as t:
        tmp, store = Path(t), ArtifactStore(Path(t) / "store")
        if not args.quick:  # build / load the CUDA kernels and warm both paths up
            distill_run(args, tmp, store, 1, 3, "warm-1")
            distill_run(args, tmp, store, 2, 3, "warm-2")
            teach_run(args, store, args.packs[:1], 3)
        d1 = distill_run(args, tmp, store, 1, args.iters, "bench-1")
        keep("distill_1", d1, f"distill 1 GPU: {d1['scenes_per_s']} scenes/s")
        d2 = distill_run(args, tmp, store, 2, args.iters, "bench-2")
        keep("distill_2", d2, f"distill 2 GPUs: {d2['scenes_per_s']} scenes/s")
        t1 = teach_run(args, store, args.packs[:1], args.teach_iters)
        keep("teach_1", t1, f"teach 1 pack: {t1['wall_s']:.1f} s")
        t2 = teach_run(args, store, args.packs, args.teach_iters)
        keep("teach_2", t2, f"teach 2 packs: {t2['wall_s']:.1f} s")

    k = max(1, len(d1["loss"]) // 10)
    tail_1, tail_2 = sum(d1["loss"][-k:]) / k, sum(d2["loss"][-k:]) / k
    r.update(
        {
            "speedup": d2["scenes_per_s"] / d1["scenes_per_s"],
            "steady_speedup": (d2["steady_scenes_per_s"] or 0) / (d1["steady_scenes_per_s"] or 1),
            "first_step_rel_diff": abs(d2["loss"][0] - d1["loss"][0]) / d1["loss"][0],
            "tail_1": tail_1,
            "tail_2": tail_2,
            "tail_rel_diff": abs(tail_2 - tail_1) / tail_1,
            "curve_rel_diff": windows_rel_diff(d1["loss"], d2["loss"]),
            "teach_ratio": t2["wall_s"] / t1["wall_s"],
        }
    )
    r["checks"] = {
        "speedup": r["speedup"] >= SPEEDUP_TARGET,
        "steady_speedup": r["steady_speedup"] >= SPEEDUP_TARGET,
        "tail": r["tail_rel_diff"] <= CURVE_TOL,
        "curve": r["curve_rel_diff"] <= CURVE_TOL,
        "one_artifact": d2["versions"] == ["v1"],
        "teach": r["teach_ratio"] <= TEACH_RATIO_MAX,
    }
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(r, indent=2))
    if args.quick:
        print("(quick mode: timings are not meaningful, only the logic is checked)")
    print(table(r))


if __name__ == "__main__":
    main()
