"""Grid encoding on the CPU: the pure-torch reference (gradients, indexing) and backend choice."""

from __future__ import annotations

import pytest
import torch

from hyperfields_cli.errors import UsageError
from hyperfields_cli.field import backends
from hyperfields_cli.field.grid import GridConfig, GridEncoding, level_layout
from hyperfields_cli.field.grid_torch import (
    PRIMES,
    corner_indices,
    encode_in_chunks,
    grid_encode_torch,
    grid_encode_torch_chunked,
    grid_encode_torch_gather,
)

# 3 levels at res 2, 4, 8: two dense levels and one hashed (9^3 = 729 > 256 rows).
SMALL = GridConfig(
    num_levels=3, features_per_level=2, base_resolution=2, finest_resolution=8, log2_table_size=8
)


def interior_points(cfg: GridConfig, n: int, margin: float = 0.05, seed: int = 0) -> torch.Tensor:
    """Random float64 points whose fractional cell position is in [margin, 1 - margin] at every
    level, so finite differences never cross a cell boundary."""
    res, _, _ = level_layout(cfg)
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(20 * n, 3, generator=g, dtype=torch.float64)
    frac = torch.frac(x[:, None, :] * res[None, :, None].double())
    keep = ((frac > margin) & (frac < 1 - margin)).flatten(1).all(dim=1)
    assert int(keep.sum()) >= n
    return x[keep][:n].contiguous()


def small_args(cfg: GridConfig, seed: int = 0) -> tuple[torch.Tensor, ...]:
    res, offsets, hashed = level_layout(cfg)
    g = torch.Generator().manual_seed(seed)
    table = torch.randn(int(offsets[-1]), cfg.features_per_level, generator=g, dtype=torch.float64)
    return table, res, offsets, hashed


def test_small_config_mixes_dense_and_hashed_levels() -> None:
    res, offsets, hashed = level_layout(SMALL)
    assert res.tolist() == [2, 4, 8]
    assert hashed.tolist() == [False, False, True]
    assert (offsets[1:] - offsets[:-1]).tolist() == [32, 128, 256]  # dense rows padded to 8


def test_paper_layout() -> None:
    res, offsets, hashed = level_layout(GridConfig())
    assert len(res) == 16 and res[0] == 16 and res[-1] == 2048
    assert hashed.sum() == 11 and not hashed[:5].any()  # res <= 58 fits 2^19 rows densely
    assert int(offsets[-1]) <= 16 * 2**19


def test_gradcheck_wrt_table() -> None:
    table, res, offsets, hashed = small_args(SMALL)
    x = interior_points(SMALL, 16)
    table.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda t: grid_encode_torch(x, t, res, offsets, hashed, 2**SMALL.log2_table_size),
        (table,),
        eps=1e-6,
        atol=1e-6,
    )


def test_gradcheck_wrt_points() -> None:
    table, res, offsets, hashed = small_args(SMALL, seed=1)
    x = interior_points(SMALL, 16, seed=1).requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda p: grid_encode_torch(p, table, res, offsets, hashed, 2**SMALL.log2_table_size),
        (x,),
        eps=1e-6,
        atol=1e-6,
    )


def test_interpolation_is_exact_at_vertices_and_linear_along_edges() -> None:
    table, res, offsets, hashed = small_args(SMALL, seed=2)
    t = 2**SMALL.log2_table_size
    vertex = torch.tensor([[0.5, 0.0, 1.0]], dtype=torch.float64)  # a vertex of every level
    idx, w = corner_indices(vertex, res, offsets, hashed, t)
    out = grid_encode_torch(vertex, table, res, offsets, hashed, t).view(3, 2)
    picked = idx[0, torch.arange(3), w[0].argmax(dim=-1)]
    assert torch.allclose(w[0].max(dim=-1).values, torch.ones(3, dtype=torch.float64))
    assert torch.allclose(out, table[picked])
    a = torch.tensor([[0.13, 0.3, 0.6]], dtype=torch.float64)
    b = a + torch.tensor([[0.01, 0.0, 0.0]], dtype=torch.float64)  # same cell at every level
    ends = [grid_encode_torch(p, table, res, offsets, hashed, t) for p in (a, b, (a + b) / 2)]
    assert torch.allclose(ends[2], (ends[0] + ends[1]) / 2)


@pytest.mark.parametrize("cfg", [SMALL, GridConfig()], ids=["small", "paper"])
def test_indices_stay_in_their_level(cfg: GridConfig) -> None:
    res, offsets, hashed = level_layout(cfg)
    x = torch.rand(4096, 3, generator=torch.Generator().manual_seed(3))
    x[:8] = torch.tensor(
        [
            [0.0, 0, 0],
            [1, 1, 1],
            [1, 0, 0],
            [0, 1, 0],
            [0, 0, 1],
            [1, 1, 0],
            [0.5, 1, 0],
            [1, 0.5, 1],
        ]
    )
    idx, w = corner_indices(x, res, offsets, hashed, 2**cfg.log2_table_size)
    assert idx.shape == (4096, cfg.num_levels, 8)
    lo, hi = offsets[:-1][None, :, None], offsets[1:][None, :, None]
    assert ((idx >= lo) & (idx < hi)).all()
    assert torch.allclose(w.sum(-1), torch.ones_like(w[..., 0]))
    assert (w >= -1e-6).all()


@pytest.mark.parametrize("cfg", [SMALL, GridConfig()], ids=["small", "paper"])
def test_dense_levels_are_collision_free(cfg: GridConfig) -> None:
    res, offsets, hashed = level_layout(cfg)
    for level in torch.nonzero(~hashed).flatten().tolist():
        r = int(res[level])
        axis = torch.arange(r + 1, dtype=torch.float64) / r
        grid = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)
        idx, _ = corner_indices(
            grid,
            res[level : level + 1],
            offsets[level : level + 2],
            hashed[level : level + 1],
            2**cfg.log2_table_size,
        )
        used = idx.unique()  # every vertex is corner 0 (or the +1 corner at the far faces)
        assert used.numel() == (r + 1) ** 3
        assert used.min() == offsets[level] and used.max() == offsets[level] + (r + 1) ** 3 - 1


def test_hashed_level_uses_the_spatial_hash() -> None:
    res, offsets, hashed = level_layout(SMALL)
    t = 2**SMALL.log2_table_size
    x = torch.tensor([[0.3, 0.6, 0.9]], dtype=torch.float64)
    idx, _ = corner_indices(x, res, offsets, hashed, t)
    i, j, k = (int(v) for v in (x[0] * 8).floor())
    expected = ((i * PRIMES[0]) ^ (j * PRIMES[1]) ^ (k * PRIMES[2])) & (t - 1)
    assert int(idx[0, 2, 0]) == int(offsets[2]) + expected
    expected_111 = ((i + 1) ^ ((j + 1) * PRIMES[1]) ^ ((k + 1) * PRIMES[2])) & (t - 1)
    assert int(idx[0, 2, 7]) == int(offsets[2]) + expected_111


def test_grid_encoding_is_l2_normalised() -> None:
    enc = GridEncoding(SMALL, bound=1.0, backend="torch")
    pts = torch.rand(2, 50, 3) * 2 - 1
    feats = enc(pts)
    assert feats.shape == (2, 50, SMALL.out_dim)
    assert torch.allclose(feats.norm(dim=-1), torch.ones(2, 50), atol=1e-5)
    raw = GridEncoding(SMALL, backend="torch", normalize=False)
    raw.load_state_dict(enc.state_dict())
    assert not torch.allclose(raw(pts).norm(dim=-1), torch.ones(2, 50))


def test_resolve_on_cpu() -> None:
    cpu = torch.device("cpu")
    assert backends.resolve("auto", cpu) == "torch"
    assert backends.resolve("torch", "cpu") == "torch"
    assert backends.resolve("torch-compile", cpu) == "torch-compile"
    assert GridEncoding(SMALL).backend_for(cpu) == "torch"


def test_explicit_cuda_on_cpu_is_a_clear_usage_error() -> None:
    with pytest.raises(UsageError, match="CUDA device") as info:
        backends.resolve("cuda", torch.device("cpu"))
    assert "--grid-backend torch" in str(info.value)
    enc = GridEncoding(SMALL, backend="cuda")
    with pytest.raises(UsageError, match="CUDA"):
        enc(torch.zeros(4, 3))


def test_tcnn_and_unknown_backends_are_refused() -> None:
    with pytest.raises(UsageError, match="tcnn"):
        backends.resolve("tcnn", torch.device("cpu"))
    with pytest.raises(UsageError, match="unknown grid backend"):
        backends.resolve("magic", torch.device("cpu"))


def test_encode_torch_matches_reference() -> None:
    table, res, offsets, hashed = small_args(SMALL, seed=4)
    x = torch.rand(33, 3, dtype=torch.float64)
    out = backends.encode("torch", x, table, res, offsets, hashed, 256)
    assert torch.equal(out, grid_encode_torch(x, table, res, offsets, hashed, 256))


@pytest.mark.parametrize("cfg", [SMALL, GridConfig(num_levels=6, log2_table_size=12)])
def test_gather_formulation_matches_with_gradients(cfg: GridConfig) -> None:
    """The torch.compile formulation is the same function: values, d/dtable and d/dx."""
    table, res, offsets, hashed = small_args(cfg, seed=5)
    n = 64
    x = interior_points(cfg, n, seed=5).requires_grad_(True)
    table.requires_grad_(True)
    args = (table, res, offsets, hashed, 2**cfg.log2_table_size)
    g = torch.randn(n, cfg.out_dim, dtype=torch.float64)
    outs = [f(x, *args) for f in (grid_encode_torch, grid_encode_torch_gather)]
    torch.testing.assert_close(outs[1], outs[0])
    grads = [torch.autograd.grad(o, (x, table), g) for o in outs]
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(b, a)


def test_gather_formulation_traces_as_one_graph() -> None:
    """No graph break (the embedding_bag path breaks on `nonzero` and compiles to eager speed)."""
    table, res, offsets, hashed = small_args(SMALL)
    x = torch.rand(40, 3, dtype=torch.float64)
    explained = torch._dynamo.explain(grid_encode_torch_gather)(
        x, table, res, offsets, hashed, 2**SMALL.log2_table_size
    )
    assert explained.graph_break_count == 0 and explained.graph_count == 1


def test_host_layout_is_cached_and_refreshed_on_change() -> None:
    res, offsets, hashed = level_layout(SMALL)
    first = backends.host_layout(res, offsets, hashed)
    assert first == backends.HostLayout((2, 4, 8), (0, 32, 160, 416), 0b100)
    assert backends.host_layout(res, offsets, hashed) is first
    hashed[0] = True  # in-place change bumps the version: recomputed
    assert backends.host_layout(res, offsets, hashed).hashed_mask == 0b101


def test_chunked_encoding_matches_one_call_with_gradients() -> None:
    table, res, offsets, hashed = small_args(SMALL, seed=2)
    x = interior_points(SMALL, 50, seed=2).requires_grad_(True)
    table.requires_grad_(True)
    args = (table, res, offsets, hashed, 2**SMALL.log2_table_size)
    g = torch.randn(50, SMALL.out_dim, dtype=torch.float64)
    whole = torch.autograd.grad(grid_encode_torch(x, *args), (x, table), g)
    parts = torch.autograd.grad(encode_in_chunks(x, *args, chunk=16), (x, table), g)
    for a, b in zip(whole, parts, strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="the chunked path is GPU-only")
def test_gpu_gradients_wrt_many_points_finish() -> None:
    """2^20 points with gradients w.r.t. x once stalled in embedding_bag's backward."""
    cfg = GridConfig()
    res, offsets, hashed = (t.cuda() for t in level_layout(cfg))
    table = (0.1 * torch.randn(int(offsets[-1]), 2, device="cuda")).requires_grad_(True)
    x = torch.rand(2**20, 3, device="cuda", requires_grad=True)
    out = grid_encode_torch_chunked(x, table, res, offsets, hashed, 2**cfg.log2_table_size)
    out.square().sum().backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(table.grad).all()
