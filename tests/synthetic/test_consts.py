"""Cached constants: one tensor per (values, device, dtype), usable with autograd."""

from __future__ import annotations

import torch

from hyperfields_cli.synthetic.consts import const


def test_const_is_cached_per_values_and_dtype() -> None:
    like = torch.zeros(3)
    a = const((1.0, 2.0, 3.0), like)
    assert a is const([1.0, 2.0, 3.0], like)  # lists and tuples share an entry
    assert torch.equal(a, torch.tensor([1.0, 2.0, 3.0]))
    assert const((1, 2), like, torch.int64).dtype == torch.int64
    assert const((1.0, 2.0, 3.0), like.double()).dtype == torch.float64
    assert const([(0, 1), (1, 0)], like).shape == (2, 2)


def test_const_made_in_inference_mode_still_works_with_autograd() -> None:
    with torch.inference_mode():
        c = const((0.25, 0.5, 4.0), torch.zeros(1))
    x = torch.ones(3, requires_grad=True)
    (x * c).sum().backward()  # saving an inference tensor for backward would raise
    assert torch.equal(x.grad, torch.tensor([0.25, 0.5, 4.0]))
