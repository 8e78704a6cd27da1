"""Hand-made noise: deterministic (no RNG state), bounded, seed-dependent, fine for negatives."""

from __future__ import annotations

import torch

from hyperfields_cli.synthetic.noise import fbm, gradient_noise, hash3, worley


def test_hash_is_deterministic_and_in_range() -> None:
    i = torch.arange(-500, 500)
    h = hash3(i, i * 3, -i, seed=5)
    assert torch.equal(h, hash3(i, i * 3, -i, seed=5))
    assert h.min() >= 0 and h.max() < 2**31
    assert len(set(h.tolist())) > 990  # well mixed: almost no collisions
    assert not torch.equal(h, hash3(i, i * 3, -i, seed=6))


def test_noise_bounded_and_continuous() -> None:
    p = torch.rand(5000, 3, generator=torch.Generator().manual_seed(0)) * 8 - 4
    n = gradient_noise(p)
    assert n.abs().max() <= 1.5 and n.std() > 0.1
    lattice = torch.randint(-5, 5, (100, 3)).float()
    assert gradient_noise(lattice).abs().max() < 1e-6  # gradient noise is 0 at lattice points
    dp = torch.tensor([1e-3, 0.0, 0.0])
    assert (gradient_noise(p + dp) - n).abs().max() < 0.02  # continuous (no cell seams)
    f = fbm(p, 4, seed=3)
    assert torch.isfinite(f).all() and f.abs().max() <= 1.5
    assert torch.equal(f, fbm(p, 4, seed=3))


def test_worley() -> None:
    p = torch.rand(5000, 3, generator=torch.Generator().manual_seed(0)) * 6 - 3
    f1, f2, cell = worley(p, seed=1)
    assert (f1 <= f2).all() and (f1 >= 0).all() and f2.max() < 2.0
    assert cell.unique().numel() > 50


def _loop_gradient_noise(p: torch.Tensor, seed: int) -> torch.Tensor:
    """The definition, corner by corner (the batched version must give the same values)."""
    from hyperfields_cli.synthetic.noise import _GRADS, _fade

    cell = torch.floor(p)
    f, i, u = p - cell, cell.to(torch.int64), _fade(p - cell)
    grads = torch.tensor(_GRADS, dtype=p.dtype)
    out = torch.zeros(p.shape[:-1], dtype=p.dtype)
    for dx in (0, 1):
        wx = u[..., 0] if dx else 1.0 - u[..., 0]
        for dy in (0, 1):
            wy = u[..., 1] if dy else 1.0 - u[..., 1]
            for dz in (0, 1):
                wz = u[..., 2] if dz else 1.0 - u[..., 2]
                g = grads[hash3(i[..., 0] + dx, i[..., 1] + dy, i[..., 2] + dz, seed) % 12]
                d = f - f.new_tensor((dx, dy, dz))
                out = out + wx * wy * wz * (g * d).sum(dim=-1)
    return out


def test_batched_noise_equals_the_corner_loop() -> None:
    p = torch.rand(3000, 3, generator=torch.Generator().manual_seed(1)) * 10 - 5
    for seed in (0, 7, 101):
        assert torch.equal(gradient_noise(p, seed), _loop_gradient_noise(p, seed))
    want = torch.zeros(3000)
    amp, norm, q = 1.0, 0.0, p
    for k in range(5):
        want = want + amp * _loop_gradient_noise(q, 21 + 101 * k)
        norm, amp, q = norm + amp, amp * 0.5, q * 2.0
    assert torch.equal(fbm(p, 5, seed=21), want / norm)
    grid = p.reshape(30, 100, 3)  # any leading shape
    assert torch.equal(fbm(grid, 3, seed=4), fbm(p, 3, seed=4).reshape(30, 100))
