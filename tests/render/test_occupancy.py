"""Occupancy grids: warm-up, EMA update and threshold, lookups, bit packing, state_dict."""

from __future__ import annotations

import math

import torch
from safetensors.torch import load_file, save_file

from hyperfields_cli.field.base import FieldOutput
from hyperfields_cli.render.occupancy import OccupancyGrid, pack_bits, unpack_bits


class Empty:
    num_scenes, bound = 1, 1.0

    def query(self, points):
        return FieldOutput(torch.zeros(points.shape[:2]), torch.zeros(*points.shape[:2], 3))


def test_pack_unpack_round_trip() -> None:
    mask = torch.rand(3, 64, generator=torch.Generator().manual_seed(0)) > 0.5
    bits = pack_bits(mask)
    assert bits.dtype == torch.uint8 and bits.shape == (3, 8)
    assert torch.equal(unpack_bits(bits), mask)
    # bit i of byte j is cell 8j + i
    one = torch.zeros(1, 16, dtype=torch.bool)
    one[0, 10] = True
    assert pack_bits(one).tolist() == [[0, 4]]


def test_warmup_marks_everything_occupied_inside_the_cube() -> None:
    occ = OccupancyGrid(2, resolution=16)
    pts = torch.tensor([[0.0, 0.0, 0.0], [0.99, -0.99, 0.5], [1.01, 0.0, 0.0], [0.0, 0.0, -1.2]])
    assert occ.occupied(pts).tolist() == [[True, True, False, False]] * 2
    assert torch.equal(occ.occupied_fraction(), torch.ones(2))


def test_update_finds_each_scenes_sphere(spheres) -> None:
    f = spheres((0.5, 0.25), support=0.05)
    occ = OccupancyGrid(2, resolution=32)
    g = torch.Generator().manual_seed(1)
    for _ in range(10):
        occ.update(f, generator=g)
    inner = torch.tensor(
        [[0.0, 0.0, 0.0], [0.2, 0.1, -0.1], [0.4, 0.0, 0.0], [0.0, 0.0, 0.7], [0.9, 0.9, 0.9]]
    )
    got = occ.occupied(inner)
    assert got[0].tolist() == [True, True, True, False, False]
    assert got[1].tolist() == [True, True, False, False, False]
    frac = occ.occupied_fraction()
    ball = [4 / 3 * math.pi * (r + 0.05) ** 3 / 8 for r in (0.5, 0.25)]
    for s in range(2):  # occupied volume close to the ball's (+ a shell of boundary cells)
        assert ball[s] * 0.8 < frac[s] < ball[s] * 2.5, (s, frac[s], ball[s])
    # cells holding density are occupied: all of the solid core, nearly all of the soft shell
    pts = torch.rand(20000, 3, generator=torch.Generator().manual_seed(2)) * 2 - 1
    sig = f.query(pts[None].expand(2, -1, -1)).sigma
    hit = occ.occupied(pts)
    assert hit[sig > 0.5 * f.sigma].all()
    assert hit[sig > 0.0].float().mean() > 0.99


def test_ema_decay_and_threshold() -> None:
    occ = OccupancyGrid(1, resolution=8, decay=0.5)
    occ.density.fill_(10.0)
    occ.update(Empty())
    assert torch.allclose(occ.density, torch.full_like(occ.density, 5.0))
    assert int(occ.updates) == 1
    # threshold: min(mean, -ln(1 - 0.01) / cell)
    thr = -math.log(0.99) / (2.0 / 8)
    assert math.isclose(occ.density_threshold, thr, rel_tol=1e-9)
    occ.density.zero_()
    occ.density[0, :10] = 0.9 * thr
    occ.density[0, 10] = 100.0 * thr
    occ._refresh_bits()
    # mean = (9 + 100 + ...) * thr / 512 < thr, so the faint cells count as occupied
    assert occ.mask()[0, :11].all() and not occ.mask()[0, 11:].any()
    for _ in range(3):
        occ.update(Empty())
    assert torch.allclose(occ.density[0, 10], torch.tensor(100.0 * thr / 8))
    assert not occ.mask()[0, 11:].any()  # cells that never saw density stay empty


def test_partial_updates_after_warmup(spheres) -> None:
    f = spheres((0.4,))
    occ = OccupancyGrid(1, resolution=16, warmup_updates=1)
    g = torch.Generator().manual_seed(0)
    occ.update(f, cells_per_update=64, generator=g)  # warm-up: every cell
    before = occ.density.clone()
    occ.update(f, cells_per_update=64, generator=g)
    changed = (occ.density != before * occ.decay).sum()
    assert 0 < changed <= 128


def test_state_dict_round_trip_through_safetensors(tmp_path, spheres) -> None:
    occ = OccupancyGrid(2, resolution=16)
    occ.update(spheres((0.5, 0.3)))
    path = tmp_path / "occ.safetensors"
    save_file(occ.state_dict(), str(path))
    fresh = OccupancyGrid(2, resolution=16)
    fresh.load_state_dict(load_file(str(path)))
    assert torch.equal(fresh.bits, occ.bits) and torch.equal(fresh.density, occ.density)
    assert int(fresh.updates) == 1
    assert set(occ.state_dict()) == {"density", "bits", "updates"}
    pts = torch.rand(100, 3) * 2 - 1
    assert torch.equal(fresh.occupied(pts), occ.occupied(pts))
