"""Generate-path timings: prompt -> MLP weights, occupancy, and a 60-frame turntable.

    python benchmarks/bench_generate.py --student builtin --out results/generate.json

Times are medians over repeats after a warm-up, with CUDA synchronisation around each stage
(text embeddings come from the cache, so "prompt -> weights" is the hypernetwork pass).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from hyperfields_cli.config import resolve_device
from hyperfields_cli.hypernet.model import HyperFieldsModel
from hyperfields_cli.pipelines.generate import build_occupancy
from hyperfields_cli.pipelines.student import resolve_student
from hyperfields_cli.render.cameras import turntable_cameras
from hyperfields_cli.render.renderer import render_image
from hyperfields_cli.text.cache import encode_prompts

PROMPTS = ["yarn pot", "a gold blender", "a blue bowl", "a pot made of yarn"]


def timed(fn, device: torch.device, repeats: int) -> tuple[float, object]:  # noqa: ANN001
    """Median seconds of `repeats` calls (after one warm-up) and the last result."""
    out = fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        out = fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--student", default="builtin")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--res", type=int, default=512)
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    device = resolve_device(args.device)
    card = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    model = HyperFieldsModel.from_pretrained(resolve_student(args.student).path, device=device)
    rows: dict[str, float] = {}
    for prompt in PROMPTS:
        text = encode_prompts([prompt], model.config.text_encoder).to(device)
        with torch.no_grad():
            sec, field = timed(lambda t=text: model.scene_field(t), device, args.repeats * 4)
            rows[f"prompt -> weights ms ({prompt})"] = sec * 1e3
    occ_s, occ = timed(lambda: build_occupancy(field, device), device, args.repeats)
    cams = turntable_cameras(args.frames, args.res).to(device)
    render_s, _ = timed(
        lambda: render_image(field, cams, num_samples=args.samples, occupancy=occ),
        device,
        args.repeats,
    )
    rows["occupancy grid ms"] = occ_s * 1e3
    rows[f"{args.frames}-frame {args.res}x{args.res} turntable s"] = render_s
    print(f"\n### generate timings on {card} (median of {args.repeats})\n")
    print("| stage | value |\n|---|---:|")
    for k, v in rows.items():
        print(f"| {k} | {v:.3f} |")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"device": card, **rows}, indent=2))


if __name__ == "__main__":
    main()
