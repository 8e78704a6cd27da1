"""Orbit cameras (OpenGL convention, world z up) and pinhole ray generation.

Camera-to-world matrices follow NeRF-synthetic `transforms.json`: the camera looks down its
-z axis with +y up, so the same matrices load from and save to that format unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class OrbitRange:
    """Ranges a random orbit camera is drawn from (degrees; polar 0 = straight overhead)."""

    radius: tuple[float, float] = (1.0, 1.5)
    polar: tuple[float, float] = (0.0, 100.0)
    azimuth: tuple[float, float] = (-180.0, 180.0)
    fov: tuple[float, float] = (40.0, 70.0)


PAPER_SDS_RANGE = OrbitRange()
"""The HyperFields/DreamFusion SDS ranges (radius 1-1.5, polar 0-100, fov 40-70)."""


def look_at(eye: Tensor, target: Tensor | None = None) -> Tensor:
    """eye [B, 3] -> camera-to-world [B, 4, 4] looking at target (default origin), z up."""
    target = torch.zeros_like(eye) if target is None else target.expand_as(eye)
    forward = torch.nn.functional.normalize(target - eye, dim=-1)  # [B, 3]
    world_up = torch.tensor([0.0, 0.0, 1.0], dtype=eye.dtype, device=eye.device).expand_as(eye)
    right = torch.linalg.cross(forward, world_up)
    # Straight overhead (or below) the up vector is parallel to forward: pick +y instead.
    degenerate = right.norm(dim=-1, keepdim=True) < 1e-6
    alt_up = torch.tensor([0.0, 1.0, 0.0], dtype=eye.dtype, device=eye.device).expand_as(eye)
    right = torch.where(degenerate, torch.linalg.cross(forward, alt_up), right)
    right = torch.nn.functional.normalize(right, dim=-1)
    up = torch.linalg.cross(right, forward)
    c2w = torch.eye(4, dtype=eye.dtype, device=eye.device).repeat(eye.shape[0], 1, 1)
    c2w[:, :3, 0] = right
    c2w[:, :3, 1] = up
    c2w[:, :3, 2] = -forward  # OpenGL: camera looks down -z
    c2w[:, :3, 3] = eye
    return c2w


def orbit_eye(polar_deg: Tensor, azimuth_deg: Tensor, radius: Tensor) -> Tensor:
    """Spherical (polar from +z, azimuth from +x) -> eye positions [B, 3]."""
    th, ph = torch.deg2rad(polar_deg), torch.deg2rad(azimuth_deg)
    return torch.stack(
        [
            radius * torch.sin(th) * torch.cos(ph),
            radius * torch.sin(th) * torch.sin(ph),
            radius * torch.cos(th),
        ],
        dim=-1,
    )


@dataclass
class Cameras:
    """A batch of B pinhole cameras sharing one image size."""

    c2w: Tensor  # [B, 4, 4]
    fov_y_deg: Tensor  # [B]
    width: int
    height: int
    polar_deg: Tensor | None = None  # [B], kept for view-dependent prompts
    azimuth_deg: Tensor | None = None  # [B]

    def __len__(self) -> int:
        return self.c2w.shape[0]

    def _map(self, fn: Callable[[Tensor], Tensor]) -> Cameras:
        """Apply `fn` to every per-camera tensor (device moves, slicing)."""
        opt = lambda t: None if t is None else fn(t)  # noqa: E731
        return Cameras(
            fn(self.c2w),
            fn(self.fov_y_deg),
            self.width,
            self.height,
            opt(self.polar_deg),
            opt(self.azimuth_deg),
        )

    def to(self, device: torch.device | str) -> Cameras:
        return self._map(lambda t: t.to(device))

    def __getitem__(self, i: int) -> Cameras:
        return self._map(lambda t: t[i : i + 1])

    def focal(self) -> Tensor:
        """Focal length in pixels [B]."""
        return 0.5 * self.height / torch.tan(0.5 * torch.deg2rad(self.fov_y_deg))


def orbit_cameras(
    polar_deg: Tensor,
    azimuth_deg: Tensor,
    radius: Tensor,
    fov_deg: Tensor,
    width: int,
    height: int | None = None,
) -> Cameras:
    """Cameras on spheres around the origin, looking at it."""
    c2w = look_at(orbit_eye(polar_deg, azimuth_deg, radius))
    return Cameras(c2w, fov_deg, width, height or width, polar_deg, azimuth_deg)


def random_orbit_cameras(
    n: int,
    width: int,
    height: int | None = None,
    ranges: OrbitRange = PAPER_SDS_RANGE,
    generator: torch.Generator | None = None,
) -> Cameras:
    """n cameras drawn uniformly from `ranges` (polar uniform in angle, as in the paper)."""

    def draw(lo_hi: tuple[float, float]) -> Tensor:
        lo, hi = lo_hi
        return lo + (hi - lo) * torch.rand(n, generator=generator)

    return orbit_cameras(
        draw(ranges.polar),
        draw(ranges.azimuth),
        draw(ranges.radius),
        draw(ranges.fov),
        width,
        height,
    )


def turntable_cameras(
    frames: int,
    width: int,
    height: int | None = None,
    polar_deg: float = 65.0,
    radius: float = 2.2,
    fov_deg: float = 45.0,
) -> Cameras:
    """A full circle of `frames` cameras at one elevation, for videos."""
    az = torch.linspace(0.0, 360.0, frames + 1)[:-1]
    polar, rad, fov = (torch.full((frames,), float(v)) for v in (polar_deg, radius, fov_deg))
    return orbit_cameras(polar, az, rad, fov, width, height)


def camera_rays(cams: Cameras, pixels: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Rays through pixel centres -> origins, dirs [B, P, 3] (dirs unit length).

    pixels: optional [B, P, 2] (x, y) pixel coordinates; default every pixel, row-major.
    """
    b, w, h = len(cams), cams.width, cams.height
    device, dtype = cams.c2w.device, cams.c2w.dtype
    if pixels is None:
        ys, xs = torch.meshgrid(
            torch.arange(h, device=device, dtype=dtype),
            torch.arange(w, device=device, dtype=dtype),
            indexing="ij",
        )
        pixels = torch.stack([xs, ys], dim=-1).reshape(1, -1, 2).expand(b, -1, -1)
    f = cams.focal().to(dtype)[:, None]  # [B, 1]
    x = (pixels[..., 0] + 0.5 - 0.5 * w) / f  # [B, P]
    y = -(pixels[..., 1] + 0.5 - 0.5 * h) / f
    d_cam = torch.stack([x, y, -torch.ones_like(x)], dim=-1)  # [B, P, 3]
    dirs = torch.einsum("bij,bpj->bpi", cams.c2w[:, :3, :3], d_cam)
    dirs = torch.nn.functional.normalize(dirs, dim=-1)
    origins = cams.c2w[:, None, :3, 3].expand_as(dirs)
    return origins, dirs


def fov_from_focal(focal: float, size: int) -> float:
    """Field of view in degrees from a focal length in pixels (cf. camera_angle_x)."""
    return math.degrees(2.0 * math.atan(0.5 * size / focal))
