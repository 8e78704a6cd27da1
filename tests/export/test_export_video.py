"""Video writers: MP4 and GIF written, readable back, right frame count and size."""

from __future__ import annotations

import imageio.v2 as iio2
import imageio.v3 as iio
import numpy as np
import pytest
import torch

from hyperfields_cli.errors import UserError
from hyperfields_cli.export import save_video


def _frames(t: int, h: int, w: int) -> torch.Tensor:
    """Distinct frames (a moving gradient) so no encoder merges duplicates."""
    x = torch.linspace(0, 1, w)[None, None, :, None]
    phase = torch.arange(t)[:, None, None, None] / t
    return ((x + phase) % 1.0).expand(t, h, w, 3).clone()


def test_mp4_written_readable_padded_to_even(tmp_path) -> None:
    path = save_video(_frames(12, 33, 47), tmp_path / "out" / "turn.mp4", fps=24)
    assert path.exists() and path.stat().st_size > 0
    assert not list(path.parent.glob(".*partial*"))
    reader = iio2.get_reader(path, format="FFMPEG")
    try:
        frames = list(reader.iter_data())  # len(reader) is inf
        fps = reader.get_meta_data()["fps"]
    finally:
        reader.close()
    assert len(frames) == 12
    assert frames[0].shape == (34, 48, 3)
    assert fps == pytest.approx(24, abs=0.1)


def test_mp4_from_uint8_sequence(tmp_path) -> None:
    seq = [np.full((16, 16, 3), v, np.uint8) for v in (0, 128, 255)]
    path = save_video(seq, tmp_path / "seq.mp4", fps=10)
    reader = iio2.get_reader(path, format="FFMPEG")
    try:
        frames = list(reader.iter_data())  # len(reader) is inf
    finally:
        reader.close()
    assert len(frames) == 3
    assert abs(int(frames[1].mean()) - 128) <= 3


def test_gif_written_looping_with_frame_count(tmp_path) -> None:
    path = save_video(_frames(6, 20, 30).numpy(), tmp_path / "turn.gif", fps=10)
    frames = iio.imread(path, index=None)
    assert frames.shape[0] == 6 and frames.shape[1:3] == (20, 30)
    meta = iio.immeta(path, index=0)
    assert meta.get("loop") == 0
    assert meta.get("duration") == 100


def test_video_errors(tmp_path) -> None:
    with pytest.raises(UserError, match="unknown file type"):
        save_video(_frames(2, 8, 8), tmp_path / "x.avi")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UserError, match="cannot create directory"):
        save_video(_frames(2, 8, 8), blocker / "x.mp4")
    with pytest.raises(UserError, match="no frames"):
        save_video([], tmp_path / "empty.gif")
    assert not (tmp_path / "empty.gif").exists()
