"""A small CPU testbed for the zero-shot gap (issue #6): does a training change help materials
transfer to shape/material pairs never seen together?

Trains a tiny student (exact procedural teachers) on a shapes x materials grid minus one
held-out pair per shape (a Latin-square diagonal, shifted by --holdout-seed), then reports the
mean held-out-view PSNR on the training pairs and on the held-out pairs. With the defaults
(4 x 4 grid, 1,200 steps) it takes ~20 min on one CPU thread and reproduces a gap of ~4 dB,
like the built-in student's. --volume-weight adds a loss on the student's colour at random
points in the volume against the teacher's shaded colour there (its SDF's normal field).

    python benchmarks/zero_shot_testbed.py --out testbed.json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import get_args

import torch
from torch import Tensor

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hyperfields_cli.field.grid import GridConfig  # noqa: E402
from hyperfields_cli.field.mlp import SceneMLPConfig  # noqa: E402
from hyperfields_cli.hypernet.hypernet import Arch, HyperNetConfig, HyperNetwork  # noqa: E402
from hyperfields_cli.hypernet.model import HyperFieldsConfig, ProbeConfig  # noqa: E402
from hyperfields_cli.synthetic import scene as world  # noqa: E402
from hyperfields_cli.synthetic.materials import ATTRIBUTES  # noqa: E402
from hyperfields_cli.synthetic.scene import (  # noqa: E402
    ProceduralScenes,
    SceneSpec,
    shaded_colour,
    surface_normals,
)
from hyperfields_cli.text.batch import TextBatch, collate  # noqa: E402
from hyperfields_cli.train.common import build_model, param_groups  # noqa: E402
from hyperfields_cli.train.evaluate import eval_cameras, field_psnr  # noqa: E402
from hyperfields_cli.train.steps import RayConfig, match_target_step  # noqa: E402
from hyperfields_cli.train.trainer import OptimConfig, Trainer  # noqa: E402

TINY = HyperFieldsConfig(
    hypernet=HyperNetConfig(
        dim=64, depth=2, heads=4, ffn_mult=2.0, head_hidden=64, modulation_rank=4
    ),
    grid=GridConfig(num_levels=8, base_resolution=8, finest_resolution=128, log2_table_size=14),
    mlp=SceneMLPConfig(depth=4, width=48, cond_dim=32),
    probe=ProbeConfig(num_points=256),
)


def split(shapes: list[str], materials: list[str], seed: int) -> tuple[list, list]:
    """Training pairs and one held-out pair per shape (diagonal shifted by `seed`)."""
    held = {(s, materials[(i + seed) % len(materials)]) for i, s in enumerate(shapes)}
    train = [SceneSpec(s, m) for s in shapes for m in materials if (s, m) not in held]
    return train, [SceneSpec(s, m) for s, m in sorted(held)]


def teacher_colour(specs: list[SceneSpec], p: Tensor, lit: bool = True) -> Tensor:
    """Each scene's material at p [P, 3] with its shape's normal field -> [S, P, 3]: the shaded
    colour (lit) or the unlit albedo."""
    light = ProceduralScenes(specs[:1]).light

    def one(sp: SceneSpec) -> Tensor:
        n = surface_normals(sp.shape, p)
        if lit:
            return shaded_colour(sp.attribute, light, p, n)
        return ATTRIBUTES[sp.attribute].albedo(p, n).clamp(0, 1)

    return torch.stack([one(sp) for sp in specs])


class FourierGrid(torch.nn.Module):
    """Prototype (--fourier K): the grid's features plus sin/cos of 2^k pi x per axis
    (k < K), so the MLP also sees position-generic, periodic features."""

    def __init__(self, grid: torch.nn.Module, k: int) -> None:
        super().__init__()
        self.inner, self.bound = grid, grid.bound
        self.register_buffer("freqs", torch.pi * 2.0 ** torch.arange(k), persistent=False)
        self.extra = 6 * k

    @property
    def table(self) -> Tensor:  # what HyperFieldsModel.device reads
        return self.inner.table

    def forward(self, x: Tensor) -> Tensor:
        ang = x[..., None] * self.freqs  # [..., 3, K]
        pe = torch.cat([ang.sin(), ang.cos()], dim=-1).flatten(-2)  # [..., 6K]
        return torch.cat([self.inner(x), pe], dim=-1)


def with_fourier(model: torch.nn.Module, cfg, k: int) -> None:  # noqa: ANN001
    """Swap in FourierGrid and a hypernetwork sized for its wider features."""
    model.grid = FourierGrid(model.grid, k)
    mlp = cfg.mlp.model_copy(update={"grid_dim": cfg.mlp.grid_dim + model.grid.extra})
    model.mlp_cfg = mlp
    model.hypernet = HyperNetwork(cfg.hypernet, mlp, model.config.text_dim, cfg.arch)


def oracle_text(specs: list[SceneSpec], dim: int) -> TextBatch:
    """Diagnostic: each prompt as two fixed random unit tokens, one per shape and one per
    material, so the conditioning is perfectly factorised (no language in the way)."""
    g = torch.Generator().manual_seed(1234)
    names = sorted({sp.shape for sp in specs} | {sp.attribute for sp in specs})
    vecs = torch.nn.functional.normalize(torch.randn(len(names), dim, generator=g), dim=-1)
    emb = dict(zip(names, vecs, strict=True))
    tokens = [torch.stack([emb[sp.shape], emb[sp.attribute]]) for sp in specs]
    sentences = [torch.nn.functional.normalize(t.mean(0), dim=0) for t in tokens]
    return collate(tokens, sentences, [sp.phrase(0) for sp in specs])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shapes", nargs="+", default=["pot", "bowl", "vase", "chair"])
    ap.add_argument("--materials", nargs="+", default=["marble", "wood", "checkered", "plaid"])
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--scenes-per-step", type=int, default=4)
    ap.add_argument("--volume-weight", type=float, default=0.0)
    ap.add_argument("--holdout-seed", type=int, default=0)
    ap.add_argument("--arch", choices=get_args(Arch), default="dynamic")
    ap.add_argument("--flat", action="store_true", help="diagnostic: unlit world (colour = albedo)")
    ap.add_argument(
        "--oracle-text", action="store_true", help="diagnostic: factorised one-token-per-part text"
    )
    ap.add_argument(
        "--albedo-shade",
        action="store_true",
        help="colour_model albedo_shade: the MLP outputs albedo and a shading factor; "
        "--volume-weight then supervises the albedo alone",
    )
    ap.add_argument(
        "--fourier", type=int, default=0, help="prototype: K sin/cos octaves beside the grid"
    )
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.flat:  # shaded_colour reads these at call time
        world.AMBIENT, world.DIFFUSE = 1.0, 0.0
    train, test = split(args.shapes, args.materials, args.holdout_seed)
    dev = torch.device("cpu")
    cfg = TINY.model_copy(update={"arch": args.arch})
    if args.albedo_shade:  # the product's colour_model (session 5 ran a 1.1-sigmoid prototype)
        cfg = cfg.with_student(args.arch, "albedo_shade")
    model, text = build_model(cfg, [sp.phrase(0) for sp in train + test], dev)
    if args.fourier:
        with_fourier(model, model.config, args.fourier)
    if args.oracle_text:
        text = oracle_text(train + test, text.dim).to(dev)
    optim = OptimConfig(lr=2e-3, grid_lr=2e-2, warmup_steps=50, checkpoint_every=10**6)
    trainer = Trainer(
        model, param_groups(model, optim), optim, args.steps, None, "testbed", show_progress=False
    )
    rays = RayConfig(image_size=48, rays_per_step=512, num_samples=48)

    def step(i: int) -> dict[str, Tensor]:
        rng, gen = random.Random(i), torch.Generator().manual_seed(i)
        torch.manual_seed(i)
        idx = sorted(rng.sample(range(len(train)), args.scenes_per_step))
        specs = [train[j] for j in idx]
        field = model.scene_field(text.select(idx), model.random_probe_points())
        out = match_target_step(field, ProceduralScenes(specs), rays, dev, gen)
        if args.volume_weight > 0:
            p = (torch.rand(2048, 3, generator=gen) * 2 - 1) * 0.9  # [P, 3]
            ps = p[None].expand(len(idx), -1, -1)  # [S, P, 3]
            if args.albedo_shade:
                got, want = field.albedo(ps), teacher_colour(specs, p, lit=False)
            else:
                got, want = field.query(ps).rgb, teacher_colour(specs, p)
            vol = ((got - want) ** 2).mean()
            out["loss"] = out["loss"] + args.volume_weight * vol
        return out

    t0 = time.time()
    trainer.run(step)
    model.eval()
    cams, res = eval_cameras(2, 40), {}
    with torch.no_grad():
        for name, specs, first in (("train", train, 0), ("held_out", test, len(train))):
            field = model.scene_field(text.select(list(range(first, first + len(specs)))))
            per, _, _ = field_psnr(field, ProceduralScenes(specs), cams, 96, 256)
            res[name] = {sp.phrase(0): round(float(v), 2) for sp, v in zip(specs, per, strict=True)}
    means = {k: sum(v.values()) / len(v) for k, v in res.items()}
    report = {
        **vars(args),
        "out": None,
        "seconds": round(time.time() - t0),
        "train_db": means["train"],
        "held_out_db": means["held_out"],
        "gap_db": means["train"] - means["held_out"],
        "per_prompt": res,
    }
    print(json.dumps(report, indent=1))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
