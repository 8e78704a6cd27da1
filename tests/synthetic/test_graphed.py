"""CUDA-graph replay of the world's functions: the same values as eager, any input size."""

from __future__ import annotations

import pytest
import torch

from hyperfields_cli.synthetic import SceneSpec
from hyperfields_cli.synthetic.graphed import GraphedPointFn
from hyperfields_cli.synthetic.scene import ProceduralScenes

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a GPU")


def test_cpu_and_grad_inputs_run_eagerly() -> None:
    calls = []

    def fn(x: torch.Tensor) -> torch.Tensor:
        calls.append(x.shape[0])
        return x * 2

    g = GraphedPointFn(fn, "double")
    x = torch.rand(5, 3, requires_grad=True)
    y = g(x)
    y.sum().backward()  # the eager path keeps the autograd graph
    assert torch.equal(x.grad, torch.full_like(x, 2.0)) and calls == [5]
    assert "0 graphs" in repr(g)


@cuda
def test_replays_match_eager_for_every_bucket() -> None:
    g = GraphedPointFn(lambda p, n: torch.sin(p * 3.0) + n.sum(-1, keepdim=True), "f")
    for m in (1, 4096, 4097, 10_000, 3):  # the last one replays the first bucket again
        p, n = torch.rand(m, 3, device="cuda"), torch.rand(m, 3, device="cuda")
        want = torch.sin(p * 3.0) + n.sum(-1, keepdim=True)
        assert torch.equal(g(p, n), want)
    assert "3 graphs" in repr(g)  # buckets 4096, 8192 and 16384


@cuda
def test_world_query_is_identical_with_and_without_graphs(monkeypatch) -> None:
    specs = [
        SceneSpec("pot", "yarn"),
        SceneSpec("chair", "plaid"),
        SceneSpec("vase", "marble"),
        SceneSpec("pot", "glacier"),
        SceneSpec("bowl", "red"),
    ]
    pts = (torch.rand(len(specs), 20_000, 3, device="cuda", generator=None) * 2 - 1) * 0.9
    world = ProceduralScenes(specs)
    with torch.no_grad():
        graphed = [world.query(pts), world.query(pts[:, :7000].contiguous())]
        monkeypatch.setenv("HYPERFIELDS_CUDA_GRAPHS", "0")
        eager = [world.query(pts), world.query(pts[:, :7000].contiguous())]
    for a, b in zip(graphed, eager, strict=True):
        assert torch.equal(a.sigma, b.sigma) and torch.equal(a.rgb, b.rgb)
    assert (graphed[0].sigma > 1).any(dim=1).all()
