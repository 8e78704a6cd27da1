"""Settings of every command as pydantic models: the CLI builds them, the core consumes them.

Each model is what gets written into an artifact's manifest as "the config that made it", so
an artifact can always be reproduced from its own folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
from pydantic import BaseModel, Field, field_validator

from hyperfields_cli.errors import UsageError
from hyperfields_cli.field.mlp import ColourModel
from hyperfields_cli.guidance.sds import SDSConfig
from hyperfields_cli.hypernet.hypernet import Arch
from hyperfields_cli.hypernet.model import HyperFieldsConfig
from hyperfields_cli.train.steps import RayConfig
from hyperfields_cli.train.trainer import OptimConfig

Guidance = Literal["synthetic", "views", "sds"]


def resolve_device(name: str = "auto") -> torch.device:
    """ "auto" -> cuda when available, else cpu; a clear error for an unavailable device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError as exc:
        raise UsageError(f"unknown device {name!r}", "use auto, cpu, cuda or cuda:N") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(
            f"device {name!r} requested but CUDA is not available", "use --device cpu (or auto)"
        )
    return dev


class TeachConfig(BaseModel):
    """`hyperfields teach`: fit one teacher hypernetwork over the prompts of one pack."""

    prompt_pack: str
    guidance: Guidance | None = Field(None, description="default: synthetic if the pack has scenes")
    name: str | None = Field(None, description="artifact name (default: the pack's name)")
    iters: int = Field(3000, ge=1)
    meta_batch: int = Field(4, ge=1, description="prompts per step, sharing one camera")
    seed: int = 0
    device: str = "auto"
    model: HyperFieldsConfig = Field(default_factory=HyperFieldsConfig.compact)
    optim: OptimConfig = OptimConfig(lr=5e-4, grid_lr=1e-2, warmup_steps=100)
    rays: RayConfig = RayConfig()
    sds: SDSConfig = SDSConfig()
    eval_views: int = Field(4, ge=1)
    eval_size: int = Field(128, ge=16)
    run_dir: Path | None = None
    resume: bool = False


class TeacherEntry(BaseModel):
    """One line of a teachers manifest: a stored teacher or a procedural pack (exact teacher)."""

    ref: str | None = None
    pack: str | None = None

    @field_validator("pack")
    @classmethod
    def _one_of(cls, v: str | None, info) -> str | None:  # noqa: ANN001
        if v is not None and info.data.get("ref") is not None:
            raise ValueError("give either ref or pack, not both")
        return v


class TeachersManifest(BaseModel):
    """The TOML that replaces the paper's teacher_list.txt."""

    name: str | None = None
    teachers: list[TeacherEntry] = Field(min_length=1)


class DistillConfig(BaseModel):
    """`hyperfields distill`: many teachers -> one student hypernetwork."""

    teachers: Path
    name: str | None = None
    iters: int = Field(5000, ge=1)
    meta_batch: int = Field(2, ge=1, description="scenes per step over all processes (paper: 2)")
    arch: Arch = "dynamic"
    colour_model: ColourModel = Field(
        "rgb",
        description="albedo_shade: the field outputs albedo and a shading factor of the density "
        "branch; the volume term (exact teachers) then teaches the albedo alone",
    )
    gpus: int = Field(
        1, ge=1, description="processes on this machine (>1 launches torchrun, data-parallel)"
    )
    seed: int = 0
    device: str = "auto"
    model: HyperFieldsConfig = Field(default_factory=HyperFieldsConfig.compact)
    optim: OptimConfig = OptimConfig(lr=5e-4, grid_lr=1e-2, warmup_steps=200)
    rays: RayConfig = RayConfig()
    eval_views: int = Field(4, ge=1)
    eval_size: int = Field(128, ge=16)
    run_dir: Path | None = None
    resume: bool = False
    init_from: str | None = Field(
        None, description="student ref or folder whose weights (and architecture) start training"
    )
    paraphrase: bool = Field(
        True,
        description=(
            "for procedural-pack teachers, each step draws one of the attribute's natural "
            "phrasings (SceneSpec.phrase(v) for every v, deduplicated, the pack's own text "
            "included) as the scene's prompt, so the hypernetwork learns the attribute words "
            "rather than one sentence; teachers loaded from artifacts keep their prompts"
        ),
    )


class GenerateConfig(BaseModel):
    """`hyperfields generate`: prompts -> one forward pass -> turntable, depth, mesh."""

    prompts: list[str] = Field(min_length=1)
    student: str | None = Field(None, description="store ref or folder; default: built-in")
    out: Path = Path("outputs")
    res: int | None = Field(None, ge=16, le=2048, description="default: 512 on GPU, 128 on CPU")
    frames: int | None = Field(None, ge=1, le=1000, description="default: 60 on GPU, 20 on CPU")
    num_samples: int | None = Field(None, ge=16, description="default: 256 on GPU, 128 on CPU")
    mesh: Literal["glb", "ply", "obj", "none"] = "glb"
    mesh_res: int | None = Field(None, ge=32, le=512, description="default: 256 GPU, 96 CPU")
    video: Literal["mp4", "gif", "none"] = "mp4"
    save_frames: bool = False
    fps: int = Field(30, ge=1, le=120)
    device: str = "auto"
    seed: int = 0

    @field_validator("prompts")
    @classmethod
    def _non_empty(cls, v: list[str]) -> list[str]:
        if any(not p.strip() for p in v):
            raise ValueError("prompts must not be empty")
        return [p.strip() for p in v]

    def resolved(self, device: torch.device) -> GenerateConfig:
        """Fill the device-dependent defaults (a CPU gets a lighter turntable)."""
        gpu = device.type == "cuda"
        return self.model_copy(
            update={
                "res": self.res or (512 if gpu else 128),
                "frames": self.frames or (60 if gpu else 20),
                "num_samples": self.num_samples or (256 if gpu else 128),
                "mesh_res": self.mesh_res or (256 if gpu else 96),
            }
        )
