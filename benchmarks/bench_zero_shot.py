"""Zero-shot quality of a student against the procedural ground truth.

For each pack (default: all_train and zero_shot) every prompt goes through one hypernetwork
forward pass; the predicted NeRF is rendered from held-out views at 128x128 and compared
with the analytic scene. Prints a per-prompt table and writes JSON (+ a contact sheet of
zero-shot results beside ground truth).

    python benchmarks/bench_zero_shot.py --student builtin --out results/zero_shot.json \
        --sheet docs/zero_shot.png
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from hyperfields_cli.config import resolve_device
from hyperfields_cli.export import save_image
from hyperfields_cli.hypernet.model import HyperFieldsModel
from hyperfields_cli.pipelines.student import resolve_student
from hyperfields_cli.synthetic.packs import load_pack
from hyperfields_cli.synthetic.scene import ProceduralScenes
from hyperfields_cli.text.cache import encode_prompts
from hyperfields_cli.train.common import sample_sheet
from hyperfields_cli.train.evaluate import eval_cameras, field_psnr


def evaluate_pack(
    model: HyperFieldsModel, pack_name: str, views: int, size: int, chunk: int = 8
) -> tuple[dict[str, float], torch.Tensor, torch.Tensor]:
    pack = load_pack(pack_name)
    prompts = [p.text for p in pack.prompts]
    specs = [p.scene for p in pack.prompts]
    text = encode_prompts(prompts, model.config.text_encoder, model.config.text_revision)
    cams = eval_cameras(views, size).to(model.device)
    scores, gots, wants = {}, [], []
    for i in range(0, len(prompts), chunk):
        sel = list(range(i, min(i + chunk, len(prompts))))
        with torch.no_grad():
            field = model.scene_field(text.select(sel).to(model.device))
            per, got, want = field_psnr(field, ProceduralScenes([specs[j] for j in sel]), cams)
        scores.update({prompts[j]: float(v) for j, v in zip(sel, per, strict=True)})
        gots.append(got.cpu())
        wants.append(want.cpu())
    return scores, torch.cat(gots, dim=1), torch.cat(wants, dim=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--student", default="builtin")
    ap.add_argument("--packs", nargs="+", default=["all_train", "zero_shot"])
    ap.add_argument("--views", type=int, default=4)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--sheet", type=Path, default=None, help="contact sheet of the last pack")
    args = ap.parse_args()
    device = resolve_device(args.device)
    art = resolve_student(args.student)
    model = HyperFieldsModel.from_pretrained(art.path, device=device)
    card = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    result: dict = {"student": art.ref, "device": card, "views": args.views, "size": args.size}
    for name in args.packs:
        t0 = time.perf_counter()
        scores, got, want = evaluate_pack(model, name, args.views, args.size)
        mean = sum(scores.values()) / len(scores)
        result[name] = {
            "mean_psnr": mean,
            "per_prompt": scores,
            "seconds": time.perf_counter() - t0,
        }
        print(f"\n### {name}: mean PSNR {mean:.2f} dB over {len(scores)} prompts ({card})\n")
        print("| prompt | PSNR (dB) |\n|---|---|")
        for p, v in scores.items():
            print(f"| {p} | {v:.2f} |")
        if args.sheet is not None and name == args.packs[-1]:
            labels = list(scores)
            save_image(sample_sheet(got[:2], want[:2], labels), args.sheet)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
