"""NeRF-synthetic export: layout, JSON fields, OpenGL poses and straight-alpha RGBA images."""

from __future__ import annotations

import json
import math
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import torch

from hyperfields_cli.render.cameras import look_at
from hyperfields_cli.synthetic import SceneSpec, export_nerf_dataset


def test_export_layout_and_poses(tmp_path: Path) -> None:
    out = export_nerf_dataset(
        SceneSpec("bowl", "red"),
        tmp_path / "ds",
        views=3,
        size=16,
        seed=1,
        test_views=2,
        num_samples=32,
    )
    for name in (
        "transforms.json",
        "transforms_train.json",
        "transforms_val.json",
        "transforms_test.json",
    ):
        assert (out / name).is_file()
    train = json.loads((out / "transforms_train.json").read_text())
    test = json.loads((out / "transforms_test.json").read_text())
    assert len(train["frames"]) == 3 and len(test["frames"]) == 2
    assert math.isclose(train["camera_angle_x"], math.radians(45.0))
    assert train["scene"] == {"shape": "bowl", "attribute": "red", "prompt": "a red bowl"}
    for fr in train["frames"] + test["frames"]:
        m = torch.tensor(fr["transform_matrix"])
        assert m.shape == (4, 4) and torch.allclose(m[3], torch.tensor([0.0, 0, 0, 1]))
        eye = m[:3, 3]
        assert math.isclose(float(eye.norm()), 2.2, rel_tol=1e-4)
        # OpenGL: the camera looks down its -z axis, i.e. towards the origin here
        torch.testing.assert_close(m, look_at(eye[None])[0], atol=1e-5, rtol=0)
        img = iio.imread(out / fr["file_path"])
        assert img.shape == (16, 16, 4) and img.dtype == np.uint8
    img = iio.imread(out / test["frames"][0]["file_path"])
    assert img[..., 3].max() == 255 and img[0, 0, 3] == 0  # object opaque, corner empty
    again = export_nerf_dataset(
        SceneSpec("bowl", "red"),
        tmp_path / "ds2",
        views=3,
        size=16,
        seed=1,
        test_views=2,
        num_samples=32,
    )
    a = iio.imread(out / "train/r_001.png")
    assert np.array_equal(a, iio.imread(again / "train/r_001.png"))  # deterministic
