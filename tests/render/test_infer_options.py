"""Inference speed options: MLP precision / folded layout, round schedules, stage profiling.

The defaults must render exactly as before; the options must stay close (float32 folded:
float rounding; bf16/fp16: a few 1e-4 on a random DirectNeRF); every round schedule must give
the same pixels (the per-ray compositing order never changes).
"""

from __future__ import annotations

import math

import pytest
import torch

from hyperfields_cli.errors import UsageError
from hyperfields_cli.field.grid import GridConfig
from hyperfields_cli.field.mlp import SceneMLPConfig, scene_mlp
from hyperfields_cli.field.mlp_infer import fold_mlp, run_folded
from hyperfields_cli.hypernet.direct import DirectNeRF, DirectNeRFConfig
from hyperfields_cli.render.cameras import orbit_cameras
from hyperfields_cli.render.infer_field import (
    AutocastField,
    InferenceSceneField,
    inference_field,
)
from hyperfields_cli.render.marcher import default_step, march_rays
from hyperfields_cli.render.marcher_ext import RoundSchedule
from hyperfields_cli.render.occupancy import OccupancyGrid
from hyperfields_cli.render.profiling import RoundStats, StageTimer
from hyperfields_cli.render.renderer import render_image


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a.float() - b.float()) ** 2).mean())
    return math.inf if mse == 0 else -10.0 * math.log10(mse)


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double(), b.double()
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


def tiny_nerf(scenes: int = 2, depth: int = 6) -> DirectNeRF:
    torch.manual_seed(0)
    grid = GridConfig(num_levels=4, finest_resolution=64, log2_table_size=12)
    cfg = DirectNeRFConfig(num_scenes=scenes, grid=grid, mlp=SceneMLPConfig(depth=depth))
    model = DirectNeRF(cfg, grid_backend="torch")
    with torch.no_grad():
        model.cond.normal_()  # a non-zero conditioning, so folding it matters
    return model


def cameras(size: int):
    t = torch.tensor
    return orbit_cameras(t([60.0]), t([20.0]), t([2.2]), t([45.0]), size)


def scene_setup(scenes: int = 2, device: str = "cpu", size: int = 24):
    """A random DirectNeRF's field [S scenes], its occupancy grid and one camera, on device."""
    model = tiny_nerf(scenes)
    occ = OccupancyGrid(scenes, resolution=32)
    gen = torch.Generator().manual_seed(0)
    for _ in range(10):
        occ.update(model.field(), generator=gen)
    model.to(device)
    return model.field(), occ.to(device), cameras(size).to(device)


@pytest.mark.parametrize("scenes", [1, 3])
@pytest.mark.parametrize("depth", [2, 6])
@pytest.mark.parametrize("cond_dim", [0, 16])
def test_folded_mlp_matches_scene_mlp(scenes: int, depth: int, cond_dim: int) -> None:
    torch.manual_seed(1)
    cfg = SceneMLPConfig(depth=depth, width=32, cond_dim=cond_dim, grid_dim=12)
    weights = [torch.randn(scenes, o, i) / math.sqrt(i) for o, i in cfg.layer_shapes()]
    cond = torch.randn(scenes, cond_dim)
    grid = torch.randn(scenes, 500, 12)
    ref = scene_mlp(cfg, weights, grid, cond)
    out = run_folded(fold_mlp(cfg, weights, cond), grid)
    assert out.shape == ref.shape and out.dtype == torch.float32
    assert rel(out, ref) <= 1e-5
    for dtype in (torch.bfloat16, torch.float16):
        low = run_folded(fold_mlp(cfg, weights, cond, dtype), grid)
        assert low.dtype == dtype and rel(low.float(), ref) <= 3e-2


def test_defaults_are_the_field_itself_and_split_is_bit_identical() -> None:
    field = tiny_nerf().field()
    assert inference_field(field) is field
    assert inference_field(field, "fp32", "reference") is field
    wrapped = inference_field(field, split_stages=True)
    assert isinstance(wrapped, InferenceSceneField)
    assert inference_field(wrapped) is wrapped  # already prepared: kept
    pts = torch.rand(2, 300, 3) * 2 - 1
    a, b = field.query(pts), wrapped.query(pts)
    assert torch.equal(a.sigma, b.sigma) and torch.equal(a.rgb, b.rgb)
    again = inference_field(wrapped, "bf16", "folded")
    assert isinstance(again, InferenceSceneField) and again.base is field


def test_generic_fields_get_autocast_and_ignore_folding(spheres) -> None:
    f = spheres((0.5, 0.3))
    assert inference_field(f, "fp32", "folded") is f
    low = inference_field(f, "bf16")
    assert isinstance(low, AutocastField)
    pts = torch.rand(2, 200, 3) - 0.5
    out, ref = low.query(pts), f.query(pts)
    assert out.sigma.dtype == torch.float32 and rel(out.sigma, ref.sigma) <= 1e-6
    assert inference_field(f, "tf32").query(pts).sigma.dtype == torch.float32


def test_default_render_is_folded_fp32_and_reduced_precision_close() -> None:
    field, occ, cams = scene_setup(size=16)
    kw = {"occupancy": occ, "step": default_step(1.0, 256), "backend": "torch"}
    base = render_image(field, cams, mlp="reference", **kw)
    assert float(base.opacity.mean()) > 0.05  # the random field has visible content
    default = render_image(field, cams, **kw)
    explicit = render_image(field, cams, precision="fp32", mlp="folded", **kw)
    for a, b in zip(explicit, default, strict=False):
        if a is not None:
            assert torch.equal(a, b)
    assert rel(default.rgb, base.rgb) <= 1e-5 and rel(default.depth, base.depth) <= 1e-5
    for precision in ("tf32", "bf16", "fp16"):
        for mlp in ("reference", "folded"):
            out = render_image(field, cams, precision=precision, mlp=mlp, **kw)
            assert out.rgb.dtype == torch.float32
            assert psnr(out.rgb, base.rgb) >= 45.0, (precision, mlp)
            assert (out.opacity - base.opacity).abs().max() <= 3e-2


def test_lambertian_with_low_precision_uses_autograd_path() -> None:
    field, occ, cams = scene_setup(size=16)
    kw = {"occupancy": occ, "step": default_step(1.0, 128), "backend": "torch"}
    base = render_image(field, cams, shading="lambertian", **kw)
    assert float(base.opacity.mean()) > 0.05
    out = render_image(field, cams, shading="lambertian", precision="bf16", mlp="folded", **kw)
    assert psnr(out.rgb, base.rgb) >= 35.0


def test_options_are_refused_in_training(spheres, make_rays) -> None:
    field = tiny_nerf(1).field()
    o, d = make_rays(16)
    with pytest.raises(UsageError):
        march_rays(field, o, d, precision="bf16", backend="torch", training=True)
    with pytest.raises(UsageError):
        render_image(field, cameras(8), precision="fp64")
    with pytest.raises(ValueError):
        RoundSchedule(min_per_round=8, max_per_round=4).check()


SCHEDULES = [
    RoundSchedule(min_per_round=2),
    RoundSchedule(compact_every=0),
    RoundSchedule(min_per_round=1, max_per_round=4, compact_every=3),
    RoundSchedule(round_budget=100, min_per_round=4, compact_every=0),
    RoundSchedule(min_per_round=64, max_per_round=64),
]


def test_round_schedules_give_the_same_pixels(dev) -> None:
    field, occ, cams = scene_setup(scenes=2, device=str(dev))
    kw = {"occupancy": occ, "step": default_step(1.0, 256), "backend": "cuda"}
    st0 = RoundStats(count_used=True)
    base = render_image(field, cams, stats=st0, **kw)
    assert float(base.opacity.mean()) > 0.05
    rounds0 = st0.summary()
    assert len(rounds0) >= 2 and rounds0[0]["per_ray"] == 8 and rounds0[1]["per_ray"] == 16
    assert 0 < sum(r["used"] for r in rounds0) <= st0.queried
    assert all(r["used"] <= r["samples"] for r in rounds0)
    for sched in SCHEDULES:
        st = RoundStats()
        out = render_image(field, cams, schedule=sched, stats=st, **kw)
        for a, b in zip(out, base, strict=False):
            if a is not None:
                assert rel(a, b) <= 1e-5, sched
        # queried samples: all those in front of termination, plus what the rounds overshoot
        assert st.queried >= sum(r["used"] for r in rounds0)
        assert all(r["per_ray"] <= sched.max_per_round for r in st.rounds)
    assert len(st.rounds) < len(rounds0)  # 64 samples per round: fewer rounds


def test_march_rays_counts_match_stats(dev, spheres, make_rays) -> None:
    f = spheres((0.5, 0.3), support=0.2)
    occ = OccupancyGrid(2, resolution=32)
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        occ.update(f, generator=gen)
    o, d = (x.to(dev) for x in make_rays(1500, spread=1.4))
    kw = {"step": default_step(1.0, 512), "backend": "cuda", "training": False}
    ref = march_rays(f, o, d, occ.to(dev), **kw)
    for sched in (None, RoundSchedule(compact_every=0)):
        st = RoundStats()
        out = march_rays(f, o, d, occ.to(dev), schedule=sched, stats=st, **kw)
        assert st.queried == out.num_queried
        assert rel(out.rgb, ref.rgb) <= 1e-5
        if sched is None:
            assert out.num_queried == ref.num_queried


def test_stage_timer_splits_a_render(dev) -> None:
    field, occ, cams = scene_setup(scenes=1, device=str(dev), size=16)
    timer = StageTimer(dev)
    for precision in ("fp32", "bf16"):
        render_image(
            field,
            cams,
            occupancy=occ,
            step=default_step(1.0, 128),
            backend="cuda",
            precision=precision,
            mlp="folded",
            stats=RoundStats(timer=timer),
        )
    totals = timer.totals_ms()
    for stage in ("setup", "march", "grid", "mlp", "decode", "composite", "bookkeeping"):
        assert stage in totals and totals[stage] >= 0.0, (stage, totals)
    assert sum(totals.values()) > 0.0
