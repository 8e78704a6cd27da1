"""HyperFieldsModel: probes, save/load round trips (fp32, fp16), strict loading, training."""

from __future__ import annotations

import json

import pytest
import torch
from _tiny import fake_text, tiny_config
from safetensors import safe_open

from hyperfields_cli.errors import IntegrityError, NotFoundError
from hyperfields_cli.hypernet.model import HyperFieldsConfig, HyperFieldsModel


def _query(model: HyperFieldsModel, text, seed: int = 3):
    pts = torch.rand(len(text), 64, 3, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    with torch.no_grad():
        field = model.scene_field(text)
        out = field.query(pts)
        bg = field.background(torch.nn.functional.normalize(pts, dim=-1))
    return out.sigma, out.rgb, bg


def test_probe_points_are_deterministic_and_not_saved() -> None:
    a, b = HyperFieldsModel(tiny_config()), HyperFieldsModel(tiny_config())
    assert torch.equal(a.probe_points, b.probe_points)
    assert a.probe_points.shape == (256, 3)
    assert a.probe_points.norm(dim=-1).max() <= 0.7 + 1e-6
    assert "probe_points" not in a.state_dict()
    cube = HyperFieldsModel(tiny_config(probe={"num_points": 64, "distribution": "cube"}))
    assert cube.probe_points.abs().max() <= 1.0 and cube.random_probe_points(10).shape == (10, 3)


def test_fresh_probe_points_change_dynamic_weights() -> None:
    model = HyperFieldsModel(tiny_config())
    text = fake_text(2)
    w_fixed, _ = model.predict_weights(text)
    w_fresh, _ = model.predict_weights(text, model.random_probe_points(128) * 0.2 + 0.5)
    assert (w_fixed[1] - w_fresh[1]).abs().max() > 0


@pytest.mark.parametrize("arch", ["dynamic", "routed"])
def test_round_trip_identical(tmp_path, arch: str) -> None:
    torch.manual_seed(0)
    model = HyperFieldsModel(tiny_config(arch))
    with torch.no_grad():
        model.grid.table.normal_(std=0.1)  # make the grid matter
    text = fake_text(2)
    ref = _query(model.eval(), text)
    model.save_pretrained(tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert cfg["model_type"] == "hyperfields" and cfg["mlp"]["grid_dim"] == 8
    loaded = HyperFieldsModel.from_pretrained(tmp_path / "m")
    assert loaded.config == model.config
    for x, y in zip(ref, _query(loaded, text), strict=True):
        assert torch.equal(x, y)


def test_fp16_save_reloads(tmp_path) -> None:
    torch.manual_seed(0)
    model = HyperFieldsModel(tiny_config(arch="static", rank=None)).eval()
    text = fake_text(2)
    ref = _query(model, text)
    model.save_pretrained(tmp_path / "h", dtype=torch.float16)
    with safe_open(str(tmp_path / "h" / "model.safetensors"), framework="pt") as f:
        assert f.get_tensor("grid.table").dtype == torch.float16
    loaded = HyperFieldsModel.from_pretrained(tmp_path / "h", device="cpu")
    assert loaded.grid.table.dtype == torch.float32
    sigma, rgb, bg = _query(loaded, text)
    assert torch.allclose(rgb, ref[1], atol=1e-2) and torch.allclose(bg, ref[2], atol=1e-2)
    assert torch.allclose(sigma.log(), ref[0].log(), atol=5e-2)


def test_strict_loading_is_loud(tmp_path) -> None:
    HyperFieldsModel(tiny_config()).save_pretrained(tmp_path / "m")
    cfg_path = tmp_path / "m" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["mlp"]["width"] = 24
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(IntegrityError, match="shape mismatch"):
        HyperFieldsModel.from_pretrained(tmp_path / "m")
    HyperFieldsModel(tiny_config(arch="concat")).save_pretrained(tmp_path / "c")
    cfg_path.write_text((tmp_path / "c" / "config.json").read_text().replace("concat", "static"))
    (tmp_path / "m" / "model.safetensors").write_bytes(
        (tmp_path / "c" / "model.safetensors").read_bytes()
    )
    with pytest.raises(IntegrityError, match="missing"):
        HyperFieldsModel.from_pretrained(tmp_path / "m")
    cfg_path.write_text(json.dumps({**cfg, "surprise": 1}))
    with pytest.raises(IntegrityError, match="not a valid"):
        HyperFieldsModel.from_pretrained(tmp_path / "m")
    with pytest.raises(NotFoundError):
        HyperFieldsModel.from_pretrained(tmp_path / "nothing-here")


def test_presets_fit_their_budgets() -> None:
    compact = HyperFieldsConfig.compact()
    assert compact.grid.log2_table_size == 16 and compact.hypernet.modulation_rank == 8
    assert HyperFieldsConfig.paper().hypernet.modulation_rank is None
    n = HyperFieldsModel(compact).num_parameters()["total"]
    assert n * 2 < 15e6


def test_tiny_model_overfits_two_prompts() -> None:
    """Gradients reach grid, hypernet (transformer, heads, bases) and background."""
    torch.manual_seed(0)
    model = HyperFieldsModel(tiny_config())
    text = fake_text(2)
    g = torch.Generator().manual_seed(0)
    colors = torch.tensor([[0.9, 0.1, 0.1], [0.1, 0.2, 0.9]])  # per-scene albedo target
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for step in range(60):
        pts = torch.rand(2, 256, 3, generator=g) * 2 - 1  # [S, N, 3]
        inside = (pts.norm(dim=-1) < torch.tensor([[0.4], [0.6]])).float()  # [S, N]
        field = model.scene_field(text, model.random_probe_points(128))
        out = field.query(pts)
        dirs = torch.nn.functional.normalize(torch.randn(2, 32, 3, generator=g), dim=-1)
        loss = (
            ((out.rgb - colors[:, None]) ** 2).mean()
            + 0.05 * ((torch.log1p(out.sigma) - 3.0 * inside) ** 2).mean()
            + ((field.background(dirs) - 0.5) ** 2).mean()
        )
        opt.zero_grad()
        loss.backward()
        if step == 0:
            for name in [
                "grid.table",
                "hypernet.in_proj.weight",
                "hypernet.cond_proj.weight",
                "hypernet.transformer.layers.0.self_attn.in_proj_weight",
                "hypernet.mod_heads.1.proj.weight",
                "hypernet.bases.2",
                "hypernet.gains.3",
                "background.net.0.weight",
            ]:
                grad = dict(model.named_parameters())[name].grad
                assert grad is not None and grad.abs().sum() > 0, f"no gradient in {name}"
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5, losses[::10]
    rgb = out.rgb.detach().mean(1)  # [S, 3]: the two prompts got their own colours
    assert rgb[0, 0] > rgb[1, 0] + 0.3 and rgb[1, 2] > rgb[0, 2] + 0.3
