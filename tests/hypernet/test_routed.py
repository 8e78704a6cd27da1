"""Token-wise archs: additive proposals compose by averaging; routed keeps the shape out of
the colour branch's reach and starts as the additive arch."""

from __future__ import annotations

import torch
from _tiny import TEXT_DIM, fake_text, tiny_config

from hyperfields_cli.hypernet import routed
from hyperfields_cli.hypernet.model import HyperFieldsModel
from hyperfields_cli.text.batch import collate


def _model(arch: str) -> HyperFieldsModel:
    torch.manual_seed(0)
    model = HyperFieldsModel(tiny_config(arch))
    with torch.no_grad():
        model.grid.table.normal_(std=0.1)  # make the grid matter
    return model


def _tokens(n: int, seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return list(torch.nn.functional.normalize(torch.randn(n, TEXT_DIM, generator=g), dim=-1))


def _prompt(tokens: list[torch.Tensor]):
    toks = torch.stack(tokens)
    return collate([toks], [toks.mean(0)], ["p"])


def test_additive_modulation_is_the_mean_of_each_tokens_proposal() -> None:
    hyper = _model("additive").hypernet
    a, b, c = _tokens(3, seed=1)
    with torch.no_grad():

        def mod(tokens: list[torch.Tensor], layer: int = 1) -> torch.Tensor:
            text = _prompt(tokens)
            x = hyper.in_proj(text.tokens)  # [1, T, dim]
            alpha = routed.uniform_weights(text.mask)
            return routed.token_modulation(hyper.mod_heads[layer], x, alpha, None)[0]

        pair, alone_a, alone_b = mod([a, b]), mod([a]), mod([b])
        assert torch.allclose(pair, (alone_a + alone_b) / 2, atol=1e-6)
        # "a" proposes the same change beside "b" as beside "c": a word's effect is its own
        assert torch.allclose(2 * mod([a, b]) - alone_b, 2 * mod([a, c]) - mod([c]), atol=1e-6)
        assert (alone_a - alone_b).abs().max() > 1e-4


def test_router_starts_uniform_over_valid_tokens() -> None:
    hyper = _model("routed").hypernet
    text = fake_text(2)
    alpha = hyper.router(hyper.in_proj(text.tokens), text.mask)  # [B, 2, T]
    assert alpha.shape == (2, 2, text.tokens.shape[1])
    want = routed.uniform_weights(text.mask).expand(-1, 2, -1)
    assert torch.allclose(alpha, want, atol=1e-6)
    with torch.no_grad():
        hyper.router.query.normal_()
    alpha = hyper.router(hyper.in_proj(text.tokens), text.mask)
    assert torch.all(alpha[~text.mask[:, None, :].expand_as(alpha)] == 0)
    assert torch.allclose(alpha.sum(-1), torch.ones(2, 2), atol=1e-6)
    assert (alpha[:, 0] - alpha[:, 1]).abs().max() > 1e-3  # the branches read different words


def test_routed_density_ignores_the_colour_branch() -> None:
    model = _model("routed")
    hyper = model.hypernet
    text = fake_text(2)
    pts = torch.rand(2, 40, 3, generator=torch.Generator().manual_seed(2)) * 2 - 1
    with torch.no_grad():
        field = model.scene_field(text)
        ref = field.query(pts)
        # anything the colour branch gets from the prompt: its rows' weights, its cond half
        for i, w in enumerate(field.weights):
            w[:, getattr(hyper, f"colour_rows_{i}")] *= -1.5
        field.cond[:, hyper.density_cond :] = torch.randn_like(field.cond[:, hyper.density_cond :])
        out = field.query(pts)
    assert torch.equal(out.sigma, ref.sigma)
    assert (out.rgb - ref.rgb).abs().max() > 1e-3


def test_routed_branch_queries_get_gradients() -> None:
    model = _model("routed")
    field = model.scene_field(fake_text(2))
    field.query(torch.rand(2, 30, 3) * 2 - 1).rgb.sum().backward()
    q = model.hypernet.router.query.grad
    assert q is not None  # zero at init is fine: the gradient must flow to move it
    assert model.hypernet.router.key.weight.grad is not None


def test_routed_shade_belongs_to_the_shape() -> None:
    """albedo_shade: a material word (colour-branch weights, colour cond) moves the albedo but
    neither the density nor the light a point catches."""
    torch.manual_seed(0)
    model = HyperFieldsModel(tiny_config("routed").with_student("routed", "albedo_shade"))
    hyper = model.hypernet
    pts = torch.rand(2, 40, 3, generator=torch.Generator().manual_seed(2)) * 2 - 1
    with torch.no_grad():
        model.grid.table.normal_(std=0.1)
        field = model.scene_field(fake_text(2))
        ref, ref_albedo = field.query(pts), field.albedo(pts)
        for i, w in enumerate(field.weights):
            w[:, getattr(hyper, f"colour_rows_{i}")] *= -1.5
        field.cond[:, hyper.density_cond :] = torch.randn_like(field.cond[:, hyper.density_cond :])
        out, albedo = field.query(pts), field.albedo(pts)
    assert torch.equal(out.sigma, ref.sigma)
    assert torch.allclose(out.rgb / albedo, ref.rgb / ref_albedo, rtol=1e-4)  # the shade
    assert (albedo - ref_albedo).abs().max() > 1e-3
