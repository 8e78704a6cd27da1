"""The analytic world: names validate, fields are finite/bounded, renders are deterministic."""

from __future__ import annotations

import pytest
import torch

from hyperfields_cli.field.base import RadianceField
from hyperfields_cli.render.cameras import turntable_cameras
from hyperfields_cli.render.renderer import render_rays
from hyperfields_cli.synthetic import (
    ATTRIBUTES,
    BACKGROUND,
    SHAPES,
    ProceduralScenes,
    SceneSpec,
    match_prompt,
)
from hyperfields_cli.synthetic.preview import render_specs, sheet_camera

PAPER_SHAPES = {
    "chair",
    "pot",
    "toaster",
    "bench",
    "stool",
    "bowl",
    "vase",
    "skateboard",
    "knife",
    "plate",
}
PAPER_COLOURS = {"yellow", "green", "orange", "purple", "mint", "blue", "red", "pink"}
MATERIALS = {"yarn", "plaid", "marble", "wood", "gold", "terracotta", "checkered", "tiger"}


def _grid(n: int = 13, bound: float = 1.0) -> torch.Tensor:
    g = torch.linspace(-bound, bound, n)
    return torch.stack(torch.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)


def test_registries_cover_the_paper() -> None:
    assert {k for k, v in SHAPES.items() if v.split == "train"} >= PAPER_SHAPES
    assert {"blender", "teapot", "lamp"} <= {k for k, v in SHAPES.items() if v.split == "ood"}
    assert set(ATTRIBUTES) >= PAPER_COLOURS
    assert set(ATTRIBUTES) >= MATERIALS
    assert all(v.split in ("train", "ood") for v in (*SHAPES.values(), *ATTRIBUTES.values()))


def test_scene_spec_validates_names() -> None:
    spec = SceneSpec("pot", "yarn")
    assert spec.slug == "yarn_pot" and spec.split == "train"
    assert SceneSpec("blender", "gold").split == "ood"
    assert SceneSpec("pot", "yarn") == spec and len({spec, SceneSpec("pot", "yarn")}) == 1
    with pytest.raises(ValueError, match="unknown shape 'chiar'.*chair"):
        SceneSpec("chiar", "red")
    with pytest.raises(ValueError, match="unknown attribute 'rainbow'"):
        SceneSpec("pot", "rainbow")
    assert SceneSpec("bowl", "orange").phrase(0) == "an orange bowl"


def test_match_prompt() -> None:
    assert match_prompt("a pot made of yarn") == SceneSpec("pot", "yarn")
    assert match_prompt("Gold Blender") == SceneSpec("blender", "gold")
    assert match_prompt("a stained glass teapot") == SceneSpec("teapot", "stained_glass")
    assert match_prompt("a red teapot") == SceneSpec("teapot", "red")  # not "pot"
    assert match_prompt("a photo of a dog") is None


def test_protocol_and_background() -> None:
    field = ProceduralScenes([SceneSpec("bowl", "red")])
    assert isinstance(field, RadianceField)
    assert field.num_scenes == 1 and field.bound == 1.0
    bg = field.background(torch.randn(1, 5, 3))
    assert bg.shape == (1, 5, 3) and torch.all(bg == BACKGROUND)


@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_shape_is_solid_inside_its_radius(shape: str) -> None:
    """A surface exists, it fits the unit cube and radius ~0.65, and density is bounded."""
    field = ProceduralScenes([SceneSpec(shape, "red")])
    pts = _grid(41)[None]
    d = field.sdf(pts)[0]
    inside = pts[0][d < 0]
    assert inside.shape[0] > 50, "shape has (almost) no volume"
    assert inside.norm(dim=-1).max() < 0.66
    assert inside[:, 2].min() > -0.55 and inside[:, 2].max() < 0.6


def test_every_attribute_is_finite_and_bounded_in_the_cube() -> None:
    """Every (shape, attribute) queried over the cube (and a bit beyond) stays in range."""
    specs = [SceneSpec(s, a) for i, s in enumerate(SHAPES) for a in list(ATTRIBUTES)[i % 3 :: 3]]
    specs += [SceneSpec("vase", a) for a in ATTRIBUTES]  # every attribute on a hit-rich shape
    field = ProceduralScenes(specs)
    g = torch.Generator().manual_seed(0)
    pts = torch.cat([_grid(11, 1.05), torch.rand(3000, 3, generator=g) * 2 - 1])
    out = field.query(pts[None].expand(len(specs), -1, -1))
    assert torch.isfinite(out.sigma).all() and torch.isfinite(out.rgb).all()
    assert out.sigma.min() >= 0 and out.sigma.max() <= field.density_scale
    assert out.rgb.min() >= 0 and out.rgb.max() <= 1
    assert (out.sigma > 1).any(dim=1).all(), "every scene has some dense points"


def test_batched_query_matches_single_scenes() -> None:
    specs = [SceneSpec("pot", "yarn"), SceneSpec("chair", "plaid"), SceneSpec("pot", "red")]
    pts = torch.rand(len(specs), 2000, 3, generator=torch.Generator().manual_seed(1)) - 0.5
    both = ProceduralScenes(specs).query(pts)
    for i, spec in enumerate(specs):
        one = ProceduralScenes([spec]).query(pts[i : i + 1])
        torch.testing.assert_close(both.sigma[i], one.sigma[0])
        torch.testing.assert_close(both.rgb[i], one.rgb[0])


def test_renders_are_deterministic_and_not_empty() -> None:
    specs = [SceneSpec("vase", "marble"), SceneSpec("chair", "yarn")]
    a, opa = render_specs(specs, sheet_camera(20), num_samples=48)
    b, _ = render_specs(specs, sheet_camera(20), num_samples=48)
    assert torch.equal(a, b)
    assert a.shape == (2, 1, 20, 20, 3)
    assert (opa > 0.9).float().mean() > 0.05  # the object covers part of the frame
    assert (opa < 0.01).float().mean() > 0.2  # and white background the rest
    corner = a[:, 0, 0, 0]
    torch.testing.assert_close(corner, torch.ones_like(corner))


def test_density_is_differentiable_for_training() -> None:
    """The reference renderer backpropagates through the analytic field to the ray samples."""
    field = ProceduralScenes([SceneSpec("bowl", "blue")])
    cams = turntable_cameras(1, 8)
    from hyperfields_cli.render.cameras import camera_rays

    o, d = camera_rays(cams)
    d = d[0].clone().requires_grad_(True)
    out = render_rays(field, o[0], d, num_samples=32)
    out.opacity.sum().backward()
    assert d.grad is not None and torch.isfinite(d.grad).all()


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_culled_sdf_keeps_the_near_band_of_the_full_sdf(shape: str) -> None:
    """On the CPU far points get a lower bound instead of the full SDF (GPUs evaluate them all):
    either way the same points are near the surface, with the same distance."""
    pts = (torch.rand(4000, 3, generator=torch.Generator().manual_seed(3)) * 2 - 1) * 1.2
    band = ProceduralScenes([SceneSpec(shape, "red")]).band
    culled = ProceduralScenes._shape_sdf(shape, pts)
    full = SHAPES[shape].distance(pts)
    assert torch.equal(culled < band, full < band)
    near = full < band
    assert torch.equal(culled[near], full[near])


def test_query_groups_scenes_by_shape_and_material_in_any_order() -> None:
    """Near-surface points are split per scene once and regrouped per shape and material."""
    specs = [
        SceneSpec("pot", "yarn"),
        SceneSpec("chair", "plaid"),
        SceneSpec("pot", "plaid"),
        SceneSpec("bowl", "yarn"),
    ]
    pts = torch.rand(len(specs), 3000, 3, generator=torch.Generator().manual_seed(4)) * 2 - 1
    pts[1] = 5.0  # a scene with no point near its surface
    out = ProceduralScenes(specs).query(pts)
    for i in (3, 0, 2):
        one = ProceduralScenes([specs[i]]).query(pts[i : i + 1])
        assert torch.equal(out.sigma[i], one.sigma[0]) and torch.equal(out.rgb[i], one.rgb[0])
    assert torch.all(out.sigma[1] == 0) and torch.all(out.rgb[1] == BACKGROUND)
