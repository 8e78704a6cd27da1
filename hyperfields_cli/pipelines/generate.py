"""`hyperfields generate`: text -> one hypernetwork forward pass -> NeRF -> files.

Stages are timed separately (load, text, weights, render, video, mesh) so users see where
the seconds go. Several prompts share one loaded model and one forward pass.
"""

from __future__ import annotations

import re
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch

from hyperfields_cli.config import GenerateConfig, resolve_device
from hyperfields_cli.errors import UserError
from hyperfields_cli.export import (
    contact_sheet,
    depth_to_rgb,
    extract_mesh,
    save_image,
    save_mesh,
    save_video,
)
from hyperfields_cli.field.base import RadianceField
from hyperfields_cli.hypernet.model import HyperFieldsModel
from hyperfields_cli.pipelines.student import resolve_student
from hyperfields_cli.render.cameras import turntable_cameras
from hyperfields_cli.render.occupancy import OccupancyGrid
from hyperfields_cli.render.renderer import render_image
from hyperfields_cli.text.cache import encode_prompts


@dataclass
class GenerateResult:
    files: dict[str, list[Path]] = field(default_factory=dict)  # prompt -> written files
    timings: dict[str, float] = field(default_factory=dict)  # stage -> seconds
    student: str = ""


def slugify(prompt: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", prompt.lower()).strip("_")
    return slug[:64] or "prompt"


@contextmanager
def _timed(result: GenerateResult, stage: str, device: torch.device):
    start = time.perf_counter()
    yield
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    result.timings[stage] = result.timings.get(stage, 0.0) + time.perf_counter() - start


def check_writable(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".hyperfields-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UserError(
            f"cannot write to output folder {out}: {exc.strerror or exc}",
            "pass --out with a writable folder",
        ) from exc


def generate(cfg: GenerateConfig) -> GenerateResult:
    device = resolve_device(cfg.device)
    cfg = cfg.resolved(device)
    check_writable(cfg.out)
    torch.manual_seed(cfg.seed)
    result = GenerateResult()
    with _timed(result, "load model", device):
        artifact = resolve_student(cfg.student)
        model = HyperFieldsModel.from_pretrained(artifact.path, device=device)
        result.student = artifact.ref
    with _timed(result, "encode text", device):
        text = encode_prompts(cfg.prompts, model.config.text_encoder, model.config.text_revision)
        text = text.to(device)
    with torch.no_grad(), _timed(result, "prompt -> weights", device):
        field_all = model.scene_field(text)
    for s, prompt in enumerate(cfg.prompts):
        folder = cfg.out / slugify(prompt)
        result.files[prompt] = render_scene(field_all.select([s]), cfg, folder, result, device)
    return result


def build_occupancy(scene: RadianceField, device: torch.device) -> OccupancyGrid:
    """Empty-space grid of one predicted scene (128^3 on GPU, 64^3 on CPU), one full pass."""
    res = 128 if device.type == "cuda" else 64
    grid = OccupancyGrid(scene.num_scenes, resolution=res, bound=scene.bound).to(device)
    with torch.no_grad():
        grid.update(scene, generator=torch.Generator(device=device).manual_seed(0))
    return grid


def render_scene(
    scene: RadianceField,
    cfg: GenerateConfig,
    folder: Path,
    result: GenerateResult,
    device: torch.device,
) -> list[Path]:
    """One scene -> turntable sheet/video, depth video and mesh in `folder` (cfg resolved)."""
    folder.mkdir(parents=True, exist_ok=True)
    cams = turntable_cameras(cfg.frames, cfg.res).to(device)
    with _timed(result, "occupancy", device):
        occupancy = build_occupancy(scene, device)
    with _timed(result, "render", device):
        out = render_image(scene, cams, num_samples=cfg.num_samples, occupancy=occupancy)
    rgb = out.rgb[:, 0].clamp(0, 1).cpu()  # [F, H, W, 3]
    depth = out.depth[:, 0].cpu()
    opacity = out.opacity[:, 0].cpu()
    files = write_outputs(cfg, folder, rgb, depth, opacity, result, device)
    if cfg.mesh != "none":
        with _timed(result, "mesh", device):
            mesh = extract_mesh(scene, 0, resolution=cfg.mesh_res)
            files.append(save_mesh(mesh, folder / f"mesh.{cfg.mesh}"))
    return files


def write_outputs(
    cfg: GenerateConfig,
    folder: Path,
    rgb: torch.Tensor,
    depth: torch.Tensor,
    opacity: torch.Tensor,
    result: GenerateResult,
    device: torch.device,
) -> list[Path]:
    files: list[Path] = []
    with _timed(result, "write images/video", device):
        step = max(1, len(rgb) // 8)
        files.append(save_image(contact_sheet(list(rgb[::step][:8]), cols=4), folder / "sheet.png"))
        if cfg.save_frames:
            for i, frame in enumerate(rgb):
                files.append(save_image(frame, folder / "frames" / f"{i:04d}.png"))
        if cfg.video != "none":
            depth_rgb = [depth_to_rgb(d, o) for d, o in zip(depth, opacity, strict=True)]
            files.append(save_video(rgb, folder / f"turntable.{cfg.video}", fps=cfg.fps))
            files.append(
                save_video(
                    torch.stack([torch.as_tensor(d) for d in depth_rgb]),
                    folder / f"depth.{cfg.video}",
                    fps=cfg.fps,
                )
            )
    return files
