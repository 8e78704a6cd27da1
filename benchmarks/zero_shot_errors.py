"""Where a student's zero-shot error lives: silhouette, colour bias or colour pattern.

For each prompt of the packs, renders the student and the analytic ground truth from held-out
views and splits the image error into: the silhouette (opacity MSE), the colour error on pixels
that both call solid, and what of that colour error is left after the best per-channel gain
(a global colour bias is removed by the gain; a wrong texture pattern or shading is not).

    python benchmarks/zero_shot_errors.py --student builtin --out results/cpu/zero_shot_errors.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from torch import Tensor

from hyperfields_cli.config import resolve_device
from hyperfields_cli.hypernet.model import HyperFieldsModel
from hyperfields_cli.pipelines.student import resolve_student
from hyperfields_cli.render.renderer import render_image
from hyperfields_cli.synthetic.packs import load_pack
from hyperfields_cli.synthetic.scene import ProceduralScenes
from hyperfields_cli.text.cache import encode_prompts
from hyperfields_cli.train.evaluate import eval_cameras
from hyperfields_cli.train.steps import psnr_from_mse


def split_error(got_rgb: Tensor, got_a: Tensor, want_rgb: Tensor, want_a: Tensor) -> dict:
    """Renders [..., 3] / opacities [...] of one scene -> the error parts (plain floats)."""
    got_rgb, want_rgb = got_rgb.clamp(0, 1), want_rgb.clamp(0, 1)
    mse = float(((got_rgb - want_rgb) ** 2).mean())
    solid = (got_a > 0.5) & (want_a > 0.5)  # [...]
    a, b = got_rgb[solid], want_rgb[solid]  # [M, 3]
    gain = (a * b).sum(0) / (a * a).sum(0).clamp_min(1e-12)  # [3] least-squares per channel
    return {
        "psnr": float(psnr_from_mse(torch.tensor(mse))),
        "silhouette_mse": float(((got_a - want_a) ** 2).mean()),
        "solid_fraction": float(solid.float().mean()),
        "colour_mse": float(((a - b) ** 2).mean()) if len(a) else 0.0,
        "colour_mse_after_gain": float(((a * gain - b) ** 2).mean()) if len(a) else 0.0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--student", default="builtin")
    ap.add_argument("--packs", nargs="+", default=["all_train", "zero_shot"])
    ap.add_argument("--every", type=int, default=1, help="every k-th prompt of each pack")
    ap.add_argument("--views", type=int, default=2)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    device = resolve_device(args.device)
    model = HyperFieldsModel.from_pretrained(resolve_student(args.student).path, device=device)
    cams = eval_cameras(args.views, args.size).to(device)
    report: dict = {"student": args.student, "views": args.views, "size": args.size}
    for name in args.packs:
        prompts = load_pack(name).prompts[:: args.every]
        text = encode_prompts(
            [p.text for p in prompts], model.config.text_encoder, model.config.text_revision
        )
        rows = {}
        for i, p in enumerate(prompts):
            with torch.no_grad():
                got = render_image(model.scene_field(text.select([i]).to(device)), cams, 128)
                want = render_image(ProceduralScenes([p.scene]), cams, num_samples=256)
            rows[p.text] = split_error(got.rgb, got.opacity, want.rgb, want.opacity)
            r = rows[p.text]
            print(
                f"{name:9s} {p.text[:44]:44s} {r['psnr']:6.2f} dB  silhouette "
                f"{r['silhouette_mse']:.5f}  colour {r['colour_mse']:.5f} -> "
                f"{r['colour_mse_after_gain']:.5f} after gain",
                flush=True,
            )
        report[name] = rows
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
