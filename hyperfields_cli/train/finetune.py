"""`hyperfields finetune`: start from the student's guess for a prompt and optimise further.

The student's forward pass for the prompt gives the MLP weights and conditioning; with its
grid table and background they form a single-scene NeRF (`FinetunedNeRF`) that is optimised
against the guidance: the procedural scene the prompt names (`synthetic`), posed images
(`views`) or Stable Diffusion (`sds`). `init="scratch"` runs the same optimisation from a
random NeRF of the same architecture: the baseline of the paper's 5-10x speed-up claim
(measured by benchmarks/bench_finetune.py). Saves a `nerf` artifact whose parent is the
student and renders it like `generate`.

What is optimised, `optimise="weights"` (default) or `"hypernet"` (the whole hypernetwork
conditioned on the prompt, as the paper does), was chosen by bench_finetune.py (CPU, a small
distilled student, 11 prompts x 200 steps, same optimiser): where the student knows the
answer the weights start reaches the threshold 2-3x sooner than the hypernet start (gold bowl
12.5x vs 4.2x over scratch, golden chair 4.4x vs 2.5x, icy glacier chair 5.8x vs 2.5x); on
reserved shapes neither beats scratch. It is also cheaper per step and ships a plain NeRF.
On an H200 with the built-in student (benchmarks/RESULTS.md) the student start is 10 dB
ahead at 100 steps on known shapes but never reaches the threshold on 8 of 10 `ood` prompts:
its guess of an unseen shape is wrong and its shared grid is tuned to other shapes. Scaling
that grid table down (features are normalised per point, so the field is unchanged) makes
it plastic again: on CPU, reserved shapes then match scratch but known ones lose their lead
(ood median 1.0x instead of 0.3x), so it stays a benchmark knob (`--grid-scale`), not a default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
from pydantic import BaseModel, Field, field_validator

from hyperfields_cli.artifacts import Artifact, ArtifactStore
from hyperfields_cli.config import GenerateConfig, Guidance, resolve_device
from hyperfields_cli.errors import UsageError
from hyperfields_cli.guidance.sds import SDSConfig
from hyperfields_cli.hypernet.model import HyperFieldsModel
from hyperfields_cli.pipelines.generate import GenerateResult, check_writable, render_scene, slugify
from hyperfields_cli.pipelines.student import resolve_student
from hyperfields_cli.synthetic.scene import SceneSpec, match_prompt
from hyperfields_cli.text.cache import encode_prompts
from hyperfields_cli.train.common import command_line
from hyperfields_cli.train.finetune_core import (
    Curve,
    Evaluator,
    Init,
    Optimise,
    Start,
    dataset_views,
    make_start,
    optimise,
    sds_step,
    synthetic_evaluator,
    synthetic_step,
    views_evaluator,
    views_step,
)
from hyperfields_cli.train.steps import RayConfig
from hyperfields_cli.train.trainer import OptimConfig, StepFn

FINETUNE_OPTIM = OptimConfig(lr=3e-3, grid_lr=1e-2, warmup_steps=20, log_every=10)
"""Shared by both starts (a fair comparison); tuned for the from-scratch baseline."""


class FinetuneConfig(BaseModel):
    """`hyperfields finetune`: one prompt, from the student's prediction (or from scratch)."""

    prompt: str = Field(min_length=1)
    student: str | None = Field(None, description="store ref or folder; default: built-in")
    guidance: Guidance | None = Field(
        None,
        description="default: views if --views, synthetic if the prompt names a scene, else sds",
    )
    views: Path | None = Field(None, description="transforms.json dataset (views guidance)")
    init: Init = "student"
    optimise: Optimise = "weights"
    grid_scale: float = Field(
        1.0,
        gt=0,
        le=1,
        description="student start: multiply its grid table by this (features are L2-normalised "
        "per point, so the start field is unchanged; smaller = larger relative grid steps)",
    )
    steps: int = Field(500, ge=1)
    name: str | None = Field(None, description="artifact name (default: from the prompt)")
    seed: int = 0
    device: str = "auto"
    optim: OptimConfig = FINETUNE_OPTIM
    rays_per_step: int | None = Field(None, ge=16, description="default: 4096 GPU, 1024 CPU")
    num_samples: int | None = Field(None, ge=8, description="per ray; default: 96 GPU, 64 CPU")
    rays: RayConfig = RayConfig()  # camera ranges, image size; the two above override it
    sds: SDSConfig = SDSConfig()
    eval_views: int = Field(4, ge=1)
    eval_size: int | None = Field(None, ge=8, description="default: 128 on GPU, 64 on CPU")
    eval_samples: int = Field(192, ge=8)
    out: Path | None = Field(Path("outputs"), description="render folder; None: no renders")
    res: int | None = Field(None, ge=16, le=2048)
    frames: int | None = Field(None, ge=1, le=1000)
    mesh: Literal["glb", "ply", "obj", "none"] = "glb"
    mesh_res: int | None = Field(None, ge=32, le=512)
    video: Literal["mp4", "gif", "none"] = "mp4"

    @field_validator("prompt")
    @classmethod
    def _strip(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("the prompt must not be empty")
        return v.strip()

    def resolved(self, device: torch.device) -> FinetuneConfig:
        """Fill the device-dependent defaults (a CPU gets fewer rays and smaller evals)."""
        gpu = device.type == "cuda"
        rays = self.rays.model_copy(
            update={
                "rays_per_step": self.rays_per_step or (4096 if gpu else 1024),
                "num_samples": self.num_samples or (96 if gpu else 64),
            }
        )
        return self.model_copy(
            update={
                "rays": rays,
                "rays_per_step": rays.rays_per_step,
                "num_samples": rays.num_samples,
                "eval_size": self.eval_size or (128 if gpu else 64),
            }
        )


@dataclass
class FinetuneResult:
    artifact: Artifact
    metrics: dict[str, float | str]
    curve: Curve
    files: list[Path] = field(default_factory=list)
    student: str = ""


def pick_guidance(cfg: FinetuneConfig) -> tuple[str, SceneSpec | None]:
    """The guidance to use and, for synthetic, the procedural scene the prompt names."""
    spec = match_prompt(cfg.prompt)
    guidance = cfg.guidance or ("views" if cfg.views else "synthetic" if spec else "sds")
    if guidance == "synthetic" and spec is None:
        raise UsageError(
            f"{cfg.prompt!r} does not name a procedural scene (a shape and an attribute)",
            'e.g. "a gold blender" (see `hyperfields packs show ood`), or use --guidance sds',
        )
    if guidance == "views" and cfg.views is None:
        raise UsageError("--guidance views needs --views PATH (a transforms.json dataset)")
    if guidance != "views" and cfg.views is not None:
        raise UsageError(f"--views is only used with --guidance views, not {guidance}")
    return guidance, spec if guidance == "synthetic" else None


def load_student(ref: str | None, store: ArtifactStore, device: torch.device) -> tuple:
    """(artifact, model): a student (or teacher) hypernetwork from the store, a folder or
    the built-in one."""
    art = resolve_student(ref, store)
    if art.kind not in ("student", "teacher"):
        raise UsageError(f"{art.ref} is a {art.kind}, not a student", "pass --student NAME@vN")
    model = HyperFieldsModel.from_pretrained(art.path, device=device)
    model.requires_grad_(False)
    return art, model


def guidance_parts(
    cfg: FinetuneConfig, guidance: str, spec: SceneSpec | None, start: Start, device: torch.device
) -> tuple[StepFn, Evaluator | None]:
    """The step function and (where there is a ground truth) the held-out evaluator."""
    if guidance == "synthetic":
        assert spec is not None
        step = synthetic_step(start, spec, cfg.rays, device, cfg.seed)
        ev = synthetic_evaluator(spec, device, cfg.eval_views, cfg.eval_size, cfg.eval_samples)
        return step, ev
    if guidance == "views":
        from hyperfields_cli.guidance.posed_views import load_views

        assert cfg.views is not None
        train, test = dataset_views(load_views(cfg.views), device, cfg.eval_views)
        return views_step(start, train, cfg.rays, device, cfg.seed), views_evaluator(
            test, cfg.eval_samples
        )
    return sds_step(start, cfg.prompt, cfg.sds, cfg.rays.num_samples, device, cfg.seed), None


def finetune(cfg: FinetuneConfig, store: ArtifactStore | None = None) -> FinetuneResult:
    """Run `finetune` end to end: optimise, save the nerf artifact, render it."""
    store = store or ArtifactStore()
    guidance, spec = pick_guidance(cfg)
    device = resolve_device(cfg.device)
    cfg = cfg.resolved(device)
    assert cfg.eval_size is not None
    if cfg.out is not None:
        check_writable(cfg.out)
    name = cfg.name or re.sub(r"^(a|an|the)-", "", slugify(cfg.prompt).replace("_", "-"))
    torch.manual_seed(cfg.seed)
    art, student = load_student(cfg.student, store, device)
    text = encode_prompts([cfg.prompt], student.config.text_encoder, student.config.text_revision)
    start = make_start(
        student, text.to(device), cfg.init, cfg.optimise, cfg.seed, grid_scale=cfg.grid_scale
    )
    step_fn, evaluate = guidance_parts(cfg, guidance, spec, start, device)
    label = "from scratch" if cfg.init == "scratch" else f"from {art.ref}"
    trainer, curve = optimise(
        start,
        step_fn,
        cfg.optim,
        cfg.steps,
        evaluate,
        [0, cfg.steps],
        description=f"finetune {label}",
    )
    nerf = start.bake()
    metrics: dict[str, float | str] = {
        **trainer.run_metrics(),
        "guidance": guidance,
        "init": cfg.init,
        "optimise": cfg.optimise,
    }
    metrics["steps_per_s"] = round(cfg.steps / max(curve.train_seconds, 1e-9), 2)
    if curve.points:
        key = "psnr" if guidance == "synthetic" else "psnr_test"
        metrics[f"{key}_init"] = curve.points[0][1]
        metrics[key] = curve.points[-1][1]
    parents = [art] if cfg.init == "student" else []
    note = f"finetuned {label} on {guidance} guidance ({cfg.steps} steps)"
    if cfg.init == "scratch":
        note += f"; architecture of {art.ref}"
    saved = store.save(
        "nerf",
        name,
        nerf.save_pretrained,
        prompts=[cfg.prompt],
        text_encoder=nerf.config.text_encoder,
        architecture=nerf.config,
        parents=parents,
        command=command_line(),
        config=cfg,
        metrics=metrics,
        notes=note,
    )
    files: list[Path] = []
    if cfg.out is not None:
        gen = GenerateConfig(
            prompts=[cfg.prompt],
            out=cfg.out,
            res=cfg.res,
            frames=cfg.frames,
            mesh=cfg.mesh,
            mesh_res=cfg.mesh_res,
            video=cfg.video,
        )
        gen = gen.resolved(device)
        with torch.no_grad():
            files = render_scene(
                nerf.eval().field(), gen, cfg.out / slugify(cfg.prompt), GenerateResult(), device
            )
    return FinetuneResult(saved, metrics, curve, files, art.ref)
