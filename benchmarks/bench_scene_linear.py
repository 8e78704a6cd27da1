"""Weight gradient of the per-scene linear layer: plain batched product vs split reduction.

Times g^T x for S scenes x N samples (a distill step's shapes: N = 4096 rays x 96 samples,
in = 160, out = 64) with CUDA events after a warm-up, median of `--repeats`.

    python benchmarks/bench_scene_linear.py --scenes 8 16 32
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hyperfields_cli.field.scene_linear import weight_grad  # noqa: E402


def time_ms(fn, repeats: int) -> float:  # noqa: ANN001
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", type=int, nargs="+", default=[8, 16, 32])
    ap.add_argument("--samples", type=int, default=4096 * 96)
    ap.add_argument("--shapes", default="64x160,64x96,4x160", help="out x in of the layers")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    rows = []
    for s in args.scenes:
        for shape in args.shapes.split(","):
            o, i = (int(v) for v in shape.split("x"))
            g = torch.randn(s, args.samples, o, device="cuda")
            x = torch.randn(s, args.samples, i, device="cuda")
            plain = time_ms(lambda g=g, x=x: torch.bmm(g.transpose(1, 2), x), args.repeats)
            split = time_ms(lambda g=g, x=x: weight_grad(g, x), args.repeats)
            rows.append({"scenes": s, "out": o, "in": i, "bmm_ms": plain, "split_ms": split})
            print(f"S={s:3d} {o}x{i}: bmm {plain:7.2f} ms  split {split:7.2f} ms", flush=True)
            del g, x
    if args.out:
        args.out.write_text(json.dumps({"device": torch.cuda.get_device_name(0), "rows": rows}))


if __name__ == "__main__":
    main()
