"""Our CUDA grid kernels against the pure-torch reference (needs a GPU; skipped without one).

The reference runs on the same fp32 points (so cell choices match bit for bit) with the table
upcast to float64; errors are ||a - b|| / ||b|| on fresh random inputs for every test.
"""

from __future__ import annotations

from types import ModuleType

import pytest
import torch

from hyperfields_cli.errors import UsageError
from hyperfields_cli.field import backends
from hyperfields_cli.field.grid import GridConfig, GridEncoding, level_layout
from hyperfields_cli.field.grid_torch import grid_encode_torch

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

CONFIGS = {
    "paper": GridConfig(),  # 16 levels x F=2, 5 dense + 11 hashed levels of 2^19 rows
    "small": GridConfig(
        num_levels=3,
        features_per_level=2,
        base_resolution=2,
        finest_resolution=8,
        log2_table_size=8,
    ),
    "f1": GridConfig(
        num_levels=5,
        features_per_level=1,
        base_resolution=4,
        finest_resolution=64,
        log2_table_size=12,
    ),
    "f4": GridConfig(
        num_levels=7,
        features_per_level=4,
        base_resolution=3,
        finest_resolution=200,
        log2_table_size=14,
    ),
    "f8": GridConfig(
        num_levels=4,
        features_per_level=8,
        base_resolution=8,
        finest_resolution=128,
        log2_table_size=13,
    ),
}
NUM_POINTS = {"paper": 2**16 + 37}


@pytest.fixture(scope="module")
def ext() -> ModuleType:
    module = backends.cuda_extension()
    if module is None:
        pytest.fail(f"CUDA grid extension did not build: {backends.build_error()}")
    return module


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().double(), b.detach().double()
    assert torch.isfinite(a).all(), "non-finite values (unwritten output?)"
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


def make_inputs(cfg: GridConfig, n: int, seed: int, table_dtype: torch.dtype = torch.float32):
    """Fresh points (incl. exact 0 / 1 coordinates and corners) and a random table on the GPU."""
    g = torch.Generator(device="cuda").manual_seed(seed)
    res, offsets, hashed = (t.cuda() for t in level_layout(cfg))
    x = torch.rand(n, 3, device="cuda", generator=g)
    k = max(n // 16, 8)
    x[:k] = torch.randint(0, 2, (k, 3), device="cuda", generator=g).float()  # cube corners
    x[k : 2 * k, 0] = 1.0
    x[2 * k : 3 * k, 1] = 0.0
    x[3 * k : 4 * k, 2] = 1.0
    x = x[torch.randperm(n, device="cuda", generator=g)].contiguous()
    table = torch.randn(int(offsets[-1]), cfg.features_per_level, device="cuda", generator=g)
    return x, table.to(table_dtype), res, offsets, hashed


def poison_allocator(nbytes: int) -> None:
    """Leave NaN in the caching allocator's free blocks so an unwritten output shows up."""
    junk = torch.full((nbytes // 4 + 1024,), float("nan"), device="cuda")
    del junk


def cuda_encode(x, table, res, offsets, hashed, t):
    return backends.encode("cuda", x, table, res, offsets, hashed, t)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_forward_matches_torch(ext: ModuleType, name: str) -> None:
    cfg = CONFIGS[name]
    n, t = NUM_POINTS.get(name, 5003), 2**cfg.log2_table_size
    x, table, res, offsets, hashed = make_inputs(cfg, n, seed=1)
    poison_allocator(n * cfg.out_dim * 4)
    out = cuda_encode(x, table, res, offsets, hashed, t)
    assert out.shape == (n, cfg.out_dim) and out.dtype == torch.float32
    ref = grid_encode_torch(x, table.double(), res, offsets, hashed, t)
    assert rel(out, ref) <= 1e-5
    assert torch.equal(out, cuda_encode(x, table, res, offsets, hashed, t))  # deterministic


@pytest.mark.parametrize("pairs", [0, 1, 2], ids=["red", "pairs1", "pairs"])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_backward_matches_torch(ext: ModuleType, name: str, pairs: int) -> None:
    """Every atomics mode; mode 2 also goes through the shifted dense accumulator."""
    cfg = CONFIGS[name]
    n, t = NUM_POINTS.get(name, 5003), 2**cfg.log2_table_size
    x, table, res, offsets, hashed = make_inputs(cfg, n, seed=2)
    grad_out = torch.randn(n, cfg.out_dim, device="cuda")
    xc, tc = x.clone().requires_grad_(True), table.clone().requires_grad_(True)
    backends.encode_cuda(xc, tc, res, offsets, hashed, t, pair_atomics=pairs).backward(grad_out)
    xr, tr = x.clone().requires_grad_(True), table.double().requires_grad_(True)
    grid_encode_torch(xr, tr, res, offsets, hashed, t).backward(grad_out.double())
    assert tc.grad.dtype == torch.float32 and xc.grad.shape == (n, 3)
    assert rel(tc.grad, tr.grad) <= 1e-4  # fp32 atomics in any order vs a float64 sum
    assert rel(xc.grad, xr.grad) <= 1e-4


def ray_ordered_points(n: int, seed: int) -> torch.Tensor:
    """n points in [0, 1]^3, 64 ordered samples per ray (runs of equal cells at coarse levels),
    with some exact repeats and some rays wholly outside-clamped onto a face."""
    g = torch.Generator(device="cuda").manual_seed(seed)
    rays = -(-n // 64)
    o = torch.rand(rays, 1, 3, device="cuda", generator=g)
    d = torch.randn(rays, 1, 3, device="cuda", generator=g)
    t = torch.linspace(0.0, 0.5, 64, device="cuda")[None, :, None]
    x = (o + t * d).reshape(-1, 3)[:n].clamp(0.0, 1.0)
    x[5:9] = x[4]  # exact repeats: one run
    return x.contiguous()


@pytest.mark.parametrize("merge_res", [64, 1 << 19], ids=["coarse", "all"])
@pytest.mark.parametrize("name", ["paper", "f1", "small", "f4"])
def test_warp_merged_backward_matches_torch(ext: ModuleType, name: str, merge_res: int) -> None:
    cfg = CONFIGS[name]
    n, t = 20_011, 2**cfg.log2_table_size
    _, table, res, offsets, hashed = make_inputs(cfg, 8, seed=4)
    x = ray_ordered_points(n, seed=5)
    grad_out = torch.randn(n, cfg.out_dim, device="cuda")
    grads = {}
    for pairs in (0, 2):
        xc, tc = x.clone().requires_grad_(True), table.clone().requires_grad_(True)
        out = backends.encode_cuda(
            xc, tc, res, offsets, hashed, t, pair_atomics=pairs, merge_res=merge_res
        )
        out.backward(grad_out)
        grads[pairs] = (tc.grad, xc.grad)
    xr, tr = x.clone().requires_grad_(True), table.double().requires_grad_(True)
    grid_encode_torch(xr, tr, res, offsets, hashed, t).backward(grad_out.double())
    for grad_table, grad_x in grads.values():
        assert rel(grad_table, tr.grad) <= 1e-4
        assert rel(grad_x, xr.grad) <= 1e-4


def test_backward_table_only_skips_points(ext: ModuleType) -> None:
    cfg = CONFIGS["paper"]
    t = 2**cfg.log2_table_size
    x, table, res, offsets, hashed = make_inputs(cfg, 30_000, seed=3)
    grad_out = torch.randn(30_000, cfg.out_dim, device="cuda")
    tc = table.clone().requires_grad_(True)
    cuda_encode(x, tc, res, offsets, hashed, t).backward(grad_out)
    tr = table.double().requires_grad_(True)
    grid_encode_torch(x, tr, res, offsets, hashed, t).backward(grad_out.double())
    assert x.grad is None and rel(tc.grad, tr.grad) <= 1e-4
    # points only (frozen table): grad wrt x alone
    xc = x.clone().requires_grad_(True)
    cuda_encode(xc, table, res, offsets, hashed, t).backward(grad_out)
    xr = x.clone().requires_grad_(True)
    grid_encode_torch(xr, table.double(), res, offsets, hashed, t).backward(grad_out.double())
    assert rel(xc.grad, xr.grad) <= 1e-4


def test_half_table(ext: ModuleType) -> None:
    cfg = CONFIGS["paper"]
    t = 2**cfg.log2_table_size
    x, table, res, offsets, hashed = make_inputs(cfg, 20_000, seed=4, table_dtype=torch.float16)
    tc = table.clone().requires_grad_(True)
    out = cuda_encode(x, tc, res, offsets, hashed, t)
    ref = grid_encode_torch(x, table.double(), res, offsets, hashed, t)
    assert out.dtype == torch.float32 and rel(out, ref) <= 1e-5
    grad_out = torch.randn_like(out)
    out.backward(grad_out)
    tr = table.double().requires_grad_(True)
    grid_encode_torch(x, tr, res, offsets, hashed, t).backward(grad_out.double())
    assert tc.grad.dtype == torch.float16 and rel(tc.grad, tr.grad) <= 2e-3  # fp16 rounding


def test_grid_encoding_module_auto_uses_cuda(ext: ModuleType) -> None:
    cfg = CONFIGS["paper"]
    enc = GridEncoding(cfg, bound=1.0, backend="auto").cuda()
    assert enc.backend_for(torch.device("cuda")) == "cuda"
    ref = GridEncoding(cfg, bound=1.0, backend="torch").cuda()
    ref.load_state_dict(enc.state_dict())
    pts = (torch.rand(3, 4000, 3, device="cuda") * 2.2 - 1.1).requires_grad_(True)  # some outside
    pts_ref = pts.detach().clone().requires_grad_(True)
    out, out_ref = enc(pts), ref(pts_ref)
    assert rel(out, out_ref) <= 1e-5
    w = torch.randn_like(out)
    (out * w).sum().backward()
    (out_ref * w).sum().backward()
    assert rel(enc.table.grad, ref.table.grad) <= 1e-4
    assert rel(pts.grad, pts_ref.grad) <= 1e-4


def test_runs_on_current_stream_and_edge_sizes(ext: ModuleType) -> None:
    cfg = CONFIGS["small"]
    t = 2**cfg.log2_table_size
    x, table, res, offsets, hashed = make_inputs(cfg, 257, seed=5)
    ref = grid_encode_torch(x, table, res, offsets, hashed, t)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        out = cuda_encode(x, table, res, offsets, hashed, t)
    side.synchronize()
    assert rel(out, ref) <= 1e-5
    for n in (0, 1, 3):
        assert cuda_encode(x[:n], table, res, offsets, hashed, t).shape == (n, cfg.out_dim)


def test_bad_inputs_raise(ext: ModuleType) -> None:
    cfg = CONFIGS["small"]
    x, table, res, offsets, hashed = make_inputs(cfg, 64, seed=6)
    lay = backends.host_layout(res, offsets, hashed)
    args = (list(lay.resolutions), list(lay.offsets), lay.hashed_mask, 2**cfg.log2_table_size)
    with pytest.raises(RuntimeError, match="contiguous"):
        ext.forward(x.t().contiguous().t(), table, *args)
    with pytest.raises(RuntimeError, match="CUDA"):
        ext.forward(x.cpu(), table, *args)
    # An undersized table is refused by the Python wrapper before the extension sees it (the
    # raw extension's own check crashed the process on an H200; see csrc/README.md).
    with pytest.raises(ValueError, match="rows"):
        backends.encode_cuda(x, table[:100], res, offsets, hashed, 2**cfg.log2_table_size)
    with pytest.raises(RuntimeError, match="float32"):
        ext.forward(x.double(), table, *args)


def test_double_backward_is_refused_clearly(ext: ModuleType) -> None:
    cfg = CONFIGS["small"]
    t = 2**cfg.log2_table_size
    x, table, res, offsets, hashed = make_inputs(cfg, 100, seed=7)
    x.requires_grad_(True)
    (gx,) = torch.autograd.grad(cuda_encode(x, table, res, offsets, hashed, t).sum(), x)
    assert gx.shape == (100, 3) and torch.isfinite(gx).all()  # first order: fine
    with pytest.raises(UsageError, match="double backward"):
        torch.autograd.grad(
            cuda_encode(x, table, res, offsets, hashed, t).sum(), x, create_graph=True
        )
