"""The training step's volume colour term: what it compares and which scenes it counts."""

from __future__ import annotations

import torch
from _train_tiny import tiny_model

from hyperfields_cli.field.base import FieldOutput
from hyperfields_cli.field.stack import StackedField
from hyperfields_cli.hypernet.model import HyperFieldsModel
from hyperfields_cli.synthetic.scene import ProceduralScenes, SceneSpec
from hyperfields_cli.text.batch import collate
from hyperfields_cli.train.steps import (
    RayConfig,
    match_target_step,
    surface_points,
    teacher_colour_field,
    volume_colour_mse,
)

CPU = torch.device("cpu")
SPECS = [SceneSpec("bowl", "checkered"), SceneSpec("vase", "red")]


class Tinted:
    """A field with `base`'s density and its colour everywhere (`colour_field`), except for one
    scene's colour, shifted by `shift`."""

    def __init__(self, base: ProceduralScenes, scene: int, shift: float) -> None:
        self.base, self.scene, self.shift = base, scene, shift
        self.num_scenes, self.bound = base.num_scenes, base.bound

    def query(self, points: torch.Tensor) -> FieldOutput:
        rgb = self.base.colour_field(points).clone()
        rgb[self.scene] = rgb[self.scene] + self.shift
        return FieldOutput(self.base.query(points).sigma, rgb)

    def background(self, dirs: torch.Tensor) -> torch.Tensor:
        return self.base.background(dirs)


def _ball(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    d = torch.nn.functional.normalize(torch.randn(n, 3, generator=g), dim=-1)
    return d * torch.rand(n, 1, generator=g).pow(1 / 3) * 0.8  # [n, 3]


def test_colour_field_is_the_material_everywhere() -> None:
    """The volume target: on the surface what the renderer sees, away from it the material
    shaded with the shape's normal field -- not the background `query` shows there."""
    world = ProceduralScenes(SPECS)
    pts = _ball(4000)[None].expand(2, -1, -1)
    field, shown = world.colour_field(pts), world.query(pts).rgb
    near = world.sdf(pts) < world.band  # [S, P]
    assert near[0].any() and (~near[0]).any()
    assert torch.allclose(field[near], shown[near], atol=1e-5)
    assert torch.all(shown[~near] == 1.0)  # background
    far = field[0][~near[0]]  # the checkered bowl away from the bowl: black and white cells
    assert (far.amax(-1) < 0.1).float().mean() > 0.2 and (far.amin(-1) > 0.5).any()


def test_albedo_field_does_not_depend_on_the_shape() -> None:
    """A solid texture's albedo is a function of position alone; its shading is the shape's."""
    world = ProceduralScenes([SceneSpec("bowl", "checkered"), SceneSpec("vase", "checkered")])
    pts = _ball(2000, seed=1)[None].expand(2, -1, -1)
    albedo, lit = world.colour_field(pts, lit=False), world.colour_field(pts)
    assert torch.equal(albedo[0], albedo[1])
    assert (lit[0] - lit[1]).abs().max() > 0.1


def test_volume_term_is_colour_error_everywhere_for_marked_scenes() -> None:
    world = ProceduralScenes(SPECS)
    cfg = RayConfig(volume_points=512)
    gen = torch.Generator().manual_seed(0)
    exact = Tinted(world, scene=0, shift=0.0)
    assert volume_colour_mse(exact, world, cfg, CPU, gen).item() == 0.0
    off = Tinted(world, scene=1, shift=0.1)  # scene 1 off by 0.1 in every channel everywhere
    both = volume_colour_mse(off, world, cfg, CPU, torch.Generator().manual_seed(0))
    assert abs(both.item() - 0.01 / 2) < 1e-6  # the mean over two scenes
    only_0 = volume_colour_mse(off, world, cfg, CPU, gen, torch.tensor([True, False]))
    only_1 = volume_colour_mse(off, world, cfg, CPU, gen, torch.tensor([False, True]))
    assert only_0.item() == 0.0 and abs(only_1.item() - 0.01) < 1e-6


def test_step_adds_the_volume_term_only_when_weighted() -> None:
    world = ProceduralScenes(SPECS)
    off = Tinted(world, scene=0, shift=0.2)
    rays = RayConfig(image_size=16, rays_per_step=64, num_samples=16, volume_points=256)
    torch.manual_seed(0)  # the ray jitter draws from the global RNG
    plain = match_target_step(off, world, rays, CPU, torch.Generator().manual_seed(1))
    assert "volume_mse" not in plain
    weighted = rays.model_copy(update={"volume_weight": 2.0})
    torch.manual_seed(0)
    out = match_target_step(off, world, weighted, CPU, torch.Generator().manual_seed(1))
    assert abs(out["volume_mse"].item() - 0.04 / 2) < 1e-6
    assert torch.allclose(out["loss"], plain["loss"] + 2.0 * out["volume_mse"], atol=1e-6)


def test_surface_points_are_where_any_scene_has_its_surface() -> None:
    weights = torch.zeros(2, 3, 4)  # [S, R, K]
    weights[0, 1, 2] = 0.9  # scene 0's surface on ray 1
    weights[1, 2, 0] = 0.8  # scene 1's surface on ray 2
    weights[0, 0, 0] = 0.1
    points = torch.arange(3 * 4 * 3, dtype=torch.float32).reshape(3, 4, 3)
    got = surface_points(weights, points, 2)
    assert torch.equal(got, torch.stack([points[1, 2], points[2, 0]]))


def test_surface_sampled_volume_term_runs_in_a_step() -> None:
    world = ProceduralScenes(SPECS)
    off = Tinted(world, scene=1, shift=0.1)
    rays = RayConfig(
        image_size=16,
        rays_per_step=64,
        num_samples=16,
        volume_points=128,
        volume_weight=1.0,
        volume_sampling="surfaces",
    )
    out = match_target_step(off, world, rays, CPU, torch.Generator().manual_seed(1))
    assert abs(out["volume_mse"].item() - 0.01 / 2) < 1e-6


def test_albedo_shade_student_is_taught_its_albedo_alone() -> None:
    """With colour_model albedo_shade the volume term compares albedo with albedo: the shading
    output (the shape's business) does not enter it."""
    torch.manual_seed(0)
    model = HyperFieldsModel(tiny_model().with_student("routed", "albedo_shade"))
    toks = [torch.randn(3, 384), torch.randn(2, 384)]
    field = model.scene_field(collate(toks, [t.mean(0) for t in toks], ["a", "b"]))
    world = ProceduralScenes(SPECS)
    cfg = RayConfig(volume_points=300)
    pts = _ball(300, seed=3)
    got = volume_colour_mse(field, world, cfg, CPU, points=pts)
    p2 = pts[None].expand(2, -1, -1)
    want = ((field.albedo(p2) - world.colour_field(p2, lit=False)) ** 2).mean()
    assert torch.allclose(got, want)
    with torch.no_grad():
        field.weights[-1][:, 4] *= -3.0  # the shade row
    assert torch.allclose(volume_colour_mse(field, world, cfg, CPU, points=pts), want)


def test_teacher_colour_field_of_a_stack_is_each_teachers() -> None:
    """Scenes from several teachers (a StackedField) answer their own colour field."""
    both = ProceduralScenes(SPECS)
    stack = StackedField([ProceduralScenes(SPECS[:1]), ProceduralScenes(SPECS[1:])])
    pts = _ball(500, seed=4)[None].expand(2, -1, -1)
    for lit in (True, False):
        want = both.colour_field(pts, lit=lit)
        assert torch.equal(teacher_colour_field(stack, pts, lit=lit), want)
