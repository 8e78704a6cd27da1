"""The one interface every radiance field honours, learned or analytic.

Coordinates: world space, z up, scenes inside the cube [-bound, bound]^3 (bound 1 by default).
A batch of S scenes is queried together so per-scene MLPs run as batched matmuls.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol, runtime_checkable

from torch import Tensor


class FieldOutput(NamedTuple):
    sigma: Tensor  # [S, N] density, >= 0
    rgb: Tensor  # [S, N, 3] albedo (or baked shaded colour) in [0, 1]


@runtime_checkable
class RadianceField(Protocol):
    """S scenes that answer density + colour at points and a colour for escaping rays."""

    num_scenes: int
    bound: float

    def query(self, points: Tensor) -> FieldOutput:
        """points [S, N, 3] -> sigma [S, N], rgb [S, N, 3]."""
        ...

    def background(self, dirs: Tensor) -> Tensor:
        """dirs [S, R, 3] unit ray directions -> rgb [S, R, 3] seen where rays escape."""
        ...


class FieldWrapper:
    """A field that changes how another one is queried (shading, precision, ...): its scenes,
    bound and background are those of the wrapped field, `base`. Subclasses define `query`."""

    def __init__(self, base: RadianceField) -> None:
        self.base = base

    @property
    def num_scenes(self) -> int:
        return self.base.num_scenes

    @property
    def bound(self) -> float:
        return self.base.bound

    def background(self, dirs: Tensor) -> Tensor:
        return self.base.background(dirs)
