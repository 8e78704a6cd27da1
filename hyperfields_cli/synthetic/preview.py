"""Ground-truth renders of procedural scenes: turntable strips and the world contact sheet.

Uses the same pure-torch renderer as learned fields, so what you see here is exactly what the
synthetic guidance teaches with.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from hyperfields_cli.render.cameras import Cameras, orbit_cameras, turntable_cameras
from hyperfields_cli.render.renderer import render_image
from hyperfields_cli.synthetic.materials import ATTRIBUTES, COLOURS
from hyperfields_cli.synthetic.scene import ProceduralScenes, SceneSpec
from hyperfields_cli.synthetic.shapes import SHAPES

DEFAULT_SAMPLES = 160
SHEET_AZIMUTH = -60.0  # broadside to x-aligned objects, backs (+y) away from the camera


def render_specs(
    specs: Sequence[SceneSpec],
    cams: Cameras,
    num_samples: int = DEFAULT_SAMPLES,
    device: str | torch.device = "cpu",
    batch: int = 4,
    chunk: int = 8192,
) -> tuple[Tensor, Tensor]:
    """Render scenes from cameras -> rgb [S, B, H, W, 3] and opacity [S, B, H, W] (on CPU).

    Scenes go through `batch` at a time so memory stays bounded for long packs.
    """
    cams = cams.to(device)
    rgbs, opas = [], []
    for i in range(0, len(specs), batch):
        field = ProceduralScenes(specs[i : i + batch])
        out = render_image(field, cams, num_samples=num_samples, chunk=chunk)
        rgbs.append(out.rgb.transpose(0, 1).clamp(0.0, 1.0).cpu())  # [s, B, H, W, 3]
        opas.append(out.opacity.transpose(0, 1).clamp(0.0, 1.0).cpu())
    return torch.cat(rgbs), torch.cat(opas)


def to_uint8(img: Tensor) -> np.ndarray:
    """Float image in [0, 1] (any shape) -> uint8 numpy array."""
    return (img.clamp(0.0, 1.0) * 255.0 + 0.5).to(torch.uint8).numpy()


def turntable_strip(
    spec: SceneSpec,
    views: int = 4,
    size: int = 128,
    num_samples: int = DEFAULT_SAMPLES,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """`views` evenly spaced turntable views side by side -> uint8 [size, views * size, 3]."""
    cams = turntable_cameras(views, size)
    rgb, _ = render_specs([spec], cams, num_samples, device)
    return np.concatenate(list(to_uint8(rgb[0])), axis=1)


def sheet_camera(size: int) -> Cameras:
    """The one view every contact-sheet tile uses (default orbit, azimuth -60 degrees)."""
    one = torch.ones(1)
    return orbit_cameras(one * 65.0, one * SHEET_AZIMUTH, one * 2.2, one * 45.0, size)


Section = tuple[str, str, list[SceneSpec]]  # title, what the label shows, scenes


def sheet_sections(
    showcase: Sequence[str] = ("vase", "chair"), packs: Sequence[str] = ("zero_shot", "ood")
) -> list[Section]:
    """What the contact sheet shows: every shape (cycling colours), every attribute on each
    showcase shape, then the scenes of the held-out packs."""
    from hyperfields_cli.synthetic.packs import available_packs, load_pack

    colours = list(COLOURS)
    shapes = [SceneSpec(s, colours[i % len(colours)]) for i, s in enumerate(SHAPES)]
    out: list[Section] = [("every shape (train, then reserved ood)", "shape", shapes)]
    for name in showcase:
        out.append((f"every attribute on the {name}", "attribute",
                    [SceneSpec(name, a) for a in ATTRIBUTES]))  # fmt: skip
    for name in (p for p in packs if p in available_packs()):
        pack = load_pack(name)
        out.append((f"pack {name}: {pack.description}", "scene", pack.scenes()))
    return out


def _label(spec: SceneSpec, kind: str) -> str:
    if kind == "scene":
        return f"{spec.attribute} {spec.shape}"
    name = spec.shape if kind == "shape" else spec.attribute
    return name if spec.split == "train" else f"{name} (ood)"


def contact_sheet(
    out: Path,
    size: int = 128,
    columns: int = 10,
    num_samples: int = DEFAULT_SAMPLES,
    device: str | torch.device = "cpu",
    showcase: Sequence[str] = ("vase", "chair"),
    packs: Sequence[str] = ("zero_shot", "ood"),
) -> Path:
    """Render every shape and every attribute into one labelled PNG (the world at a glance)."""
    from PIL import Image, ImageDraw, ImageFont

    label_h, title_h, pad = 16, 20, 4
    font = ImageFont.load_default()
    cam = sheet_camera(size)
    blocks: list[Image.Image] = []
    for title, kind, specs in sheet_sections(showcase, packs):
        rgb, _ = render_specs(specs, cam, num_samples, device)
        rows = (len(specs) + columns - 1) // columns
        block = Image.new(
            "RGB", (columns * (size + pad) + pad, title_h + rows * (size + label_h + pad)), "white"
        )
        draw = ImageDraw.Draw(block)
        draw.text((pad, 4), title, fill=(0, 0, 0), font=font)
        for k, spec in enumerate(specs):
            x = pad + (k % columns) * (size + pad)
            y = title_h + (k // columns) * (size + label_h + pad)
            block.paste(Image.fromarray(to_uint8(rgb[k, 0])), (x, y))
            draw.text((x + 2, y + size + 2), _label(spec, kind), fill=(60, 60, 60), font=font)
        blocks.append(block)
    sheet = Image.new("RGB", (max(b.width for b in blocks), sum(b.height for b in blocks)), "white")
    y = 0
    for b in blocks:
        sheet.paste(b, (0, y))
        y += b.height
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    return out
