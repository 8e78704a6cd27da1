"""Where the grid kernels spend their time: forward and table-backward per level (CUDA only).

Each level of the paper config is timed alone (its slice of the table, 2^N points) for the
"uniform" and "rays" point patterns of bench_grid.py, with and without warp merging, so the
per-level costs show whether the backward is bound by atomic throughput (flat across levels)
or by same-address contention (coarse levels slow, worse for coherent rays).

    python benchmarks/profile_grid_levels.py --log2n 20 --merge 0 64 --out levels.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_grid import make_sets, timed_ms  # noqa: E402

from hyperfields_cli.field import backends  # noqa: E402
from hyperfields_cli.field.grid import GridConfig, level_layout  # noqa: E402


def level_ms(level: int, sets: list, table: torch.Tensor, layout: tuple, merge: int) -> tuple:
    """(forward ms, forward + table-backward ms) of one level alone."""
    res, offsets, hashed, size = layout
    lo, hi = int(offsets[level]), int(offsets[level + 1])
    sub = table[lo:hi].detach().clone().requires_grad_(True)
    lay = (res[level : level + 1], torch.tensor([0, hi - lo], device=res.device),
           hashed[level : level + 1], size)  # fmt: skip
    dev = table.device

    def fwd(i: int) -> None:
        x, _, _ = sets[i % len(sets)]
        backends.encode_cuda(x, sub, *lay, merge_res=merge)

    def both(i: int) -> None:
        x, _, grad = sets[i % len(sets)]
        out = backends.encode_cuda(x, sub, *lay, merge_res=merge)
        out.backward(grad)
        sub.grad = None

    for f in (fwd, both):
        for i in range(3):
            f(i)
    return timed_ms(dev, fwd, 20), timed_ms(dev, both, 20)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--log2n", type=int, default=20)
    ap.add_argument("--merge", type=int, nargs="+", default=[0, 64])
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    dev = torch.device("cuda")
    cfg = GridConfig()
    res, offsets, hashed = (t.to(dev) for t in level_layout(cfg))
    layout = (res, offsets, hashed, 2**cfg.log2_table_size)
    table = 0.1 * torch.randn(int(offsets[-1]), cfg.features_per_level, device=dev)
    rows = []
    print(f"# per-level grid kernels, 2^{args.log2n} points, {torch.cuda.get_device_name(dev)}")
    print("| pattern | merge | level | res | hashed | fwd ms | fwd+bwd ms | bwd ms |")
    print("|---|---|---|---|---|---|---|---|")
    for pattern in ("uniform", "rays"):
        sets = [(x, None, g[:, :2].contiguous())
                for x, _, g in make_sets(cfg, 2**args.log2n, dev, pattern, seed=1)]  # fmt: skip
        for merge in args.merge:
            for level in range(cfg.num_levels):
                f, fb = level_ms(level, sets, table, layout, merge)
                row = {"pattern": pattern, "merge": merge, "level": level,
                       "res": int(res[level]), "hashed": bool(hashed[level]),
                       "fwd_ms": f, "fwd_bwd_ms": fb}  # fmt: skip
                rows.append(row)
                print(f"| {pattern} | {merge} | {level} | {row['res']} | {row['hashed']} | "
                      f"{f:.4f} | {fb:.4f} | {fb - f:.4f} |", flush=True)  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps({"device": torch.cuda.get_device_name(dev), "rows": rows}))


if __name__ == "__main__":
    main()
