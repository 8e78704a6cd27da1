"""Finetuning speed-up: steps to a PSNR threshold from the student's guess vs from scratch.

For every prompt of the `ood` pack (reserved shapes and attributes) and the first
`--zero-shot` prompts of `zero_shot`, the same optimisation (synthetic guidance, same
optimiser, budget, rays per step and field architecture) runs from two starts:
`scratch` (a random single-scene NeRF) and `student` (the student's prediction for the
prompt: MLP weights + cond + its grid and background). Held-out PSNR against the procedural
ground truth is measured along the way. Threshold = the scratch run's final PSNR - 1 dB;
speed-up = scratch's steps to reach it / the student start's steps. Also reported: PSNR of
both after `--small-budget` steps. Prints progress, a markdown table last; JSON to --out, a
PSNR-vs-step figure (median over the ood prompts, 25-75% band) to --figure.

`--modes weights hypernet` adds the paper's variant (the whole hypernetwork optimised on the
one prompt, baked at the end) as a second student-start column, against the same baseline.
`--grid-scale s` multiplies the student's grid table by s: the field is unchanged (features
are L2-normalised per point) but the grid becomes more plastic (see train/finetune.py).

    python benchmarks/bench_finetune.py --student NAME@vN --out finetune.json \
        --figure docs/finetune_speedup.png                          # GPU, ~5 min on an H100
    python benchmarks/bench_finetune.py --device cpu --quick --student PATH   # logic check
    python benchmarks/bench_finetune.py --replot finetune.json --figure F.png   # no training
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hyperfields_cli.artifacts import ArtifactStore  # noqa: E402
from hyperfields_cli.config import resolve_device  # noqa: E402
from hyperfields_cli.synthetic.packs import load_pack  # noqa: E402
from hyperfields_cli.text.cache import encode_prompts  # noqa: E402
from hyperfields_cli.train.finetune import FINETUNE_OPTIM, load_student  # noqa: E402
from hyperfields_cli.train.finetune_core import (  # noqa: E402
    Curve,
    eval_schedule,
    make_start,
    optimise,
    synthetic_evaluator,
    synthetic_step,
)
from hyperfields_cli.train.steps import RayConfig  # noqa: E402
from hyperfields_cli.train.trainer import OptimConfig  # noqa: E402


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--student", default="builtin", help="NAME@vN, a folder, or builtin")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--quick", action="store_true", help="tiny sizes for a CPU logic check")
    ap.add_argument("--zero-shot", type=int, help="zero_shot prompts to add (3; quick 1)")
    ap.add_argument("--ood", type=int, help="only the first N ood prompts (quick: 2)")
    ap.add_argument("--budget", type=int, help="steps per run (default 600; quick 60)")
    ap.add_argument("--small-budget", type=int, help="steps for the fixed-budget column")
    ap.add_argument("--rays-per-step", type=int)
    ap.add_argument("--samples", type=int, help="samples per ray in training")
    ap.add_argument("--eval-views", type=int, help="held-out views (4; quick 2)")
    ap.add_argument("--eval-size", type=int)
    ap.add_argument("--eval-samples", type=int)
    ap.add_argument("--lr", type=float, default=FINETUNE_OPTIM.lr)
    ap.add_argument("--grid-lr", type=float, default=FINETUNE_OPTIM.grid_lr)
    ap.add_argument("--warmup", type=int, default=FINETUNE_OPTIM.warmup_steps)
    ap.add_argument("--grid-scale", type=float, default=1.0, help="student table x this")
    ap.add_argument("--modes", nargs="+", default=["weights"], choices=["weights", "hypernet"])
    ap.add_argument(
        "--max-minutes", type=float, help="skip prompts past this (default 6; quick: none)"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--figure", type=Path)
    ap.add_argument("--replot", type=Path, help="redraw figure + table from a --out JSON")
    a = ap.parse_args()
    q = a.quick
    a.budget = a.budget or (60 if q else 600)
    a.max_minutes = a.max_minutes or (None if q else 6.0)
    a.small_budget = a.small_budget or max(1, a.budget // 6)
    a.rays_per_step = a.rays_per_step or (256 if q else 2048)
    a.samples = a.samples or (32 if q else 64)
    a.eval_size = a.eval_size or (24 if q else 96)
    a.eval_samples = a.eval_samples or (48 if q else 128)
    a.eval_views = a.eval_views or (2 if q else 4)
    a.zero_shot = a.zero_shot if a.zero_shot is not None else (1 if q else 3)
    a.ood = a.ood or (2 if q else None)
    return a


def prompt_list(a: argparse.Namespace) -> list[tuple[str, object, str]]:
    """(text, scene, split) for the ood pack (all or first N) + the first zero_shot prompts."""
    ood = load_pack("ood").prompts[: a.ood]
    zs = load_pack("zero_shot").prompts[: a.zero_shot]
    return [(p.text, p.scene_or_match(), "ood") for p in ood] + [
        (p.text, p.scene_or_match(), "zero_shot") for p in zs
    ]


def card(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({torch.get_num_threads()} threads)"


def at_step(curve: Curve, step: int) -> float:
    """PSNR at the last evaluation at or before `step`."""
    return [v for s, v in curve.points if s <= step][-1]


def speedup(scratch: int | None, other: int | None) -> float | None:
    """scratch steps / other steps; inf when the other start is already there at step 0."""
    if scratch is None or other is None:
        return None
    return float("inf") if other == 0 else scratch / other


def run_prompt(student, prompt, spec, a, device, schedule, optim, rays) -> dict:  # noqa: ANN001
    text = encode_prompts([prompt], student.config.text_encoder, student.config.text_revision)
    text = text.to(device)
    evaluate = synthetic_evaluator(spec, device, a.eval_views, a.eval_size, a.eval_samples)
    curves: dict[str, Curve] = {}
    for label, init, mode in [("scratch", "scratch", "weights")] + [
        (f"student_{m}", "student", m) for m in a.modes
    ]:
        torch.manual_seed(a.seed)  # the samples' jitter: every start sees the same stream
        start = make_start(student, text, init, mode, a.seed, a.grid_scale)
        step = synthetic_step(start, spec, rays, device, a.seed)
        _, curves[label] = optimise(
            start, step, optim, a.budget, evaluate, schedule, show_progress=False
        )
    base = curves["scratch"]
    threshold = base.points[-1][1] - 1.0
    row: dict = {"prompt": prompt, "threshold_db": threshold, "runs": {}}
    base_steps = base.first_step_reaching(threshold)
    for label, c in curves.items():
        steps_to = c.first_step_reaching(threshold)
        row["runs"][label] = {
            "steps_to_threshold": steps_to,
            "speedup": None if label == "scratch" else speedup(base_steps, steps_to),
            "psnr_init": c.points[0][1],
            # how many scratch steps the start is worth: scratch's first step at its PSNR
            "start_worth_scratch_steps": base.first_step_reaching(c.points[0][1]),
            "psnr_small_budget": at_step(c, a.small_budget),
            "psnr_final": c.points[-1][1],
            "train_seconds": c.train_seconds,
            "steps_per_s": a.budget / max(c.train_seconds, 1e-9),
            "curve": c.points,
        }
    return row


def fmt_speed(x: float | None) -> str:
    if x is None:
        return "not reached"
    return "at init" if x == float("inf") else f"{x:.1f}x"


def median_speedup(rows: list[dict], label: str) -> float | None:
    vals = [r["runs"][label]["speedup"] for r in rows]
    vals = [0.0 if v is None else v for v in vals]  # never reached counts as no speed-up
    return statistics.median(vals) if vals else None


def markdown(result: dict) -> str:
    a, rows, labels = result["settings"], result["rows"], result["student_labels"]
    k = a["small_budget"]
    head = ["prompt", "split", "zero-shot dB", "threshold dB", "scratch steps"]
    for lab in labels:
        head += [f"{lab} steps", f"{lab} speed-up", f"{lab} start = scratch step"]
    head += [f"scratch @{k}"] + [f"{lab} @{k}" for lab in labels]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        runs = r["runs"]
        cells = [
            r["prompt"],
            r["split"],
            f"{runs[labels[0]]['psnr_init']:.2f}",
            f"{r['threshold_db']:.2f}",
            str(runs["scratch"]["steps_to_threshold"]),
        ]
        for lab in labels:
            run = runs[lab]
            cells += [
                str(run["steps_to_threshold"]),
                fmt_speed(run["speedup"]),
                str(run.get("start_worth_scratch_steps", "-")),
            ]
        cells += [f"{runs['scratch']['psnr_small_budget']:.2f}"]
        cells += [f"{runs[lab]['psnr_small_budget']:.2f}" for lab in labels]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for split in ("ood", "zero_shot"):
        sub = [r for r in rows if r["split"] == split]
        if not sub:
            continue
        med_k = {x: statistics.median(r["runs"][x]["psnr_small_budget"] for r in sub)
                 for x in ["scratch", *labels]}  # fmt: skip
        for lab in labels:
            lines.append(
                f"- {split} ({len(sub)} prompts), {lab}: median speed-up "
                f"{fmt_speed(median_speedup(sub, lab))}; median PSNR @{k}: scratch "
                f"{med_k['scratch']:.2f} dB vs {med_k[lab]:.2f} dB"
            )
    lines.append(
        f"\nBudget {a['budget']} steps, {a['rays_per_step']} rays x {a['samples']} samples per "
        f"step, lr {a['lr']} / grid {a['grid_lr']}; {result['device']}; student "
        f"{result['student']}; {result['seconds']:.0f} s."
    )
    return "\n".join(lines)


COLORS = {
    "scratch": (90, 90, 90),
    "student_weights": (214, 96, 30),
    "student_hypernet": (40, 110, 200),
}


def quantiles(rows: list[dict], label: str) -> list[tuple[int, float, float, float]]:
    """(step, 25%, median, 75%) of PSNR over `rows` at every evaluated step."""
    steps = [s for s, _ in rows[0]["runs"][label]["curve"]]
    out = []
    for j, s in enumerate(steps):
        vals = sorted(r["runs"][label]["curve"][j][1] for r in rows)
        q = statistics.quantiles(vals, n=4) if len(vals) > 1 else [vals[0]] * 3
        out.append((s, q[0], statistics.median(vals), q[2]))
    return out


def draw_figure(rows: list[dict], labels: list[str], path: Path, subtitle: str) -> None:
    """PSNR vs step, median over the ood prompts (all prompts if none) with a 25-75% band."""
    from PIL import Image, ImageDraw, ImageFont

    sub = [r for r in rows if r["split"] == "ood"] or rows
    series = {lab: quantiles(sub, lab) for lab in ["scratch", *labels]}
    w, h, (ml, mr, mt, mb) = 900, 560, (70, 30, 60, 60)
    img = Image.new("RGBA", (w, h), "white")
    try:
        font = ImageFont.load_default(size=15)
    except TypeError:  # Pillow < 10.1
        font = ImageFont.load_default()
    xmax = max(s for s, *_ in series["scratch"]) or 1
    lo = min(q[1] for qs in series.values() for q in qs)
    hi = max(q[3] for qs in series.values() for q in qs)
    lo, hi = 5 * int(lo // 5), 5 * (int(hi // 5) + 1)

    def xy(step: float, db: float) -> tuple[float, float]:
        return (ml + (w - ml - mr) * step / xmax, h - mb - (h - mt - mb) * (db - lo) / (hi - lo))

    d = ImageDraw.Draw(img)
    for db in range(lo, hi + 1, 5):
        d.line([xy(0, db), xy(xmax, db)], fill=(230, 230, 230))
        d.text((ml - 8, xy(0, db)[1]), f"{db}", fill="black", font=font, anchor="rm")
    for k in range(6):
        step = round(xmax * k / 5)
        d.text((xy(step, lo)[0], h - mb + 8), str(step), fill="black", font=font, anchor="mt")
    d.rectangle([ml, mt, w - mr, h - mb], outline="black")
    for lab, qs in series.items():
        band = Image.new("RGBA", (w, h), (0, 0, 0, 0))
        poly = [xy(s, q1) for s, q1, _, _ in qs] + [xy(s, q3) for s, _, _, q3 in qs[::-1]]
        ImageDraw.Draw(band).polygon(poly, fill=(*COLORS[lab], 60))
        img = Image.alpha_composite(img, band)
        d = ImageDraw.Draw(img)
        d.line([xy(s, m) for s, _, m, _ in qs], fill=COLORS[lab], width=3)
    for i, lab in enumerate(series):  # legend, lower right (curves rise to the upper right)
        x, y = w - mr - 250, h - mb - 18 - 22 * (len(series) - 1 - i)
        d.line([(x, y), (x + 30, y)], fill=COLORS[lab], width=4)
        name = "from scratch" if lab == "scratch" else f"from student ({lab[8:]})"
        d.text((x + 38, y), name, fill="black", font=font, anchor="lm")
    d.text(
        (w / 2, 12),
        f"held-out PSNR vs finetuning step, median over {len(sub)} prompts (band: 25-75%)",
        fill="black",
        font=font,
        anchor="mt",
    )
    d.text((w / 2, 32), subtitle, fill=(80, 80, 80), font=font, anchor="mt")
    d.text((w / 2, h - 22), "step", fill="black", font=font, anchor="mt")
    d.text((14, mt - 20), "PSNR (dB)", fill="black", font=font, anchor="lm")
    path.parent.mkdir(parents=True, exist_ok=True)
    img.convert("RGB").save(path)


def replot(a: argparse.Namespace) -> None:
    """Figure and table from a saved result (e.g. a GPU run), without training."""
    result = json.loads(a.replot.read_text(), parse_constant=float)
    for row in result["rows"]:
        for run in row["runs"].values():
            run["speedup"] = float("inf") if run["speedup"] == "inf" else run["speedup"]
    if a.figure is not None:
        draw_figure(
            result["rows"],
            result["student_labels"],
            a.figure,
            f"{result['device']}, student {result['student']}",
        )
    print(markdown(result))


def main() -> None:
    a = parse_args()
    if a.replot is not None:
        return replot(a)
    device = resolve_device(a.device)
    if device.type == "cpu":
        torch.set_num_threads(1 if a.quick else torch.get_num_threads())
    t_all = time.perf_counter()
    art, student = load_student(a.student, ArtifactStore(), device)
    optim = OptimConfig(
        lr=a.lr, grid_lr=a.grid_lr, warmup_steps=a.warmup, log_every=10, checkpoint_every=10**9
    )
    rays = RayConfig(rays_per_step=a.rays_per_step, num_samples=a.samples)
    schedule = eval_schedule(a.budget) + [a.small_budget]
    schedule = sorted(set(schedule))
    prompts = prompt_list(a)
    print(
        f"student {art.ref} on {card(device)}: {len(prompts)} prompts x "
        f"{1 + len(a.modes)} runs x {a.budget} steps",
        flush=True,
    )
    # Warm-up (untimed): CUDA kernels build, cuBLAS and the allocator initialise.
    text, spec = prompts[0][0], prompts[0][1]
    warm = make_start(
        student,
        encode_prompts([text], student.config.text_encoder).to(device),
        "scratch",
        "weights",
    )
    optimise(warm, synthetic_step(warm, spec, rays, device), optim, 5, show_progress=False)
    _, timed = optimise(
        warm, synthetic_step(warm, spec, rays, device), optim, 20, None, show_progress=False
    )
    rate = 20 / max(timed.train_seconds, 1e-9)
    runs = len(prompts) * (1 + len(a.modes))
    print(
        f"{rate:.1f} steps/s -> about {runs * a.budget / rate / 60:.1f} min of training "
        f"(+ evaluations) for {runs} runs",
        flush=True,
    )
    rows, per_prompt = [], None
    for i, (text, spec, split) in enumerate(prompts):
        elapsed = time.perf_counter() - t_all
        if a.max_minutes and per_prompt and elapsed + per_prompt > a.max_minutes * 60:
            print(f"time limit: skipping the last {len(prompts) - i} prompts", flush=True)
            break
        t0 = time.perf_counter()
        row = run_prompt(student, text, spec, a, device, schedule, optim, rays)
        row["split"] = split
        rows.append(row)
        per_prompt = time.perf_counter() - t0
        runs = row["runs"]
        parts = [
            f"{lab} {fmt_speed(r['speedup'])} ({r['steps_to_threshold']} steps)"
            for lab, r in runs.items()
            if lab != "scratch"
        ]
        print(
            f"[{i + 1}/{len(prompts)}] {text} ({split}): scratch final "
            f"{runs['scratch']['psnr_final']:.2f} dB, threshold {row['threshold_db']:.2f} at "
            f"{runs['scratch']['steps_to_threshold']} steps; "
            + "; ".join(parts)
            + f"; {per_prompt:.1f} s ({runs['scratch']['steps_per_s']:.0f} steps/s)",
            flush=True,
        )
    labels = [f"student_{m}" for m in a.modes]
    result = {
        "student": art.ref,
        "device": card(device),
        "settings": vars(a) | {"out": str(a.out), "figure": str(a.figure)},
        "student_labels": labels,
        "schedule": schedule,
        "rows": rows,
        "seconds": time.perf_counter() - t_all,
    }
    for split in ("ood", "zero_shot"):
        sub = [r for r in rows if r["split"] == split]
        result[f"median_speedup_{split}"] = {lab: median_speedup(sub, lab) for lab in labels}
    if a.figure is not None:
        draw_figure(rows, labels, a.figure, f"{result['device']}, student {art.ref}")
        print(f"figure -> {a.figure}")
    if a.out is not None:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(result, indent=2).replace("Infinity", '"inf"'))
        print(f"json -> {a.out}")
    print()
    print(markdown(result))


if __name__ == "__main__":
    main()
