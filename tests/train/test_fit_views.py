"""Posed-image loading and fitting one NeRF from views, pure torch on the CPU."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hyperfields_cli.errors import UserError
from hyperfields_cli.field.base import FieldOutput
from hyperfields_cli.field.grid import GridConfig
from hyperfields_cli.field.mlp import SceneMLPConfig
from hyperfields_cli.guidance.posed_views import load_views
from hyperfields_cli.render.cameras import camera_rays, orbit_cameras
from hyperfields_cli.render.renderer import render_rays
from hyperfields_cli.train.fit_views import FitViewsConfig, fit_views


class ColourSphere:
    """One scene: a soft sphere (radius 0.5) painted with smooth colour bands, white outside."""

    num_scenes, bound = 1, 1.0

    def query(self, points: torch.Tensor) -> FieldOutput:
        r = points.norm(dim=-1)
        sigma = 60.0 * torch.sigmoid(30.0 * (0.5 - r))
        x, y, z = points.unbind(-1)
        rgb = torch.stack([0.5 + 0.4 * torch.sin(5 * x), 0.5 + 0.4 * torch.cos(4 * z),
                           0.5 + 0.4 * torch.sin(3 * y + 1)], dim=-1)
        return FieldOutput(sigma, rgb)

    def background(self, dirs: torch.Tensor) -> torch.Tensor:
        return torch.ones_like(dirs)


def write_dataset(root: Path, size: int, train: int, test: int, rgb_only: bool = False) -> Path:
    """NeRF-synthetic layout (transforms_{train,test}.json + RGBA PNGs without extension in
    file_path), rendered from the analytic sphere, in our units (scale 0.5, offset 0.5)."""
    field = ColourSphere()
    gen = torch.Generator().manual_seed(0)
    for split, n in (("train", train), ("test", test)):
        polar = 30.0 + 90.0 * torch.rand(n, generator=gen)
        az = 360.0 * torch.rand(n, generator=gen)
        cams = orbit_cameras(polar, az, torch.full((n,), 2.2), torch.full((n,), 45.0), size)
        o, d = camera_rays(cams)
        with torch.no_grad():
            out = render_rays(field, o.reshape(-1, 3), d.reshape(-1, 3), 128)
        (root / split).mkdir(parents=True, exist_ok=True)
        frames = []
        for i in range(n):
            alpha = out.opacity[0].reshape(n, size, size, 1)[i].clamp(0, 1)
            shaded = out.rgb[0].reshape(n, size, size, 3)[i]
            rgb = ((shaded - (1 - alpha)) / alpha.clamp_min(1e-6)).clamp(0, 1)
            img = shaded if rgb_only else torch.cat([rgb, alpha], -1)
            arr = (img.numpy() * 255 + 0.5).astype(np.uint8)
            Image.fromarray(arr).save(root / split / f"r_{i}.png")
            frames.append({"file_path": f"./{split}/r_{i}",
                           "transform_matrix": cams.c2w[i].tolist()})
        meta = {"camera_angle_x": math.radians(45.0), "scale": 0.5, "offset": [0.5, 0.5, 0.5],
                "frames": frames}
        (root / f"transforms_{split}.json").write_text(json.dumps(meta))
    return root
