"""The per-scene linear layer: split-reduction weight gradient equals the plain product."""

from __future__ import annotations

import pytest
import torch

from hyperfields_cli.field.scene_linear import _SceneLinear, scene_linear, weight_grad


@pytest.mark.parametrize("n", [5, 64, 100])
def test_weight_grad_matches_bmm(n: int) -> None:
    g = torch.randn(3, n, 4, dtype=torch.float64)
    x = torch.randn(3, n, 6, dtype=torch.float64)
    want = torch.bmm(g.transpose(1, 2), x)
    torch.testing.assert_close(weight_grad(g, x, chunk=16), want)


def test_custom_backward_passes_gradcheck() -> None:
    x = torch.randn(2, 40, 5, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, 3, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(_SceneLinear.apply, (x, w))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="the split path runs on CUDA")
def test_cuda_layer_matches_bmm_values_and_grads() -> None:
    x = torch.randn(4, 3 * 4096 + 17, 96, device="cuda", requires_grad=True)
    w = torch.randn(4, 64, 96, device="cuda", requires_grad=True)
    g = torch.randn(4, x.shape[1], 64, device="cuda")
    got = torch.autograd.grad(scene_linear(x, w), (x, w), g)
    want = torch.autograd.grad(torch.bmm(x, w.transpose(1, 2)), (x, w), g)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-3)
