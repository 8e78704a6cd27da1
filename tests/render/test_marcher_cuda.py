"""The compiled marcher (csrc/raymarch*) against the pure-torch marcher: values and gradients.

"cuda" runs the kernels on the GPU (skipped without one); "cpu" runs the same per-ray code
compiled for the CPU (slow: builds an extension on first use, cached afterwards).
"""

from __future__ import annotations

import pytest
import torch

from hyperfields_cli.field.base import FieldOutput, FieldWrapper
from hyperfields_cli.render import marcher_ext
from hyperfields_cli.render.marcher import default_step, march_rays, plan_steps
from hyperfields_cli.render.occupancy import OccupancyGrid, pack_bits


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().double(), b.detach().double()
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


class Param(FieldWrapper):
    """Trainable wrapper: sigma * a_s, rgb * c (float32 on the device)."""

    def __init__(self, base, device) -> None:
        super().__init__(base)
        self.a = torch.linspace(0.8, 1.2, base.num_scenes, device=device).requires_grad_(True)
        self.c = torch.tensor([0.9, 1.0, 1.1], device=device, requires_grad=True)

    def query(self, p):
        out = self.base.query(p)
        return FieldOutput(out.sigma * self.a[:, None], out.rgb * self.c)


def grid_for(field, device, res: int = 32) -> OccupancyGrid:
    occ = OccupancyGrid(field.num_scenes, resolution=res)
    g = torch.Generator().manual_seed(0)
    for _ in range(30):
        occ.update(field, generator=g)
    return occ.to(device)


@pytest.mark.parametrize("mode", ["bins", "step"])
def test_inference_matches_torch(dev, spheres, make_rays, mode) -> None:
    f = spheres((0.5, 0.3), support=0.2)
    occ = grid_for(f, dev)
    o, d = (x.to(dev) for x in make_rays(3000, spread=1.4))
    kw = {"num_samples": 128} if mode == "bins" else {"step": default_step(1.0, 512)}
    for grid in (None, occ):
        ref = march_rays(f, o, d, grid, backend="torch", training=False, **kw)
        out = march_rays(f, o, d, grid, backend="cuda", training=False, **kw)
        for a, b in zip(out[:3], ref[:3], strict=True):
            assert torch.isfinite(a).all()
            assert rel(a, b) <= 1e-4, (grid is not None, rel(a, b))
        assert out.num_queried > 0


@pytest.mark.parametrize("compact", [False, True])
def test_training_values_and_gradients_match_torch(dev, spheres, make_rays, compact) -> None:
    base = spheres((0.5, 0.3), support=0.2)
    occ = grid_for(base, dev)
    o, d = (x.to(dev) for x in make_rays(2000, spread=1.2, seed=3))
    results = []
    for backend in ("torch", "cuda"):
        f = Param(base, dev)
        gen = torch.Generator(device=dev).manual_seed(7)
        out = march_rays(
            f,
            o,
            d,
            occ,
            step=default_step(1.0, 256),
            perturb=True,
            generator=gen,
            backend=backend,
            training=True,
            compact=compact,
        )
        loss = out.rgb.square().sum() + 0.3 * out.depth.sum() + out.opacity.sum()
        ga, gc = torch.autograd.grad(loss, (f.a, f.c))
        results.append((out.rgb, out.depth, out.opacity, ga, gc))
    for a, b in zip(results[1], results[0], strict=True):
        assert rel(a, b) <= 1e-4, rel(a, b)


def test_composite_kernel_matches_dense_float64(dev) -> None:
    g = torch.Generator().manual_seed(0)
    counts = torch.randint(0, 40, (300,), generator=g)
    counts[:3] = torch.tensor([0, 1, 39])
    m = int(counts.sum())
    sigma = torch.rand(m, generator=g) * torch.where(torch.rand(m, generator=g) < 0.1, 300.0, 8.0)
    rgb = torch.rand(m, 3, generator=g)
    dts = torch.rand(m, generator=g) * 0.05 + 0.005
    ray_of = torch.repeat_interleave(torch.arange(300), counts)
    ts = torch.cumsum(dts, 0)
    offsets = torch.cat([torch.zeros(1, dtype=torch.int64), counts.cumsum(0)])
    ext = marcher_ext.extension(dev)
    s_k, c_k = sigma.to(dev).requires_grad_(True), rgb.to(dev).requires_grad_(True)
    out = marcher_ext.composite_packed(
        ext,
        s_k,
        c_k,
        ts.to(dev),
        dts.to(dev),
        offsets.to(dev),
        torch.arange(300, device=dev),
        1e-4,
        300,
    )
    w_rgb, w_d, w_o = (
        torch.rand(300, 3, generator=g),
        torch.rand(300, generator=g),
        torch.rand(300, generator=g),
    )
    loss = (
        (out[0] * w_rgb.to(dev)).sum() + (out[1] * w_d.to(dev)).sum() + (out[2] * w_o.to(dev)).sum()
    )
    gs, gc = torch.autograd.grad(loss, (s_k, c_k))
    # dense float64 reference: pad rays to 40 samples, exclusive cumsum, termination mask
    slot = torch.arange(m) - offsets[ray_of]

    def dense(v: torch.Tensor) -> torch.Tensor:
        buf = torch.zeros((300, 40) + v.shape[1:], dtype=torch.float64)
        return buf.index_put((ray_of, slot), v.double())

    s64 = dense(sigma).requires_grad_(True)
    c64 = dense(rgb).requires_grad_(True)
    tau = s64 * dense(dts)
    trans = torch.exp(-(torch.cumsum(tau, -1) - tau))
    w = trans * (1 - torch.exp(-tau)) * (trans >= 1e-4)
    ref = ((w[..., None] * c64).sum(1), (w * dense(ts)).sum(1), w.sum(1))
    loss64 = (ref[0] * w_rgb).sum() + (ref[1] * w_d).sum() + (ref[2] * w_o).sum()
    gs64, gc64 = torch.autograd.grad(loss64, (s64, c64))
    for a, b in zip(out, ref, strict=True):
        assert rel(a.cpu(), b) <= 1e-4
    assert rel(gs.cpu(), gs64[ray_of, slot]) <= 1e-4
    assert rel(gc.cpu(), gc64[ray_of, slot]) <= 1e-4


def test_march_kernel_emits_exactly_the_occupied_samples(dev, make_rays) -> None:
    g = torch.Generator().manual_seed(1)
    res, s = 16, 2
    occ = OccupancyGrid(s, resolution=res)
    occ.bits.copy_(pack_bits(torch.rand(s, res**3, generator=g) < 0.15))
    o, d = make_rays(500, spread=1.5, seed=5)
    plan = plan_steps(o, d, 1.0, step=default_step(1.0, 200))
    # torch enumeration: every step whose point lies in an occupied cell
    kmax = int(plan.nsteps.max())
    k = torch.arange(kmax)
    t = plan.near[:, None] + (k[None] + 0.5) * plan.dt[:, None]  # [R, K]
    pts = o[:, None] + d[:, None] * t[..., None]
    keep = occ.occupied(pts.reshape(-1, 3)).reshape(s, 500, kmax) & (k < plan.nsteps[:, None])
    ext = marcher_ext.extension(dev)
    occ_d = occ.to(dev)
    plan_d = marcher_ext.Steps(
        plan.near.to(dev), plan.dt.to(dev), plan.nsteps.to(dev), plan.jitter.to(dev)
    )
    rays = torch.arange(s * 500, device=dev)
    k_state = torch.zeros(s * 500, dtype=torch.int32, device=dev)
    offsets, p_all, t_all, _ = marcher_ext.march(
        ext, o.to(dev), d.to(dev), plan_d, occ_d.bits, res, 1.0, rays, k_state, 10_000
    )
    counts = (offsets[1:] - offsets[:-1]).cpu().reshape(s, 500)
    mismatched = (counts - keep.sum(-1)).abs().sum()
    assert mismatched <= max(2, int(0.002 * keep.sum()))  # float rounding at cell faces only
    assert (k_state.cpu().reshape(s, 500) == plan.nsteps[None]).all()
    # marching in rounds of 3 samples gives the same samples in the same order
    k_state.zero_()
    chunks = []
    alive = rays
    while alive.numel():
        off, p, tt, _ = marcher_ext.march(
            ext, o.to(dev), d.to(dev), plan_d, occ_d.bits, res, 1.0, alive, k_state, 3
        )
        chunks.append((alive, off, tt))
        alive = alive[k_state[alive] < plan_d.nsteps.repeat(s)[alive]]
    per_ray = [[] for _ in range(s * 500)]
    for a, off, tt in chunks:
        for i, sr in enumerate(a.tolist()):
            per_ray[sr].extend(tt[off[i] : off[i + 1]].tolist())
    flat = [x for r in per_ray for x in r]
    assert torch.equal(torch.tensor(flat), t_all.cpu())


def test_render_image_on_a_direct_nerf_matches_torch(dev) -> None:
    from hyperfields_cli.field.grid import GridConfig
    from hyperfields_cli.hypernet.direct import DirectNeRF, DirectNeRFConfig
    from hyperfields_cli.render.cameras import orbit_cameras
    from hyperfields_cli.render.renderer import render_image

    torch.manual_seed(0)
    grid = GridConfig(num_levels=4, finest_resolution=64, log2_table_size=12)
    model = DirectNeRF(DirectNeRFConfig(num_scenes=2, grid=grid), grid_backend="torch").to(dev)
    cams = orbit_cameras(
        torch.tensor([60.0]), torch.tensor([20.0]), torch.tensor([2.2]), torch.tensor([45.0]), 24
    ).to(dev)
    field = model.field()
    a = render_image(field, cams, 96, backend="torch")
    b = render_image(field, cams, 96, backend="cuda")
    for x, y in zip(b, a, strict=False):
        if x is not None:
            assert rel(x, y) <= 1e-4
