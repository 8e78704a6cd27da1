"""Branch masks: which inputs each unit of the split scene MLP may read."""

from __future__ import annotations

import pytest
import torch

from hyperfields_cli.field.branches import branch_masks, colour_rows, split_sizes
from hyperfields_cli.field.mlp import (
    SHADE_MAX,
    SceneMLPConfig,
    decode_albedo,
    decode_outputs,
    scene_mlp,
)


def test_split_sizes_keep_both_branches() -> None:
    assert split_sizes(64, 0.5) == 32
    assert split_sizes(4, 0.01) == 1 and split_sizes(4, 0.99) == 3
    with pytest.raises(ValueError):
        split_sizes(1, 0.5)


def test_mask_wiring() -> None:
    cfg = SceneMLPConfig(depth=3, width=8, cond_dim=2, grid_dim=3)
    first, hidden, last = branch_masks(cfg, density_units=2, density_cond=1)
    dens_h, all_h = [1, 1, 0, 0, 0, 0, 0, 0], [1] * 8
    # layer 0 reads [grid(3) ; cond(2)]
    assert first[0].tolist() == [1, 1, 1, 1, 0]  # density unit: grid + density cond
    assert first[7].tolist() == [1, 1, 1, 0, 1]  # colour unit: grid + colour cond
    # hidden/last read [h(8) ; cond(2) ; grid(3)]
    assert hidden[1].tolist() == dens_h + [1, 0] + [1, 1, 1]
    assert hidden[2].tolist() == all_h + [0, 1] + [1, 1, 1]
    assert last[0].tolist() == dens_h + [1, 0] + [1, 1, 1]  # density logit
    assert all(last[r].tolist() == all_h + [0, 1] + [1, 1, 1] for r in (1, 2, 3))
    assert colour_rows(cfg, 1, 2).tolist() == [False] * 2 + [True] * 6
    assert colour_rows(cfg, 2, 2).tolist() == [False, True, True, True]


def test_masked_mlp_density_never_sees_colour_inputs() -> None:
    cfg = SceneMLPConfig(depth=4, width=8, cond_dim=4, grid_dim=6)
    masks = branch_masks(cfg, density_units=3, density_cond=2)
    torch.manual_seed(0)
    shapes = cfg.layer_shapes()
    weights = [torch.randn(2, o, i) * m for (o, i), m in zip(shapes, masks, strict=True)]
    grid, cond = torch.randn(2, 10, 6), torch.randn(2, 4)
    ref = scene_mlp(cfg, weights, grid, cond)
    cond2 = cond.clone()
    cond2[:, 2:] += 3.0  # only the colour half
    out = scene_mlp(cfg, weights, grid, cond2)
    assert torch.equal(out[..., 0], ref[..., 0])
    assert (out[..., 1:] - ref[..., 1:]).abs().max() > 1e-3


def test_shade_output_is_wired_to_the_density_branch() -> None:
    cfg = SceneMLPConfig(depth=3, width=8, cond_dim=2, grid_dim=3, colour_model="albedo_shade")
    assert cfg.out_dim == 5
    last = branch_masks(cfg, density_units=2, density_cond=1)[-1]
    assert last[4].tolist() == [1, 1, 0, 0, 0, 0, 0, 0] + [1, 0] + [1, 1, 1]  # as density
    assert colour_rows(cfg, 2, 2).tolist() == [False, True, True, True, False]


def test_albedo_shade_decodes_albedo_times_shade() -> None:
    cfg = SceneMLPConfig(colour_model="albedo_shade")
    raw = torch.randn(2, 7, 5)
    _, rgb = decode_outputs(cfg, raw, torch.zeros(2, 7, 3))
    shade = SHADE_MAX * torch.sigmoid(raw[..., 4:5])
    assert torch.allclose(rgb, decode_albedo(raw) * shade)
    assert SceneMLPConfig().out_dim == 4  # rgb, and every config saved before colour_model
