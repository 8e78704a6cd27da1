"""HyperNetwork: shapes per arch, the dynamic stat path, and its detached gradient."""

from __future__ import annotations

import pytest
import torch
from _tiny import fake_text, tiny_config

import hyperfields_cli.hypernet.hypernet as hn
from hyperfields_cli.hypernet.model import HyperFieldsModel


def _model(arch: str, rank: int | None = 4) -> HyperFieldsModel:
    torch.manual_seed(0)
    return HyperFieldsModel(tiny_config(arch, rank))


def _probe_feats(model: HyperFieldsModel, low: float, high: float, n: int = 256) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    pts = torch.rand(n, 3, generator=g) * (high - low) + low  # [n, 3]
    with torch.no_grad():
        return model.grid(pts)  # [n, G]


@pytest.mark.parametrize("arch", ["dynamic", "static", "concat", "additive", "routed"])
@pytest.mark.parametrize("rank", [None, 3])
def test_shapes_every_arch(arch: str, rank: int | None) -> None:
    model = _model(arch, rank)
    text = fake_text(3)
    weights, cond = model.predict_weights(text)
    shapes = model.mlp_cfg.layer_shapes()
    assert [tuple(w.shape) for w in weights] == [(3, o, i) for o, i in shapes]
    assert cond.shape == (3, model.mlp_cfg.cond_dim)
    assert torch.allclose(cond.norm(dim=-1), torch.ones(3), atol=1e-5)
    for w, gain in zip(weights, model.hypernet.gains, strict=True):
        assert torch.allclose(w.norm(dim=-1), gain.expand(3, -1), atol=1e-4)
    assert weights[-1].norm(dim=-1).mean().item() == pytest.approx(5.0, rel=1e-4)
    field = model.scene_field(text)
    out = field.query(torch.rand(3, 50, 3) * 2 - 1)
    assert out.sigma.shape == (3, 50) and out.rgb.shape == (3, 50, 3)
    assert torch.isfinite(out.sigma).all() and torch.isfinite(out.rgb).all()


def test_prompts_get_different_weights() -> None:
    model = _model("dynamic")
    weights, _ = model.predict_weights(fake_text(2))
    assert all((w[0] - w[1]).abs().max() > 1e-6 for w in weights)


def test_dynamic_responds_to_probe_statistics_static_does_not() -> None:
    text = fake_text(2)
    dyn = _model("dynamic")
    a, _ = dyn.hypernet.predict(text, _probe_feats(dyn, -0.7, -0.2))
    b, _ = dyn.hypernet.predict(text, _probe_feats(dyn, 0.3, 0.9))
    assert torch.equal(a[0], b[0])  # layer 0 sees no stat
    for i in range(1, len(a)):
        assert (a[i] - b[i]).abs().max() > 1e-5, f"layer {i} ignores the activations"
    static = _model("static")
    a, _ = static.hypernet.predict(text, _probe_feats(static, -0.7, -0.2))
    b, _ = static.hypernet.predict(text, _probe_feats(static, 0.3, 0.9))
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_concat_weights_are_shared_and_cond_from_sentence() -> None:
    model = _model("concat")
    text = fake_text(2)
    weights, cond = model.predict_weights(text)
    assert all(torch.equal(w[0], w[1]) for w in weights)
    assert model.hypernet.transformer is None
    assert (cond[0] - cond[1]).abs().max() > 1e-6


def test_stat_path_is_detached_ct_path_is_not(monkeypatch) -> None:
    model = _model("dynamic")
    text = fake_text(2)
    text.tokens.requires_grad_(True)
    feats = _probe_feats(model, -0.5, 0.5).requires_grad_(True)
    pres: list[torch.Tensor] = []
    real_apply = hn.apply_layer

    def spy(*args, **kwargs):
        state = real_apply(*args, **kwargs)
        pres.append(state.pre)
        return state

    monkeypatch.setattr(hn, "apply_layer", spy)
    weights, _ = model.hypernet.predict(text, feats)
    assert len(pres) == len(weights) - 1
    assert all(not p.requires_grad for p in pres)  # no graph from pre-activations to weights
    for i in range(1, len(weights)):
        g_feats, g_tok = torch.autograd.grad(
            weights[i].sum() + (weights[i] ** 2).sum(),
            [feats, text.tokens],
            allow_unused=True,
            retain_graph=True,
        )
        assert g_feats is None, f"layer {i} weights get gradient through the stat path"
        assert g_tok is not None and g_tok.abs().sum() > 0, "CT path lost its gradient"


@pytest.mark.parametrize("arch", ["dynamic", "routed"])
def test_rejects_mismatched_text_dim(arch: str) -> None:
    model = _model(arch)
    with pytest.raises(ValueError, match="dim"):
        model.predict_weights(fake_text(2, dim=8))


def test_heads_must_divide_dim() -> None:
    from hyperfields_cli.hypernet.hypernet import HyperNetConfig

    with pytest.raises(ValueError):
        HyperNetConfig(dim=30, heads=4)
