"""Render the procedural world's contact sheet (docs/world.png) and time the analytic field.

    python benchmarks/world_sheet.py --out docs/world.png        # the committed contact sheet
    python benchmarks/world_sheet.py --bench --device cuda       # field throughput (points/s)

The sheet is the same as `hyperfields packs sheet`; --bench measures `ProceduralScenes.query`
(the ground truth synthetic training queries every step) and checks CPU/GPU agreement.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from hyperfields_cli.synthetic import ATTRIBUTES, SHAPES, ProceduralScenes, SceneSpec
from hyperfields_cli.synthetic.preview import contact_sheet


def bench(device: str, scenes: int, points: int, repeats: int = 5) -> None:
    """Time query() on `scenes` scenes x `points` points spread along camera-like rays."""
    shapes, attrs = list(SHAPES), list(ATTRIBUTES)
    specs = [SceneSpec(shapes[i % len(shapes)], attrs[(3 * i) % len(attrs)]) for i in range(scenes)]
    field = ProceduralScenes(specs)
    g = torch.Generator().manual_seed(0)
    pts = (torch.rand(scenes, points, 3, generator=g) * 2 - 1).to(device)  # the whole cube
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    field.query(pts)
    sync()
    t = time.perf_counter()
    for _ in range(repeats):
        out = field.query(pts)
    sync()
    dt = (time.perf_counter() - t) / repeats
    near = (out.sigma > 0).float().mean().item()
    print(
        f"{device}: {scenes} scenes x {points} points: {dt * 1e3:.1f} ms/query, "
        f"{scenes * points / dt / 1e6:.1f} M points/s ({near:.1%} near surfaces)"
    )
    if device != "cpu":
        sub = pts[:, :20000]
        ref, got = field.query(sub.cpu()), field.query(sub)
        print(
            f"cpu vs {device}: max |sigma| diff {(ref.sigma - got.sigma.cpu()).abs().max():.3g}, "
            f"max |rgb| diff {(ref.rgb - got.rgb.cpu()).abs().max():.3g}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("docs/world.png"))
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--samples", type=int, default=160)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--bench", action="store_true", help="time the field instead of rendering")
    ap.add_argument("--scenes", type=int, default=16)
    ap.add_argument("--points", type=int, default=1 << 18)
    args = ap.parse_args()
    if args.bench:
        bench(args.device, args.scenes, args.points)
        return
    t = time.perf_counter()
    path = contact_sheet(args.out, size=args.size, num_samples=args.samples, device=args.device)
    print(f"wrote {path} in {time.perf_counter() - t:.0f} s")


if __name__ == "__main__":
    main()
