"""The training step's volume colour term: what it compares and which scenes it counts."""

from __future__ import annotations

import torch

from hyperfields_cli.field.base import FieldOutput
from hyperfields_cli.synthetic.scene import ProceduralScenes, SceneSpec
from hyperfields_cli.train.steps import (
    RayConfig,
    match_target_step,
    surface_points,
    volume_colour_mse,
)

CPU = torch.device("cpu")
SPECS = [SceneSpec("bowl", "checkered"), SceneSpec("vase", "red")]


class Tinted:
    """A field equal to `base` except for one scene's colour, shifted by `shift`."""

    def __init__(self, base: ProceduralScenes, scene: int, shift: float) -> None:
        self.base, self.scene, self.shift = base, scene, shift
        self.num_scenes, self.bound = base.num_scenes, base.bound

    def query(self, points: torch.Tensor) -> FieldOutput:
        out = self.base.query(points)
        rgb = out.rgb.clone()
        rgb[self.scene] = rgb[self.scene] + self.shift
        return FieldOutput(out.sigma, rgb)

    def background(self, dirs: torch.Tensor) -> torch.Tensor:
        return self.base.background(dirs)


def test_volume_term_is_colour_error_everywhere_for_marked_scenes() -> None:
    world = ProceduralScenes(SPECS)
    cfg = RayConfig(volume_points=512)
    gen = torch.Generator().manual_seed(0)
    assert volume_colour_mse(world, world, cfg, CPU, gen).item() == 0.0
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
