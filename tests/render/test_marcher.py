"""The pure-torch marcher against the reference `render_rays`; skipping, termination, shading."""

from __future__ import annotations

import pytest
import torch

from hyperfields_cli.errors import UsageError
from hyperfields_cli.render.cameras import orbit_cameras
from hyperfields_cli.render.marcher import default_step, march_rays, plan_steps
from hyperfields_cli.render.occupancy import OccupancyGrid
from hyperfields_cli.render.renderer import render_image, render_rays


def converged_grid(field, res: int = 32, updates: int = 40) -> OccupancyGrid:
    occ = OccupancyGrid(field.num_scenes, resolution=res)
    g = torch.Generator().manual_seed(0)
    for _ in range(updates):
        occ.update(field, generator=g)
    return occ


def test_matches_reference_without_occupancy(spheres, make_rays) -> None:
    f = spheres((0.5, 0.3))
    o, d = make_rays(300)
    ref = render_rays(f, o, d, num_samples=96)
    out = march_rays(f, o, d, num_samples=96, backend="torch", training=False)
    assert out.rgb.shape == (2, 300, 3) and out.depth.shape == (2, 300)
    torch.testing.assert_close(out.rgb, ref.rgb, atol=2e-4, rtol=0)  # 1e-4 early termination
    torch.testing.assert_close(out.opacity, ref.opacity, atol=2e-4, rtol=0)
    torch.testing.assert_close(out.depth, ref.depth, atol=1e-3, rtol=0)


def test_occupancy_skipping_keeps_pixels_and_cuts_queries(spheres, make_rays) -> None:
    f = spheres((0.5, 0.3), support=0.2)  # density fades below the threshold before the cut
    o, d = make_rays(300, spread=1.5)
    ref = render_rays(f, o, d, num_samples=128)
    occ = converged_grid(f)
    dense = march_rays(f, o, d, None, num_samples=128, backend="torch", training=False)
    f.points_queried = 0
    sparse = march_rays(f, o, d, occ, num_samples=128, backend="torch", training=False)
    # a skipped cell holds density under the threshold: < 1 % opacity per cell crossed
    err = (sparse.rgb - ref.rgb).abs()
    assert err.max() < 2e-2 and err.mean() < 5e-4
    assert (sparse.opacity - ref.opacity).abs().max() < 2e-2
    assert sparse.num_queried < 0.4 * dense.num_queried
    assert f.points_queried < 0.5 * dense.num_queried  # padding included


def test_early_termination_stops_behind_opaque_wall(wall) -> None:
    f = wall(sigma=200.0)
    o = torch.tensor([[2.0, y, 0.0] for y in torch.linspace(-0.5, 0.5, 16).tolist()])
    d = torch.tensor([[-1.0, 0.0, 0.0]]).expand(16, -1).contiguous()
    full = march_rays(f, o, d, num_samples=256, backend="torch", t_thresh=0.0, training=False)
    early = march_rays(f, o, d, num_samples=256, backend="torch", training=False, chunk_steps=16)
    assert early.num_queried < 0.5 * full.num_queried  # nothing behind the wall is asked
    torch.testing.assert_close(early.rgb, full.rgb, atol=1e-4, rtol=0)
    assert (early.opacity > 0.9999).all()
    # depth sits on the wall's front face (x = 0.2, i.e. t = 1.8)
    assert (early.depth - 1.8).abs().max() < 0.05


def test_scenes_with_different_occupancy_match_separate_renders(spheres, make_rays) -> None:
    both = spheres((0.55, 0.25))
    occ = converged_grid(both)
    o, d = make_rays(200, spread=1.0)
    joint = march_rays(both, o, d, occ, num_samples=64, backend="torch", training=False)
    for s, radius in enumerate((0.55, 0.25)):
        one = spheres((radius,))
        occ1 = OccupancyGrid(1, resolution=32)
        occ1.load_state_dict(
            {k: v[s : s + 1] if v.dim() else v for k, v in occ.state_dict().items()}
        )
        alone = march_rays(one, o, d, occ1, num_samples=64, backend="torch", training=False)
        torch.testing.assert_close(joint.rgb[s], alone.rgb[0], atol=1e-6, rtol=0)


def test_training_gradients_match_reference(spheres, make_rays) -> None:
    """No occupancy, no termination: the marcher's graph equals render_rays' graph."""
    from hyperfields_cli.field.base import FieldOutput

    base = spheres((0.5,))
    scale = torch.tensor(1.3, requires_grad=True)

    class Scaled:
        num_scenes, bound = 1, 1.0

        def query(self, p):
            out = base.query(p)
            return FieldOutput(out.sigma * scale, out.rgb * scale.sqrt())

        def background(self, dirs):
            return base.background(dirs)

    o, d = make_rays(64)
    ref = render_rays(Scaled(), o, d, num_samples=48)
    (g_ref,) = torch.autograd.grad(ref.rgb.square().sum() + ref.depth.sum(), scale)
    out = march_rays(Scaled(), o, d, num_samples=48, backend="torch", t_thresh=0.0)
    (g,) = torch.autograd.grad(out.rgb.square().sum() + out.depth.sum(), scale)
    torch.testing.assert_close(out.rgb, ref.rgb, atol=1e-5, rtol=0)
    torch.testing.assert_close(g, g_ref, rtol=1e-4, atol=1e-5)


def test_fixed_step_and_stratified_plan(make_rays) -> None:
    o, d = make_rays(50)
    step = default_step(1.0, 256)
    plan = plan_steps(o, d, 1.0, step=step)
    assert torch.allclose(plan.dt, torch.full_like(plan.dt, step))
    near_far_span = plan.nsteps.float() * step
    assert (near_far_span <= 2 * 3**0.5 + 1e-5).all() and (plan.nsteps > 100).all()
    g = torch.Generator().manual_seed(0)
    jit = plan_steps(o, d, 1.0, num_samples=32, perturb=True, generator=g)
    assert ((jit.jitter >= 0) & (jit.jitter < 1)).all() and jit.jitter.std() > 0.1
    assert (jit.nsteps == 32).all()


def test_render_image_shapes_and_backward_compatible_call(spheres) -> None:
    f = spheres((0.5, 0.3))
    cams = orbit_cameras(
        torch.tensor([60.0, 80.0]),
        torch.tensor([0.0, 90.0]),
        torch.tensor([2.2, 2.2]),
        torch.tensor([45.0, 45.0]),
        12,
        10,
    )
    old_style = render_image(f, cams, 32, 50)  # positional num_samples, chunk
    assert old_style.rgb.shape == (2, 2, 10, 12, 3) and old_style.depth.shape == (2, 2, 10, 12)
    occ = converged_grid(f, res=16)
    new = render_image(f, cams, occupancy=occ, step=default_step(1.0, 128), backend="torch")
    assert new.rgb.shape == (2, 2, 10, 12, 3)
    assert new.opacity[:, 0].sum() > new.opacity[:, 1].sum()  # the bigger ball covers more
    from hyperfields_cli.render.cameras import camera_rays

    o, d = camera_rays(cams[1])
    ref = render_rays(f, o[0], d[0], 32)
    torch.testing.assert_close(old_style.rgb[1].reshape(2, -1, 3), ref.rgb, atol=2e-4, rtol=0)


def test_lambertian_shading_lights_the_side_facing_the_light(spheres) -> None:
    f = spheres((0.5,), sharpness=20.0)
    light = (0.0, 0.0, 1.0)
    o = torch.tensor([[0.0, -2.0, 0.25], [0.0, -2.0, -0.25]])
    d = torch.tensor([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    albedo = march_rays(f, o, d, num_samples=128, backend="torch", training=False)
    lit = march_rays(
        f,
        o,
        d,
        num_samples=128,
        backend="torch",
        training=False,
        shading="lambertian",
        light_dir=light,
    )
    ratio = (lit.rgb[0] / albedo.rgb[0]).mean(-1)  # [2]: upper ray faces the light
    assert ratio[0] > ratio[1] + 0.2 and ratio[1] < 0.6
    torch.testing.assert_close(lit.opacity, albedo.opacity)
    from hyperfields_cli.render.shading import LambertianField

    p = torch.tensor([[[0.0, 0.0, 0.5], [0.5, 0.0, 0.0]]])
    _, n = LambertianField(f).normals(p)
    torch.testing.assert_close(
        n, torch.tensor([[[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]]), atol=1e-5, rtol=0
    )


def test_bad_backend_and_scene_count(spheres, make_rays) -> None:
    f = spheres((0.5,))
    o, d = make_rays(4)
    with pytest.raises(UsageError):
        march_rays(f, o, d, backend="vulkan")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="scenes"):
        march_rays(f, o, d, OccupancyGrid(2, resolution=8))
    if not torch.cuda.is_available():
        out = march_rays(f, o, d, backend="auto", training=False)  # auto = torch on the CPU
        assert out.rgb.shape == (1, 4, 3)
