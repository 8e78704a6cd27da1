"""Compositing: float64 gradients vs finite differences, and agreement with independent
formulations (cumprod of 1 - alpha, an explicit front-to-back loop)."""

from __future__ import annotations

import pytest
import torch

from hyperfields_cli.field.base import FieldOutput, FieldWrapper
from hyperfields_cli.render.composite import composite, transmittance_weights
from hyperfields_cli.render.marcher import march_rays


def loop_composite(sigma, rgb, t, deltas, bg, t_thresh=0.0):
    """Front-to-back python loop over one scene: sigma [R, K] ... -> rgb [R, 3], depth, opacity."""
    r, k = sigma.shape
    out_rgb, out_d, out_o = (
        torch.zeros(r, 3, dtype=sigma.dtype),
        torch.zeros(r, dtype=sigma.dtype),
        torch.zeros(r, dtype=sigma.dtype),
    )
    for i in range(r):
        trans = 1.0
        for j in range(k):
            if trans < t_thresh:
                break
            alpha = 1.0 - torch.exp(-sigma[i, j] * deltas[i, j])
            w = trans * alpha
            out_rgb[i] += w * rgb[i, j]
            out_d[i] += w * t[i, j]
            out_o[i] += w
            trans = trans * (1.0 - alpha)
        out_rgb[i] += (1.0 - out_o[i]) * bg[i]
    return out_rgb, out_d, out_o


def random_samples(r=5, k=12, s=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    sigma = torch.rand(s, r, k, generator=g, dtype=torch.float64) * 8.0
    rgb = torch.rand(s, r, k, 3, generator=g, dtype=torch.float64)
    t = torch.sort(torch.rand(r, k, generator=g, dtype=torch.float64) * 3.0, dim=-1).values
    deltas = torch.rand(r, k, generator=g, dtype=torch.float64) * 0.2 + 0.01
    bg = torch.rand(s, r, 3, generator=g, dtype=torch.float64)
    return sigma, rgb, t, deltas, bg


def test_weights_match_cumprod_and_loop() -> None:
    sigma, rgb, t, deltas, bg = random_samples()
    w, trans = transmittance_weights(sigma, deltas)
    alpha = 1.0 - torch.exp(-sigma * deltas)
    ones = torch.ones_like(alpha[..., :1])
    trans_cp = torch.cumprod(torch.cat([ones, 1.0 - alpha[..., :-1]], dim=-1), dim=-1)
    torch.testing.assert_close(trans, trans_cp, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(w, alpha * trans_cp, rtol=1e-12, atol=1e-12)
    out = composite(sigma, rgb, t, deltas, bg)
    for s in range(sigma.shape[0]):
        c, d, o = loop_composite(sigma[s], rgb[s], t, deltas, bg[s])
        torch.testing.assert_close(out.rgb[s], c, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(out.depth[s], d, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(out.opacity[s], o, rtol=1e-10, atol=1e-12)


def test_composite_gradcheck_float64() -> None:
    sigma, rgb, t, deltas, bg = random_samples(r=3, k=6)
    sigma.requires_grad_(True)
    rgb.requires_grad_(True)
    bg.requires_grad_(True)

    def fn(sg, c, b):
        out = composite(sg, c, t, deltas, b)
        return out.rgb, out.depth, out.opacity

    assert torch.autograd.gradcheck(fn, (sigma, rgb, bg), eps=1e-6, atol=1e-8)


class ScaledField(FieldWrapper):
    """A field with float64 parameters: sigma = a_s * base, rgb = sigmoid(c) * base colour."""

    def __init__(self, base) -> None:
        super().__init__(base)
        self.a = torch.full((base.num_scenes,), 1.0, dtype=torch.float64, requires_grad=True)
        self.c = torch.zeros(3, dtype=torch.float64, requires_grad=True)

    def query(self, points):
        out = self.base.query(points)
        return FieldOutput(out.sigma * self.a[:, None], out.rgb * torch.sigmoid(self.c) * 2.0)


@pytest.mark.parametrize("t_thresh", [0.0, 1e-4])
def test_marcher_compositing_gradcheck_float64(spheres, make_rays, t_thresh) -> None:
    """The torch marcher's chunked compositing is differentiable and exact in float64."""
    f = ScaledField(spheres((0.5, 0.35)))
    o, d = make_rays(6, dtype=torch.float64)

    def fn(a, c):
        f.a, f.c = a, c
        out = march_rays(f, o, d, num_samples=24, backend="torch", t_thresh=t_thresh, training=True)
        return out.rgb, out.depth, out.opacity

    a = torch.tensor([0.8, 1.3], dtype=torch.float64, requires_grad=True)
    c = torch.tensor([0.1, -0.2, 0.3], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(fn, (a, c), eps=1e-6, atol=1e-7)


def test_marcher_compositing_matches_loop_with_termination(wall) -> None:
    """Chunked inference compositing with early termination == the explicit loop."""
    f = wall(sigma=30.0)
    o = torch.tensor([[2.0, 0.1, 0.0], [2.0, -0.3, 0.2], [0.0, 2.0, 0.0]], dtype=torch.float64)
    d = torch.nn.functional.normalize(
        torch.tensor([[-1.0, 0.0, 0.0], [-1.0, 0.05, 0.0], [0.0, -1.0, 0.1]], dtype=torch.float64),
        dim=-1,
    )
    k = 64
    out = march_rays(f, o, d, num_samples=k, backend="torch", training=False, chunk_steps=5)
    from hyperfields_cli.render.renderer import sample_points

    pts, t, deltas = sample_points(o, d, 1.0, k, False)
    q = f.query(pts.reshape(1, -1, 3))
    bg = f.background(d)
    c, dep, op = loop_composite(
        q.sigma.reshape(3, k), q.rgb.reshape(3, k, 3), t, deltas, bg, t_thresh=1e-4
    )
    torch.testing.assert_close(out.rgb[0], c, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(out.depth[0], dep, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(out.opacity[0], op, rtol=1e-9, atol=1e-9)
