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
