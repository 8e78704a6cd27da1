"""Train (or continue) the built-in student and export its fp16 copy for the package.

Distills the procedural `all_train` pack (100 scenes, exact analytic teachers) into a compact
student, in time-boxed chunks that resume from the last checkpoint, so it fits GPU leases:

    python benchmarks/train_builtin_student.py --iters 12000 --max-minutes 8 --export out/student
    python benchmarks/train_builtin_student.py --iters 12000 --max-minutes 8 --resume ...

The exported folder is an ordinary artifact (fp16 weights, manifest naming the fp32 parent)
that is copied to hyperfields_cli/assets/student/.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import torch

from hyperfields_cli.artifacts import ArtifactStore
from hyperfields_cli.config import DistillConfig
from hyperfields_cli.hypernet.model import HyperFieldsConfig, HyperFieldsModel
from hyperfields_cli.train.distill import distill
from hyperfields_cli.train.steps import RayConfig
from hyperfields_cli.train.trainer import OptimConfig

HERE = Path(__file__).resolve().parent


def export_fp16(
    store: ArtifactStore, ref: str, dest: Path, name: str = "builtin", lineage: str = ""
) -> Path:
    """Save an fp16 copy of student `ref` as `name` and copy its folder to `dest`; `lineage`
    (how a staged student was made) is appended to the manifest's notes."""
    parent = store.resolve(ref)
    model = HyperFieldsModel.from_pretrained(parent.path)
    m = parent.manifest
    notes = (
        f"fp16 copy of {parent.ref} (sha256 {parent.sha256[:12]}); distilled from the "
        f"procedural all_train pack: {m.metrics.get('steps')} steps, "
        f"{m.metrics.get('train_seconds')} s on {m.metrics.get('device')}"
    ) + (f". {lineage}" if lineage else "")

    def write(folder: Path) -> None:
        model.save_pretrained(folder, dtype=torch.float16)
        sample = parent.path / "samples" / "validation.png"
        if sample.is_file():
            (folder / "samples").mkdir()
            shutil.copy(sample, folder / "samples" / "validation.png")

    art = store.save(
        "student",
        name,
        write,
        prompts=m.prompts,
        text_encoder=m.text_encoder,
        architecture=m.architecture,
        parents=[parent],
        command=m.command,
        config=m.config,
        metrics=m.metrics,
        notes=notes,
    )
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(art.path, dest)
    return dest


def compact_student(mlp_width: int, density_fraction: float) -> HyperFieldsConfig:
    """The compact config with the scene MLP's width and the routed density share changed."""
    data = HyperFieldsConfig.compact().model_dump()
    data["mlp"]["width"] = mlp_width
    data["hypernet"]["density_fraction"] = density_fraction
    return HyperFieldsConfig.model_validate(data)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--iters", type=int, default=12000)
    ap.add_argument("--max-minutes", type=float, default=None)
    ap.add_argument("--meta-batch", type=int, default=4)
    ap.add_argument("--rays", type=int, default=4096)
    ap.add_argument("--samples", type=int, default=96)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--init-from", default=None, help="student folder/ref to continue from")
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--name", default="builtin-fp32", help="run / artifact name")
    ap.add_argument("--volume-weight", type=float, default=0.0, help="volume colour term")
    ap.add_argument("--volume-sampling", default="ball", choices=["ball", "surfaces"])
    ap.add_argument("--arch", default="routed", help="arch of a fresh student (v3: routed)")
    ap.add_argument(
        "--colour-model", default="rgb", choices=["rgb", "albedo_shade"], help="of a fresh student"
    )
    ap.add_argument("--mlp-width", type=int, default=64, help="scene MLP width of a fresh student")
    ap.add_argument(
        "--density-fraction", type=float, default=0.5, help="routed: share of the density branch"
    )
    ap.add_argument("--export", type=Path, default=None)
    ap.add_argument(
        "--no-paraphrase",
        dest="paraphrase",
        action="store_false",
        help="train each scene on its pack prompt only (default: all its attribute's phrasings)",
    )
    args = ap.parse_args()
    optim = OptimConfig(
        lr=args.lr,
        grid_lr=1e-2,
        warmup_steps=args.warmup,
        checkpoint_every=500,
        log_every=50,
        max_seconds=args.max_minutes * 60 if args.max_minutes else None,
    )
    cfg = DistillConfig(
        teachers=HERE / "builtin_teachers.toml",
        name=args.name,
        iters=args.iters,
        meta_batch=args.meta_batch,
        arch=args.arch,
        colour_model=args.colour_model,
        model=compact_student(args.mlp_width, args.density_fraction),
        optim=optim,
        rays=RayConfig(
            rays_per_step=args.rays,
            num_samples=args.samples,
            volume_weight=args.volume_weight,
            volume_sampling=args.volume_sampling,
        ),
        resume=args.resume,
        init_from=args.init_from,
        paraphrase=args.paraphrase,
    )
    fp16_name = "builtin" if args.name == "builtin-fp32" else f"{args.name}-fp16"
    art = distill(cfg)
    print(f"saved {art.ref}: {art.manifest.metrics.get('psnr_vs_teacher_mean')} dB vs teachers")
    if args.export is not None:
        print("exported", export_fp16(ArtifactStore(), art.ref, args.export, fp16_name))


if __name__ == "__main__":
    main()
