"""Video writers: MP4 (H.264 through imageio-ffmpeg) and looping GIF (through Pillow).

Turntables and training timelapses go through here. Files are written to a temporary sibling
and renamed into place, so an interrupted encode never leaves a truncated video behind.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import imageio.v3 as iio
import numpy as np
import torch

from hyperfields_cli.errors import UserError
from hyperfields_cli.export.images import prepare_output_path, to_uint8

VIDEO_SUFFIXES = (".mp4", ".gif")
MP4_QUALITY = 8  # imageio-ffmpeg scale 1..10; 8 maps to x264 CRF ~10: near-lossless, small files
MIN_GIF_FRAME_MS = 20  # browsers replace GIF delays below 20 ms with 100 ms (a slow-motion loop)


def _frames(frames: Any) -> Iterator[np.ndarray]:
    """Yield uint8 [H, W, 3] frames from an array [T, H, W, C] or a sequence of images."""
    if isinstance(frames, torch.Tensor | np.ndarray):
        if frames.ndim != 4:
            raise ValueError(f"expected frames [T, H, W, 3], got shape {tuple(frames.shape)}")
        frames = iter(frames)
    for f in frames:
        arr = to_uint8(f)
        if arr.ndim != 3 or arr.shape[-1] not in (3, 4):
            raise ValueError(f"expected frames [H, W, 3], got a frame of shape {arr.shape}")
        yield np.ascontiguousarray(arr[..., :3])


def _pad_even(frame: np.ndarray) -> np.ndarray:
    """Pad odd height/width by one edge row/column: yuv420p subsamples chroma 2x2."""
    h, w = frame.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return frame
    return np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def _write_mp4(frames: Iterable[np.ndarray], path: Path, fps: int) -> int:
    """Stream frames into ffmpeg one at a time (bounded memory); returns the frame count."""
    writer = None
    count, size = 0, None
    try:
        for frame in frames:
            frame = _pad_even(frame)
            if writer is None:
                import imageio_ffmpeg  # only MP4 needs the ffmpeg binary it ships

                size = frame.shape[:2]
                writer = imageio_ffmpeg.write_frames(
                    str(path),
                    (int(size[1]), int(size[0])),
                    fps=fps,
                    codec="libx264",
                    pix_fmt_in="rgb24",
                    pix_fmt_out="yuv420p",
                    quality=MP4_QUALITY,
                    macro_block_size=1,  # we pad to even ourselves; no silent resizing
                    ffmpeg_log_level="error",
                    output_params=["-movflags", "+faststart"],  # plays before fully downloaded
                )
                writer.send(None)
            elif frame.shape[:2] != size:
                raise ValueError(f"frame {count} is {frame.shape[:2]}, the first was {size}")
            writer.send(np.ascontiguousarray(frame))
            count += 1
    finally:
        if writer is not None:
            writer.close()
    return count


def _write_gif(frames: Iterable[np.ndarray], path: Path, fps: int) -> int:
    """Write a forever-looping GIF; Pillow quantises each frame to its own 256-colour palette."""
    stack = list(frames)
    if not stack:
        return 0
    if any(f.shape != stack[0].shape for f in stack):
        raise ValueError("all GIF frames must have the same size")
    duration = max(MIN_GIF_FRAME_MS, round(1000.0 / fps))
    iio.imwrite(
        path,
        np.stack(stack),
        plugin="pillow",
        extension=".gif",
        is_batch=True,
        duration=duration,
        loop=0,
    )
    return len(stack)


def save_video(frames: Any, path: str | os.PathLike[str], fps: int = 30) -> Path:
    """Write frames (array [T, H, W, 3] or sequence of [H, W, 3]; float [0, 1] or uint8) to
    `.mp4` (H.264, yuv420p, odd sizes padded to even) or `.gif` (loops forever); returns path.

    GIF frame delays are whole milliseconds of at least 20 ms, so fps above 50 plays at 50.
    """
    if fps <= 0:
        raise UserError(f"fps must be positive, got {fps}")
    p = prepare_output_path(path, VIDEO_SUFFIXES, "video")
    tmp = p.with_name(f".{p.stem}.partial{p.suffix}")  # keep the suffix: ffmpeg picks the muxer
    write = _write_mp4 if p.suffix.lower() == ".mp4" else _write_gif
    try:
        count = write(_frames(frames), tmp, fps)
        if count == 0:
            raise UserError(f"no frames to write to '{p}'")
        os.replace(tmp, p)
    except OSError as e:
        raise UserError(f"cannot write video '{p}': {e}") from e
    finally:
        if tmp.exists():
            tmp.unlink()
    return p
