"""Image writers: uint8 conversion, PNG/JPG round trips, contact sheets, depth colouring."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from hyperfields_cli.errors import UserError
from hyperfields_cli.export import contact_sheet, depth_to_rgb, save_image, to_uint8


def test_to_uint8_rounds_clips_and_accepts_tensors() -> None:
    img = torch.tensor([[[0.0, 0.5, 1.0], [-1.0, 2.0, float("nan")]]])
    out = to_uint8(img)
    assert out.dtype == np.uint8 and out.shape == (1, 2, 3)
    assert out.tolist() == [[[0, 128, 255], [0, 255, 0]]]
    u8 = np.full((2, 2, 3), 7, np.uint8)
    assert to_uint8(u8) is not None and (to_uint8(u8) == 7).all()
    assert to_uint8(np.zeros((4, 5))).shape == (4, 5, 3)


def test_png_round_trip_is_exact(tmp_path) -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (17, 23, 3), dtype=np.uint8)
    path = save_image(torch.from_numpy(img).float() / 255.0, tmp_path / "a" / "b" / "x.png")
    assert path.exists()
    np.testing.assert_array_equal(np.asarray(Image.open(path)), img)


def test_jpg_written_and_close(tmp_path) -> None:
    img = np.full((16, 16, 3), 0.25, np.float32)
    path = save_image(img, tmp_path / "x.JPG")
    back = np.asarray(Image.open(path)).astype(int)
    assert back.shape == (16, 16, 3) and np.abs(back - 64).max() <= 2


def test_save_image_errors(tmp_path) -> None:
    with pytest.raises(UserError, match="unknown file type"):
        save_image(np.zeros((4, 4, 3)), tmp_path / "x.bmp")
    blocker = tmp_path / "file"
    blocker.write_text("not a dir")
    with pytest.raises(UserError, match="cannot create directory"):
        save_image(np.zeros((4, 4, 3)), blocker / "x.png")


def test_contact_sheet_grid_with_labels() -> None:
    imgs = [np.full((32, 40, 3), i / 5, np.float32) for i in range(5)]
    imgs[3] = np.zeros((10, 10, 3), np.uint8)  # other sizes are resized to the first
    plain = contact_sheet(imgs, cols=3, pad=4)
    assert plain.dtype == np.uint8
    assert plain.shape == (2 * 32 + 3 * 4, 3 * 40 + 4 * 4, 3)
    labelled = contact_sheet(imgs, labels=[f"scene {i} long prompt text" for i in range(5)], cols=3)
    assert labelled.shape[1] == plain.shape[1] and labelled.shape[0] > plain.shape[0]
    # label band under tile 0 holds dark text pixels, the pad band above it stays white
    band = labelled[4 + 32 : 4 + (labelled.shape[0] - 12) // 2, 4 : 4 + 40]
    assert band.min() < 128
    assert (labelled[:4] == 255).all()
    # tile content lands where expected
    assert (labelled[4 + 5, 4 + 40 + 4 + 5] == round(0.2 * 255)).all()


def test_contact_sheet_default_cols_and_bad_labels() -> None:
    sheet = contact_sheet([np.zeros((8, 8, 3))] * 4, pad=0)
    assert sheet.shape == (16, 16, 3)
    with pytest.raises(ValueError):
        contact_sheet([np.zeros((8, 8, 3))] * 2, labels=["one"])


def test_depth_to_rgb_colormap_and_background() -> None:
    depth = torch.linspace(1.0, 3.0, 16).repeat(8, 1)
    opacity = torch.ones(8, 16)
    opacity[:, -2:] = 0.0
    rgb = depth_to_rgb(depth, opacity)
    assert isinstance(rgb, torch.Tensor) and rgb.shape == (8, 16, 3)
    assert rgb.min() >= 0 and rgb.max() <= 1
    assert torch.allclose(rgb[:, -2:], torch.ones(8, 2, 3))  # background white
    lum = rgb[0, :-2] @ torch.tensor([0.2126, 0.7152, 0.0722])
    assert (lum[1:] < lum[:-1]).all()  # near bright, far dark, monotone
    arr = depth_to_rgb(np.full((4, 4), 2.0), None, near=1.0, far=3.0)
    assert isinstance(arr, np.ndarray) and arr.shape == (4, 4, 3)
