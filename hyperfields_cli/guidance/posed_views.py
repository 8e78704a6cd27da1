"""Posed images as guidance: load a NeRF-synthetic / nerfstudio / Instant-NGP `transforms.json`.

Layouts: a folder with `transforms_train.json` (+ `transforms_test.json`, else `_val`), or a
single `transforms.json` (a folder holding one, or the file itself); a single file keeps every
8th frame as the test split. Intrinsics: `camera_angle_x` (and optionally `camera_angle_y`) or
`fl_x`/`fl_y`/`cx`/`cy`/`w`/`h`, at the top level or per frame. `file_path` is relative to the
json, with or without an extension. Poses are camera-to-world, OpenGL (our convention).

Scaling into our cube [-1, 1]^3, first rule that applies:
1. `scene_scale` / `scene_offset` arguments: x_ours = scale * x + offset.
2. an `aabb` entry [[xmin, ymin, zmin], [xmax, ymax, zmax]]: the box is centred and fitted.
3. a `bound` entry b (our own exporter, `synthetic/dataset.py`): the scene already lives in
   our world with cube [-b, b]^3, so x_ours = x / b.
4. Instant-NGP's convention, which NeRF-synthetic relies on: the json's `scale` (default 0.33)
   and `offset` (default 0.5) map the scene into the unit cube, x_unit = scale * x + offset,
   and x_ours = 2 * x_unit - 1 (a scene written with scale 0.5, offset 0.5 is used as is).
   An `aabb_scale` k > 1 (Instant-NGP's "scene extends k times beyond the unit cube") is
   shrunk by k so all of it fits, at the cost of resolution.
Rotations are unchanged (the scale is uniform), so ray directions are too.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from hyperfields_cli.errors import NotFoundError, UserError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".PNG", ".JPG", ".JPEG")


@dataclass
class PosedViews:
    """N images of one size with their cameras (one split)."""

    images: Tensor  # [N, H, W, 4] uint8 RGBA (alpha 255 for RGB sources)
    c2w: Tensor  # [N, 4, 4] float32 camera-to-world in our world (already scaled)
    intrinsics: Tensor  # [N, 4] float32 fx, fy, cx, cy in pixels
    names: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def height(self) -> int:
        return self.images.shape[1]

    @property
    def width(self) -> int:
        return self.images.shape[2]

    def to(self, device: torch.device | str) -> PosedViews:
        return PosedViews(
            self.images.to(device), self.c2w.to(device), self.intrinsics.to(device), self.names
        )

    def rays(self, view: Tensor, px: Tensor, py: Tensor) -> tuple[Tensor, Tensor]:
        """Rays through pixel centres: view/px/py [B] (long) -> origins, unit dirs [B, 3]."""
        k = self.intrinsics[view]  # [B, 4]
        x = (px.float() + 0.5 - k[:, 2]) / k[:, 0]
        y = -(py.float() + 0.5 - k[:, 3]) / k[:, 1]
        d_cam = torch.stack([x, y, -torch.ones_like(x)], dim=-1)  # [B, 3]
        c2w = self.c2w[view]  # [B, 4, 4]
        dirs = torch.nn.functional.normalize(
            torch.einsum("bij,bj->bi", c2w[:, :3, :3], d_cam), dim=-1
        )
        return c2w[:, :3, 3], dirs

    def colors(self, view: Tensor, px: Tensor, py: Tensor, background: Tensor) -> Tensor:
        """Pixel colours [B, 3] in [0, 1], alpha-composited on background [B, 3] or [3]."""
        rgba = self.images[view, py, px].float() / 255.0  # [B, 4]
        a = rgba[:, 3:]
        return rgba[:, :3] * a + background.to(rgba) * (1.0 - a)

    def view_rays(self, i: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """All pixels of view i, row-major -> origins, dirs [H*W, 3], px, py [H*W]."""
        dev = self.images.device
        ys, xs = torch.meshgrid(
            torch.arange(self.height, device=dev),
            torch.arange(self.width, device=dev),
            indexing="ij",
        )
        px, py = xs.reshape(-1), ys.reshape(-1)
        view = torch.full_like(px, i)
        o, d = self.rays(view, px, py)
        return o, d, px, py


@dataclass
class ViewDataset:
    """Train and test splits of one scene, in our world units."""

    train: PosedViews
    test: PosedViews
    root: Path
    scale: float  # x_ours = scale * x_file + offset
    offset: tuple[float, float, float]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(path.read_text())
    except OSError as exc:
        raise NotFoundError(f"cannot read {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise UserError(
            f"{path} is not valid JSON: {exc}",
            "expected a NeRF-synthetic / nerfstudio transforms.json",
        ) from exc
    if not isinstance(meta, dict) or not isinstance(meta.get("frames"), list) or not meta["frames"]:
        raise UserError(f"{path} has no frames", "expected a list under 'frames'")
    return meta


def _image_path(base: Path, file_path: str) -> Path:
    p = base / file_path
    if p.is_file():
        return p
    for ext in IMAGE_EXTENSIONS:
        q = p.with_name(p.name + ext)
        if q.is_file():
            return q
    raise NotFoundError(
        f"image {file_path!r} from the transforms file is missing under {base}",
        "file_path is taken relative to the json, with or without extension",
    )


def _intrinsics(meta: dict[str, Any], frame: dict[str, Any], w: int, h: int) -> list[float]:
    """fx, fy, cx, cy of one frame (per-frame keys override the file's)."""

    def get(key: str) -> Any:
        return frame.get(key, meta.get(key))

    if get("fl_x") is not None:
        fx = float(get("fl_x"))
        fy = float(get("fl_y") if get("fl_y") is not None else fx)
    elif get("camera_angle_x") is not None:
        fx = 0.5 * w / math.tan(0.5 * float(get("camera_angle_x")))
        ang_y = get("camera_angle_y")
        fy = 0.5 * h / math.tan(0.5 * float(ang_y)) if ang_y is not None else fx
    else:
        raise UserError(
            "transforms file gives no focal length", "add camera_angle_x or fl_x (and fl_y)"
        )
    cx = float(get("cx")) if get("cx") is not None else 0.5 * w
    cy = float(get("cy")) if get("cy") is not None else 0.5 * h
    return [fx, fy, cx, cy]


def _load_frames(
    path: Path, meta: dict[str, Any], downscale: int, max_views: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """-> images [N, H, W, 4] uint8, c2w [N, 4, 4] (file units), intrinsics [N, 4], names."""
    frames = meta["frames"][:max_views] if max_views else meta["frames"]
    images, poses, intr, names = [], [], [], []
    for i, frame in enumerate(frames):
        if (
            not isinstance(frame, dict)
            or "file_path" not in frame
            or "transform_matrix" not in frame
        ):
            raise UserError(f"{path}: frame {i} needs file_path and transform_matrix")
        try:
            c2w = np.asarray(frame["transform_matrix"], dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise UserError(f"{path}: frame {i} has a malformed transform_matrix") from exc
        if c2w.shape == (3, 4):
            c2w = np.concatenate([c2w, [[0.0, 0.0, 0.0, 1.0]]])
        if c2w.shape != (4, 4) or not np.isfinite(c2w).all():
            raise UserError(f"{path}: frame {i} transform_matrix must be a finite 4x4 matrix")
        img_path = _image_path(path.parent, str(frame["file_path"]))
        try:
            img = Image.open(img_path)
            img.load()
        except OSError as exc:
            raise UserError(f"cannot decode image {img_path}: {exc}") from exc
        w0, h0 = img.size
        k = _intrinsics(meta, frame, w0, h0)
        img = img.convert("RGBA")
        if downscale > 1:
            img = img.resize((w0 // downscale, h0 // downscale), Image.Resampling.BOX)
            sx, sy = img.size[0] / w0, img.size[1] / h0
            k = [k[0] * sx, k[1] * sy, k[2] * sx, k[3] * sy]
        arr = np.asarray(img, dtype=np.uint8)
        if images and arr.shape != images[0].shape:
            raise UserError(
                f"{img_path} is {arr.shape[1]}x{arr.shape[0]}, other views are "
                f"{images[0].shape[1]}x{images[0].shape[0]}",
                "all views of one split must share a size",
            )
        images.append(arr)
        poses.append(c2w)
        intr.append(k)
        names.append(str(frame["file_path"]))
    return np.stack(images), np.stack(poses), np.asarray(intr, dtype=np.float32), names


def _scene_transform(
    meta: dict[str, Any], scale: float | None, offset: tuple[float, float, float] | None
) -> tuple[float, np.ndarray]:
    """(s, o) with x_ours = s * x + o, by the rules in the module docstring."""
    if scale is not None:
        return float(scale), np.asarray(offset or (0.0, 0.0, 0.0), dtype=np.float64)
    if "aabb" in meta:
        box = np.asarray(meta["aabb"], dtype=np.float64)
        if box.shape != (2, 3) or not (box[1] > box[0]).all():
            raise UserError("transforms 'aabb' must be [[xmin, ymin, zmin], [xmax, ymax, zmax]]")
        s = 2.0 / float((box[1] - box[0]).max())
        return s, -s * box.mean(axis=0)
    if "bound" in meta:
        b = float(meta["bound"])
        if not b > 0:
            raise UserError("transforms 'bound' must be a positive number")
        return 1.0 / b, np.zeros(3)
    s_unit = float(meta.get("scale", 0.33))
    o_unit = np.broadcast_to(np.asarray(meta.get("offset", 0.5), dtype=np.float64), (3,))
    k = max(float(meta.get("aabb_scale", 1.0)), 1.0)
    return 2.0 * s_unit / k, (2.0 * o_unit - 1.0) / k


def _to_views(
    path: Path, meta: dict[str, Any], s: float, o: np.ndarray, downscale: int, max_views: int | None
) -> PosedViews:
    images, c2w, intr, names = _load_frames(path, meta, downscale, max_views)
    c2w = c2w.copy()
    c2w[:, :3, 3] = s * c2w[:, :3, 3] + o
    return PosedViews(
        torch.from_numpy(images), torch.from_numpy(c2w).float(), torch.from_numpy(intr), names
    )


def _subset(v: PosedViews, idx: list[int]) -> PosedViews:
    t = torch.tensor(idx, dtype=torch.long)
    return PosedViews(v.images[t], v.c2w[t], v.intrinsics[t], [v.names[i] for i in idx])


def load_views(
    path: str | Path,
    *,
    downscale: int = 1,
    max_views: int | None = None,
    max_test_views: int | None = None,
    scene_scale: float | None = None,
    scene_offset: tuple[float, float, float] | None = None,
) -> ViewDataset:
    """Load train + test views from a dataset folder or a transforms json (see module doc)."""
    root = Path(path).expanduser()
    if not root.exists():
        raise NotFoundError(
            f"no dataset at {root}",
            "pass a folder with transforms_*.json or a transforms.json file",
        )
    if downscale < 1:
        raise UserError("downscale must be >= 1")
    if root.is_dir() and (root / "transforms_train.json").is_file():
        train_json = root / "transforms_train.json"
        test_json = next(
            (
                root / f"transforms_{n}.json"
                for n in ("test", "val")
                if (root / f"transforms_{n}.json").is_file()
            ),
            None,
        )
    else:
        train_json = root / "transforms.json" if root.is_dir() else root
        test_json = None
        if not train_json.is_file():
            raise NotFoundError(f"no transforms_train.json or transforms.json in {root}")
    meta = _read_json(train_json)
    s, o = _scene_transform(meta, scene_scale, scene_offset)
    train = _to_views(train_json, meta, s, o, downscale, max_views)
    if test_json is not None:
        test = _to_views(test_json, _read_json(test_json), s, o, downscale, max_test_views)
    else:  # every 8th frame held out
        held = [i for i in range(len(train)) if i % 8 == 0]
        kept = [i for i in range(len(train)) if i % 8 != 0] or held
        test, train = (
            _subset(train, held[:max_test_views] if max_test_views else held),
            _subset(train, kept),
        )
    return ViewDataset(train, test, root, s, (float(o[0]), float(o[1]), float(o[2])))
