"""Analytic radiance fields for renderer tests (exact, cheap, and countable)."""

from __future__ import annotations

import pytest
import torch
from _kernel_devices import KERNEL_DEVICES
from _threads import single_thread  # noqa: F401
from torch import Tensor

from hyperfields_cli.field.base import FieldOutput
from hyperfields_cli.render import marcher_ext


class Spheres:
    """S scenes; scene i is a soft ball of radius radii[i] with smooth colour bands.

    Density is zero beyond radius + `support` so occupancy pruning is exact; counts the
    points it is asked about (to check empty-space skipping).
    """

    def __init__(
        self,
        radii: tuple[float, ...] = (0.5,),
        sigma: float = 40.0,
        sharpness: float = 30.0,
        support: float = 0.08,
        bound: float = 1.0,
    ) -> None:
        self.radii = torch.tensor(radii, dtype=torch.float64)
        self.num_scenes = len(radii)
        self.bound = bound
        self.sigma, self.sharpness, self.support = sigma, sharpness, support
        self.points_queried = 0

    def query(self, points: Tensor) -> FieldOutput:
        self.points_queried += points.shape[0] * points.shape[1]
        r = points.norm(dim=-1)  # [S, N]
        rad = self.radii.to(points)[:, None]
        sigma = self.sigma * torch.sigmoid(self.sharpness * (rad - r))
        sigma = torch.where(r < rad + self.support, sigma, torch.zeros_like(sigma))
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

    def background(self, dirs: Tensor) -> Tensor:
        return 0.5 + 0.5 * dirs.abs()


class Wall:
    """An opaque slab x in [-0.2, 0.2] (density `sigma`) in front of a lit region behind it."""

    num_scenes, bound = 1, 1.0

    def __init__(self, sigma: float = 200.0) -> None:
        self.sigma = sigma
        self.points_queried = 0

    def query(self, points: Tensor) -> FieldOutput:
        self.points_queried += points.shape[0] * points.shape[1]
        x = points[..., 0]
        sigma = torch.where(x.abs() < 0.2, self.sigma, 0.0) + torch.where(x < -0.5, 5.0, 0.0)
        rgb = torch.stack([torch.sigmoid(points[..., 1]), 0.3 + 0 * x, 0.7 + 0 * x], dim=-1)
        return FieldOutput(sigma.to(points.dtype), rgb)

    def background(self, dirs: Tensor) -> Tensor:
        return torch.zeros_like(dirs)


@pytest.fixture
def spheres() -> type[Spheres]:
    return Spheres


@pytest.fixture
def wall() -> type[Wall]:
    return Wall


def rays_towards_origin(
    n: int,
    radius: float = 2.2,
    spread: float = 0.5,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor]:
    """n rays from random points on a sphere aimed near the origin -> origins, dirs [n, 3]."""
    gen = torch.Generator().manual_seed(seed)
    o = torch.nn.functional.normalize(torch.randn(n, 3, generator=gen, dtype=torch.float64), dim=-1)
    o = o * radius
    target = (torch.rand(n, 3, generator=gen, dtype=torch.float64) - 0.5) * 2 * spread
    d = torch.nn.functional.normalize(target - o, dim=-1)
    return o.to(dtype), d.to(dtype)


@pytest.fixture
def make_rays():
    return rays_towards_origin


@pytest.fixture(params=KERNEL_DEVICES)
def dev(request: pytest.FixtureRequest) -> torch.device:
    """Each ray-marching kernel device in turn; fails (not skips) when the extension does not
    build there."""
    device = torch.device(request.param)
    if marcher_ext.extension(device) is None:
        pytest.fail(f"the ray-marching extension did not build for {device}")
    return device
