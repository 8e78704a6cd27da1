"""Procedural scenes as analytic radiance fields (the offline ground truth).

A scene is a (shape, attribute) pair. Density is a sigmoid of the shape's signed distance
(solid-looking at 128 samples per ray, yet smooth), colour is the attribute's albedo times
lambertian shading from a world-fixed light, baked in so it is view-independent and an
albedo-only NeRF can represent it exactly. Scenes are queried S at a time like a learned field.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Sequence

import torch
from pydantic import field_validator
from pydantic.dataclasses import dataclass
from torch import Tensor

from hyperfields_cli.field.base import FieldOutput
from hyperfields_cli.host import index_tensor
from hyperfields_cli.synthetic.consts import const
from hyperfields_cli.synthetic.graphed import GraphedPointFn
from hyperfields_cli.synthetic.materials import ATTRIBUTES
from hyperfields_cli.synthetic.shapes import SHAPES

BACKGROUND = 1.0
"""Plain white: the colour every ray that escapes the scene sees."""

LIGHT_DIR = (0.42, -0.56, 0.71)
"""Direction towards the light (upper front right as seen from the default -y camera)."""

AMBIENT, DIFFUSE = 0.42, 0.62

Vec3 = tuple[float, float, float]

# Tetrahedral finite-difference stencil: 4 distance evaluations give the gradient.
_TETRA = ((1.0, -1.0, -1.0), (-1.0, -1.0, 1.0), (-1.0, 1.0, -1.0), (1.0, 1.0, 1.0))


@dataclass(frozen=True)
class SceneSpec:
    """One procedural scene: a shape wearing an attribute, both validated by name."""

    shape: str
    attribute: str

    @field_validator("shape")
    @classmethod
    def _known_shape(cls, v: str) -> str:
        if v not in SHAPES:
            raise ValueError(f"unknown shape {v!r}; known shapes: {', '.join(SHAPES)}")
        return v

    @field_validator("attribute")
    @classmethod
    def _known_attribute(cls, v: str) -> str:
        if v not in ATTRIBUTES:
            raise ValueError(f"unknown attribute {v!r}; known attributes: {', '.join(ATTRIBUTES)}")
        return v

    @property
    def slug(self) -> str:
        """File-system friendly name, e.g. "yarn_pot"."""
        return f"{self.attribute}_{self.shape}"

    @property
    def split(self) -> str:
        """ "ood" when the shape or the attribute is reserved, else "train"."""
        ood = SHAPES[self.shape].split == "ood" or ATTRIBUTES[self.attribute].split == "ood"
        return "ood" if ood else "train"

    def phrase(self, variant: int = 0) -> str:
        """A natural prompt for this scene; `variant` picks among the attribute's phrasings."""
        phrases = ATTRIBUTES[self.attribute].phrases
        text = phrases[variant % len(phrases)].format(self.shape)
        return re.sub(r"\ba ([aeiou])", r"an \1", text)


def match_prompt(text: str) -> SceneSpec | None:
    """Find the scene a free-text prompt names ("a pot made of yarn" -> yarn pot), if any."""
    low = text.lower()
    shape = next(
        (s for s in sorted(SHAPES, key=len, reverse=True) if re.search(rf"\b{s}s?\b", low)), None
    )
    attr = next(
        (
            a.name
            for a in ATTRIBUTES.values()
            if any(re.search(rf"\b{re.escape(w)}\b", low) for w in a.words)
        ),
        None,
    )
    return SceneSpec(shape, attr) if shape and attr else None


def surface_normals(name: str, p: Tensor, eps: float = 2e-3) -> Tensor:
    """Unit SDF gradient of shape `name` at p [M, 3] -> [M, 3] (4 batched evaluations)."""
    k = const(_TETRA, p)  # [4, 3]
    d = SHAPES[name].distance((p[:, None, :] + eps * k).reshape(-1, 3)).reshape(-1, 4)
    g = (d[..., None] * k).sum(dim=1)  # [M, 3]
    return torch.nn.functional.normalize(g, dim=-1, eps=1e-8)


def material_albedo(name: str, p: Tensor, nrm: Tensor) -> Tensor:
    """Attribute `name`'s albedo at p [M, 3] with normals [M, 3] -> [M, 3] in [0, 1]."""
    return ATTRIBUTES[name].albedo(p, nrm).clamp(0.0, 1.0)


def shaded_colour(name: str, light: Vec3, p: Tensor, nrm: Tensor) -> Tensor:
    """Attribute `name`'s albedo at p [M, 3] with normals [M, 3], lit from `light` -> [M, 3]."""
    albedo = material_albedo(name, p, nrm)
    shade = AMBIENT + DIFFUSE * (nrm @ const(light, p)).clamp_min(0.0)  # [M]
    return (albedo * shade[:, None]).clamp(0.0, 1.0)


@functools.cache
def _graphed(kind: str, name: str, light: Vec3 | None = None) -> GraphedPointFn:
    """The world's function `kind` ("sdf", "normals", "albedo", "colour") for one shape /
    attribute."""
    if kind == "sdf":
        return GraphedPointFn(SHAPES[name].distance, f"sdf:{name}")
    if kind == "normals":
        return GraphedPointFn(functools.partial(surface_normals, name), f"normals:{name}")
    if kind == "albedo":
        return GraphedPointFn(functools.partial(material_albedo, name), f"albedo:{name}")
    assert light is not None
    return GraphedPointFn(functools.partial(shaded_colour, name, light), f"colour:{name}")


class NearPoints:
    """The near-surface samples of S scenes, found once per query.

    near [S, N] -> their flat indices (scene-major, ascending) and, on the host, where each
    scene's run starts: one device sync per query, however many shape and material groups
    then take their points (`of`) by slicing and concatenating those runs.
    """

    def __init__(self, near: Tensor) -> None:
        counts = near.sum(1).tolist()  # the query's one wait on the device
        self.starts = [0, *itertools.accumulate(counts)]
        self.flat = near.reshape(-1).nonzero().squeeze(1)  # [M]; its size is known by now

    def of(self, rows: list[int]) -> Tensor:
        """Flat indices [M_rows] of the near points of scenes `rows`, in `rows` order."""
        runs = [self.flat[self.starts[r] : self.starts[r + 1]] for r in rows]
        return runs[0] if len(runs) == 1 else torch.cat(runs)


class AllPoints:
    """Every one of the N samples of each scene, with NearPoints' `of` (no device sync)."""

    def __init__(self, n: int, device: torch.device) -> None:
        self.n, self.device = n, device

    def of(self, rows: list[int]) -> Tensor:
        """Flat indices [len(rows) * N] of scenes `rows`' samples, in `rows` order."""
        first = index_tensor(rows, self.device)[:, None] * self.n  # [R, 1]
        return (first + torch.arange(self.n, device=self.device)).reshape(-1)


class ProceduralScenes:
    """S analytic scenes implementing the RadianceField protocol.

    Points are grouped by shape for the distance pass and by attribute for the albedo pass, so
    cost scales with the number of distinct shapes/materials, never with a loop over points.
    Normals and albedo are only evaluated on and inside surfaces (distance < `band`), where
    density is non-negligible; further out density is exactly 0 and colour is the background.
    """

    def __init__(
        self,
        specs: Sequence[SceneSpec],
        bound: float = 1.0,
        density_scale: float = 400.0,
        softness: float = 0.005,
        light_dir: Sequence[float] = LIGHT_DIR,
    ) -> None:
        if not specs:
            raise ValueError("ProceduralScenes needs at least one SceneSpec")
        self.specs = list(specs)
        self.num_scenes = len(self.specs)
        self.bound = bound
        self.density_scale = density_scale
        self.softness = softness
        self.band = 10.0 * softness  # sigmoid(-10) * scale < 0.02: treated as empty beyond
        light = torch.tensor(light_dir, dtype=torch.float32)
        x, y, z = (light / light.norm()).tolist()
        self.light: Vec3 = (x, y, z)  # unit, as float32 rounds it
        self._by_shape = self._groups(lambda s: s.shape)
        self._by_attr = self._groups(lambda s: s.attribute)

    def _groups(self, key: Callable[[SceneSpec], str]) -> dict[str, list[int]]:
        """Scene indices sharing a shape (or attribute): each group is evaluated in one batch."""
        out: dict[str, list[int]] = {}
        for i, spec in enumerate(self.specs):
            out.setdefault(key(spec), []).append(i)
        return out

    def to(self, device: torch.device | str) -> ProceduralScenes:
        """Stateless apart from the light vector: works on whatever device the points are."""
        return self

    def sdf(self, points: Tensor) -> Tensor:
        """points [S, N, 3] -> signed distance [S, N] of each scene's shape."""
        s, n, _ = points.shape
        out = points.new_empty(s, n)
        for name, rows in self._by_shape.items():
            idx = index_tensor(rows, points.device)
            out[idx] = self._shape_sdf(name, points[idx].reshape(-1, 3)).reshape(len(rows), n)
        return out

    @staticmethod
    def _shape_sdf(name: str, p: Tensor) -> Tensor:
        """p [M, 3] -> [M]. On the CPU, points well outside the shape's bounding sphere skip the
        full SDF (a lower bound stands in: still > band, so density and colour are the same);
        on a GPU every point gets the full SDF, as selecting them would wait on the device."""
        shape = SHAPES[name]
        if p.device.type != "cpu":
            return _graphed("sdf", name)(p)
        r = torch.linalg.vector_norm(p, dim=-1)
        near = r < shape.radius + 0.25
        if bool(near.all()):
            return shape.distance(p)
        d = r - shape.radius  # a lower bound of the true distance outside the sphere
        sel = near.nonzero().squeeze(-1)
        if sel.numel():
            d = d.index_put((sel,), shape.distance(p[sel]).to(d.dtype))
        return d

    def query(self, points: Tensor) -> FieldOutput:
        """points [S, N, 3] -> FieldOutput(sigma [S, N], rgb [S, N, 3] shaded colour in [0, 1])."""
        s, n, _ = points.shape
        if s != self.num_scenes:
            raise ValueError(f"expected {self.num_scenes} scenes of points, got {s}")
        d = self.sdf(points)  # [S, N]
        near = d < self.band
        sigma = torch.where(
            near, self.density_scale * torch.sigmoid(-d / self.softness), torch.zeros_like(d)
        )
        rgb = torch.full((s * n, 3), BACKGROUND, dtype=points.dtype, device=points.device)
        self._paint(points.reshape(-1, 3), NearPoints(near), rgb)
        return FieldOutput(sigma, rgb.reshape(s, n, 3))

    def colour_field(self, points: Tensor, lit: bool = True) -> Tensor:
        """points [S, N, 3] -> [S, N, 3]: each scene's material at *every* point, shaded with its
        shape's normal field (lit) or its bare albedo, where `query` shows background away from
        the surface. What a volume distillation term compares a student's colour with."""
        s, n, _ = points.shape
        if s != self.num_scenes:
            raise ValueError(f"expected {self.num_scenes} scenes of points, got {s}")
        out = torch.empty(s * n, 3, dtype=points.dtype, device=points.device)
        self._paint(points.reshape(-1, 3), AllPoints(n, points.device), out, lit)
        return out.reshape(s, n, 3)

    def _paint(
        self, flat_pts: Tensor, hits: NearPoints | AllPoints, out: Tensor, lit: bool = True
    ) -> None:
        """Write each scene's colour (or albedo) at the points `hits` picks into out [S*N, 3]:
        normals from each shape group, then colours from each attribute group."""
        normal = torch.zeros_like(out)
        for name, rows in self._by_shape.items():
            fi = hits.of(rows)
            if fi.numel():
                normal[fi] = _graphed("normals", name)(flat_pts[fi]).to(out.dtype)
        for name, rows in self._by_attr.items():
            fi = hits.of(rows)
            if fi.numel():
                fn = _graphed("colour", name, self.light) if lit else _graphed("albedo", name)
                out[fi] = fn(flat_pts[fi], normal[fi]).to(out.dtype)

    def __repr__(self) -> str:
        names = ", ".join(f"{s.attribute} {s.shape}" for s in self.specs[:4])
        more = f", ... ({self.num_scenes} scenes)" if self.num_scenes > 4 else ""
        return f"ProceduralScenes([{names}{more}], bound={self.bound})"

    def background(self, dirs: Tensor) -> Tensor:
        """dirs [S, R, 3] -> plain white [S, R, 3]."""
        return torch.full_like(dirs, BACKGROUND)
