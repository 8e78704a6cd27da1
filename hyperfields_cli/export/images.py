"""Image writers: float/uint8 conversion, PNG/JPG files, labelled contact sheets, depth colouring.

Everything here accepts torch tensors or numpy arrays, channels last, floats in [0, 1] (the
project convention) or uint8, so callers can hand over renderer output without converting.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from hyperfields_cli.errors import UserError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")

# Viridis sampled at 9 evenly spaced stops; linear interpolation between them stays within a
# couple of 8-bit levels of the real map and keeps its perceptual uniformity (no matplotlib).
_VIRIDIS_STOPS = (
    np.array(
        [
            [0x44, 0x01, 0x54],
            [0x47, 0x2D, 0x7B],
            [0x3B, 0x52, 0x8B],
            [0x2C, 0x72, 0x8E],
            [0x21, 0x91, 0x8C],
            [0x28, 0xAE, 0x80],
            [0x5E, 0xC9, 0x62],
            [0xAD, 0xDC, 0x30],
            [0xFD, 0xE7, 0x25],
        ],
        dtype=np.float32,
    )
    / 255.0
)


def _to_numpy(x: Any) -> np.ndarray:
    """Tensor (any device, with grad) or array-like -> numpy array, without copying numpy input."""
    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu").numpy()
    return np.asarray(x)


def to_uint8(img: Any) -> np.ndarray:
    """Float image in [0, 1] (or uint8) -> uint8 array, channels last; [H, W] becomes [H, W, 3].

    Floats are clipped and rounded (not truncated) so 1.0 -> 255 and 0.5 -> 128; NaNs become 0
    so a diverged render still writes an image instead of crashing the writer.
    Any leading batch dims ([T, H, W, 3]) are kept.
    """
    arr = _to_numpy(img)
    if arr.dtype == np.uint8:
        out = arr
    elif arr.dtype == np.bool_:
        out = arr.astype(np.uint8) * 255
    elif np.issubdtype(arr.dtype, np.floating):
        arr = np.nan_to_num(arr.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        out = (np.clip(arr, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    else:
        raise TypeError(f"expected a float image in [0, 1] or uint8, got dtype {arr.dtype}")
    if out.ndim == 2:
        out = np.repeat(out[..., None], 3, axis=-1)
    elif out.ndim >= 3 and out.shape[-1] == 1:
        out = np.repeat(out, 3, axis=-1)
    return np.ascontiguousarray(out)


def prepare_output_path(path: str | os.PathLike[str], suffixes: Sequence[str], what: str) -> Path:
    """Check the suffix and create parent dirs, turning failures into one clear UserError.

    Shared by the image, video and mesh writers so they all fail the same way.
    """
    p = Path(path).expanduser()
    suffix = p.suffix.lower()
    if suffix not in suffixes:
        raise UserError(
            f"cannot write {what} '{p}': unknown file type '{p.suffix or '(none)'}'",
            hint="use one of " + ", ".join(suffixes),
        )
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(
            f"cannot create directory '{p.parent}' for {what}: {e.strerror or e}"
        ) from e
    if not os.access(p.parent, os.W_OK):
        raise UserError(f"directory '{p.parent}' is not writable", hint=f"cannot save {what}")
    return p


def save_image(img: Any, path: str | os.PathLike[str]) -> Path:
    """Write a float [0, 1] or uint8 [H, W, 3|4] image as PNG or JPG (by suffix); returns path."""
    p = prepare_output_path(path, IMAGE_SUFFIXES, "image")
    arr = to_uint8(img)
    if arr.ndim != 3 or arr.shape[-1] not in (3, 4):
        raise ValueError(f"expected an image [H, W, 3|4], got shape {tuple(arr.shape)}")
    if p.suffix.lower() != ".png" and arr.shape[-1] == 4:
        arr = arr[..., :3]  # JPEG has no alpha channel
    try:
        if p.suffix.lower() == ".png":
            Image.fromarray(arr).save(p, format="PNG")
        else:
            Image.fromarray(arr).save(p, format="JPEG", quality=95)
    except OSError as e:
        raise UserError(f"cannot write image '{p}': {e}") from e
    return p


def _fit_label(draw: ImageDraw.ImageDraw, text: str, font: Any, width: int) -> str:
    """Shorten `text` with an ellipsis until it fits `width` pixels, so labels never overlap."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "...", font=font) > width:
        text = text[:-1]
    return text + "..." if text else ""


def contact_sheet(
    images: Sequence[Any],
    labels: Sequence[str] | None = None,
    cols: int | None = None,
    pad: int = 4,
) -> np.ndarray:
    """Tile images into one uint8 grid on white, optionally with a label under each tile.

    Used to eyeball many scenes at once (teach validation, benchmarks). Tiles take the first
    image's size (others are resized) so a sheet stays regular; `cols` defaults to a near-square
    layout. Labels use Pillow's default font and are ellipsised to the tile width.
    """
    if len(images) == 0:
        raise ValueError("contact_sheet needs at least one image")
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"got {len(labels)} labels for {len(images)} images")
    tiles = [to_uint8(im)[..., :3] for im in images]
    h, w = tiles[0].shape[:2]
    for i, t in enumerate(tiles):
        if t.shape[:2] != (h, w):
            resized = Image.fromarray(t).resize((w, h), Image.Resampling.BILINEAR)
            tiles[i] = np.asarray(resized)
    n = len(tiles)
    cols = max(1, min(cols or math.ceil(math.sqrt(n)), n))
    rows = math.ceil(n / cols)
    pad = max(0, pad)

    font = ImageFont.load_default()
    label_h = 0
    if labels is not None:
        probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
        left, top, right, bottom = probe.textbbox((0, 0), "Ag|", font=font)
        label_h = int(bottom - top) + 2 * max(pad, 2)
    cell_h = h + label_h
    sheet = Image.new(
        "RGB", (cols * w + (cols + 1) * pad, rows * cell_h + (rows + 1) * pad), (255, 255, 255)
    )
    draw = ImageDraw.Draw(sheet)
    for i, t in enumerate(tiles):
        r, c = divmod(i, cols)
        x, y = pad + c * (w + pad), pad + r * (cell_h + pad)
        sheet.paste(Image.fromarray(t), (x, y))
        if labels is not None:
            text = _fit_label(draw, str(labels[i]), font, w)
            tw = draw.textlength(text, font=font)
            draw.text((x + (w - tw) / 2, y + h + max(pad, 2)), text, fill=(0, 0, 0), font=font)
    return np.asarray(sheet, dtype=np.uint8).copy()


def _viridis(t: np.ndarray) -> np.ndarray:
    """t in [0, 1] (any shape) -> rgb float32 [..., 3] by piecewise-linear viridis."""
    x = np.clip(t, 0.0, 1.0) * (len(_VIRIDIS_STOPS) - 1)
    i = np.minimum(np.floor(x).astype(np.int64), len(_VIRIDIS_STOPS) - 2)
    f = (x - i)[..., None].astype(np.float32)
    return _VIRIDIS_STOPS[i] * (1.0 - f) + _VIRIDIS_STOPS[i + 1] * f


def depth_to_rgb(
    depth: Any, opacity: Any | None = None, near: float | None = None, far: float | None = None
) -> Any:
    """Depth [H, W] -> float rgb [H, W, 3] in [0, 1]: near is bright yellow, far dark purple.

    Viridis is perceptually uniform, so equal depth steps look equal (unlike jet). Pixels with
    opacity < 0.5 are background and painted white; their (meaningless) depth is also excluded
    when near/far default to the foreground's min/max. Returns a tensor if given a tensor.
    """
    as_tensor = isinstance(depth, torch.Tensor)
    d = _to_numpy(depth).astype(np.float32)
    if d.ndim != 2:
        raise ValueError(f"expected depth [H, W], got shape {tuple(d.shape)}")
    fg = np.isfinite(d)
    if opacity is not None:
        op = _to_numpy(opacity).astype(np.float32).reshape(d.shape)
        fg &= op >= 0.5
    vals = d[fg]
    lo = float(near) if near is not None else (float(vals.min()) if vals.size else 0.0)
    hi = float(far) if far is not None else (float(vals.max()) if vals.size else 1.0)
    t = (hi - np.nan_to_num(d, nan=hi)) / max(hi - lo, 1e-8)  # 1 at near, 0 at far
    rgb = _viridis(t)
    rgb[~fg] = 1.0
    if as_tensor:
        return torch.from_numpy(rgb).to(depth.device)
    return rgb
