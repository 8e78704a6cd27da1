"""Export a procedural scene as a NeRF-synthetic (Blender) dataset: transforms JSON + RGBA PNGs.

Any NeRF code can then train on our ground truth, and our `views` guidance can be tested on
data whose answer is known exactly. Matrices are camera-to-world in the OpenGL convention
(`render/cameras.py`), the same as the original `transforms_*.json` files.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import torch

from hyperfields_cli.render.cameras import Cameras, orbit_cameras, turntable_cameras
from hyperfields_cli.synthetic.preview import DEFAULT_SAMPLES, render_specs
from hyperfields_cli.synthetic.scene import BACKGROUND, SceneSpec

RADIUS, FOV_DEG = 2.2, 45.0
POLAR_RANGE = (0.0, 100.0)  # train views: overhead down to slightly below the horizon


def train_cameras(views: int, size: int, seed: int) -> Cameras:
    """`views` cameras spread uniformly over the sphere cap polar in POLAR_RANGE (seeded)."""
    g = torch.Generator().manual_seed(seed)
    lo, hi = (math.cos(math.radians(a)) for a in POLAR_RANGE)
    cos_polar = hi + (lo - hi) * torch.rand(views, generator=g)  # area-uniform on the cap
    polar = torch.rad2deg(torch.arccos(cos_polar))
    azimuth = -180.0 + 360.0 * torch.rand(views, generator=g)
    full = torch.ones(views)
    return orbit_cameras(polar, azimuth, full * RADIUS, full * FOV_DEG, size)


def _write_split(
    out: Path,
    split: str,
    spec: SceneSpec,
    cams: Cameras,
    num_samples: int,
    device: str | torch.device,
    prompt: str,
) -> dict:
    """Render one split to out/split/r_XXX.png (straight RGBA) -> its transforms dict."""
    (out / split).mkdir(parents=True, exist_ok=True)
    frames = []
    for i in range(len(cams)):
        rgb, opacity = render_specs([spec], cams[i], num_samples, device)
        rgb, a = rgb[0, 0], opacity[0, 0]  # [H, W, 3], [H, W]
        premult = rgb - (1.0 - a)[..., None] * BACKGROUND  # undo compositing over white
        straight = torch.where(a[..., None] > 1e-4, premult / a[..., None].clamp_min(1e-4), 0.0)
        rgba = torch.cat([straight.clamp(0.0, 1.0), a[..., None]], dim=-1)
        name = f"{split}/r_{i:03d}.png"
        iio.imwrite(out / name, (rgba.numpy() * 255.0 + 0.5).astype(np.uint8))
        frames.append(
            {
                "file_path": f"./{name}",
                "transform_matrix": cams.c2w[i].tolist(),
                "polar_deg": float(cams.polar_deg[i]) if cams.polar_deg is not None else None,
                "azimuth_deg": float(cams.azimuth_deg[i]) if cams.azimuth_deg is not None else None,
            }
        )
    size = cams.width
    focal = float(cams.focal()[0])
    return {
        "camera_angle_x": math.radians(FOV_DEG),
        "fl_x": focal, "fl_y": focal, "cx": size / 2.0, "cy": size / 2.0,
        "w": size, "h": size,
        "scene": {"shape": spec.shape, "attribute": spec.attribute, "prompt": prompt},
        "background": [BACKGROUND] * 3,
        "bound": 1.0,
        "frames": frames,
    }  # fmt: skip


def export_nerf_dataset(
    spec: SceneSpec,
    out_dir: str | Path,
    views: int = 100,
    size: int = 200,
    seed: int = 0,
    test_views: int | None = None,
    num_samples: int = DEFAULT_SAMPLES,
    device: str | torch.device = "cpu",
    prompt: str | None = None,
) -> Path:
    """Write `views` random training views and a turntable test ring of one scene.

    Layout: out_dir/{train,test}/r_XXX.png, transforms_{train,val,test}.json and transforms.json
    (= train, for instant-ngp style loaders). Test views sit on the default turntable
    (polar 65, radius 2.2), `test_views` of them (default views // 4, at least 1). Returns out_dir.
    """
    if views < 1 or size < 8:
        raise ValueError("need at least 1 view and images of at least 8 pixels")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    text = prompt or spec.phrase()
    n_test = max(1, views // 4) if test_views is None else max(1, test_views)
    train = _write_split(
        out, "train", spec, train_cameras(views, size, seed), num_samples, device, text
    )
    test = _write_split(
        out,
        "test",
        spec,
        turntable_cameras(n_test, size, polar_deg=65.0, radius=RADIUS, fov_deg=FOV_DEG),
        num_samples,
        device,
        text,
    )
    for name, data in (
        ("transforms_train.json", train),
        ("transforms.json", train),
        ("transforms_val.json", test),
        ("transforms_test.json", test),
    ):
        (out / name).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return out
