"""Posed-image loading and fitting one NeRF from views, pure torch on the CPU."""

from __future__ import annotations

import json
import math
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
        rgb = torch.stack(
            [
                0.5 + 0.4 * torch.sin(5 * x),
                0.5 + 0.4 * torch.cos(4 * z),
                0.5 + 0.4 * torch.sin(3 * y + 1),
            ],
            dim=-1,
        )
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
            frames.append(
                {"file_path": f"./{split}/r_{i}", "transform_matrix": cams.c2w[i].tolist()}
            )
        meta = {
            "camera_angle_x": math.radians(45.0),
            "scale": 0.5,
            "offset": [0.5, 0.5, 0.5],
            "frames": frames,
        }
        (root / f"transforms_{split}.json").write_text(json.dumps(meta))
    return root


@pytest.fixture(scope="module")
def sphere_data(tmp_path_factory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("sphere"), size=24, train=20, test=3)


def test_load_nerf_synthetic_layout(sphere_data) -> None:
    ds = load_views(sphere_data)
    assert len(ds.train) == 20 and len(ds.test) == 3
    assert ds.train.images.shape == (20, 24, 24, 4) and ds.train.images.dtype == torch.uint8
    assert ds.scale == 1.0 and ds.offset == (0.0, 0.0, 0.0)  # scale 0.5 / offset 0.5 = as is
    fx = 0.5 * 24 / math.tan(math.radians(22.5))
    torch.testing.assert_close(ds.train.intrinsics[0], torch.tensor([fx, fx, 12.0, 12.0]))
    # rays through the loaded cameras are the rays of the cameras that rendered the images
    c2w = ds.test.c2w[:1]
    cams = orbit_cameras(torch.zeros(1), torch.zeros(1), torch.ones(1), torch.full((1,), 45.0), 24)
    cams.c2w = c2w
    o_ref, d_ref = camera_rays(cams)
    o, d, px, py = ds.test.view_rays(0)
    torch.testing.assert_close(o, o_ref[0])
    torch.testing.assert_close(d, d_ref[0], atol=1e-6, rtol=0)
    # alpha compositing on a chosen background
    white = ds.test.colors(torch.zeros_like(px), px, py, torch.ones(3))
    black = ds.test.colors(torch.zeros_like(px), px, py, torch.zeros(3))
    assert (white >= black - 1e-6).all() and (white - black).max() > 0.5


def _write_json(root: Path, meta: dict, name: str = "transforms.json") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((6, 8, 3), 200, np.uint8)).save(root / "a.png")
    frames = [
        {
            "file_path": "a.png",
            "transform_matrix": [[1, 0, 0, 1.0], [0, 1, 0, 2.0], [0, 0, 1, 3.0], [0, 0, 0, 1]],
        }
    ] * 9
    (root / name).write_text(json.dumps({"frames": frames, **meta}))
    return root / name


@pytest.mark.parametrize(
    ("meta", "expect"),
    [
        ({"camera_angle_x": 0.9}, [2 * 0.33 * 1.0, 2 * 0.33 * 2.0, 2 * 0.33 * 3.0]),
        ({"camera_angle_x": 0.9, "aabb_scale": 4}, [0.165, 0.33, 0.495]),
        ({"fl_x": 10.0, "scale": 0.5, "offset": [0.25, 0.5, 0.75]}, [0.5, 2.0, 3.5]),
        ({"fl_x": 10.0, "bound": 4.0}, [0.25, 0.5, 0.75]),
        ({"fl_x": 10.0, "aabb": [[0, 0, 0], [4, 2, 2]]}, [-0.5, 0.5, 1.0]),
    ],
)
def test_scene_scaling_rules(tmp_path, meta, expect) -> None:
    path = _write_json(tmp_path / "d", meta)
    ds = load_views(path)
    assert len(ds.train) == 7 and len(ds.test) == 2  # every 8th frame held out
    torch.testing.assert_close(ds.train.c2w[0, :3, 3], torch.tensor(expect), atol=1e-6, rtol=0)
    torch.testing.assert_close(ds.train.c2w[0, :3, :3], torch.eye(3))
    assert (ds.train.images[..., 3] == 255).all()  # RGB source: opaque


def test_nerfstudio_intrinsics_and_downscale(tmp_path) -> None:
    path = _write_json(
        tmp_path / "n", {"fl_x": 10.0, "fl_y": 12.0, "cx": 3.0, "cy": 2.5, "w": 8, "h": 6}
    )
    ds = load_views(path.parent, downscale=2)
    assert ds.train.images.shape[1:3] == (3, 4)
    torch.testing.assert_close(ds.train.intrinsics[0], torch.tensor([5.0, 6.0, 1.5, 1.25]))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda root: (root / "transforms.json").unlink(), "no transforms"),
        (lambda root: (root / "transforms.json").write_text("{not json"), "not valid JSON"),
        (lambda root: (root / "transforms.json").write_text('{"frames": []}'), "no frames"),
        (lambda root: (root / "a.png").unlink(), "missing"),
        (
            lambda root: (root / "transforms.json").write_text(
                json.dumps(
                    {
                        "camera_angle_x": 1.0,
                        "frames": [{"file_path": "a", "transform_matrix": [[1, 2]]}],
                    }
                )
            ),
            "4x4",
        ),
        (
            lambda root: (root / "transforms.json").write_text(
                json.dumps({"frames": [{"file_path": "a", "transform_matrix": np.eye(4).tolist()}]})
            ),
            "focal",
        ),
        (
            lambda root: (root / "transforms.json").write_text(
                json.dumps({"frames": [{"transform_matrix": np.eye(4).tolist()}]})
            ),
            "file_path",
        ),
    ],
)
def test_clear_errors(tmp_path, mutate, message) -> None:
    root = tmp_path / "bad"
    _write_json(root, {"camera_angle_x": 1.0})
    mutate(root)
    with pytest.raises(UserError, match=message):
        load_views(root)
    with pytest.raises(UserError, match="no dataset"):
        load_views(tmp_path / "nowhere")


def test_fit_views_cpu_reaches_a_clear_psnr(sphere_data) -> None:
    """Pure torch on the CPU: a small model learns the sphere far above a blank image."""
    ds = load_views(sphere_data)
    rgba = ds.test.images.float() / 255
    target = rgba[..., :3] * rgba[..., 3:] + 1 - rgba[..., 3:]
    blank = float(-10 * torch.log10((target - 1).square().mean()))  # all-white prediction
    cfg = FitViewsConfig(
        steps=300,
        grid=GridConfig(num_levels=4, base_resolution=8, finest_resolution=64, log2_table_size=12),
        mlp=SceneMLPConfig(depth=3, width=32, cond_dim=8),
        max_rays=256,
        min_rays=64,
        target_samples=3000,
        query_budget=8000,
        steps_across=64,
        occupancy_resolution=16,
        march_backend="torch",
        grid_backend="torch",
        mlp_lr=1e-2,
    )
    model, metrics = fit_views(ds, cfg, "cpu", progress=False)
    assert metrics["steps"] == 300
    assert metrics["psnr_test"] > max(25.0, blank + 10.0), (metrics, blank)
    assert set(model.occupancy.state_dict()) == {"density", "bits", "updates"}


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_fit_views_cuda_short_run(tmp_path) -> None:
    """The GPU path end to end (CUDA marcher, compaction, fused Adam) on a 48px sphere."""
    ds = load_views(write_dataset(tmp_path, size=48, train=40, test=4))
    cfg = FitViewsConfig(steps=400, march_backend="cuda")
    _, metrics = fit_views(ds, cfg, "cuda", progress=False)
    assert metrics["psnr_test"] > 26.0, metrics
