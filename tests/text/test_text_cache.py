"""The on-disk embedding cache: hits never build an encoder, exports ship and load elsewhere."""

from __future__ import annotations

import torch
from _text_fakes import FakeEncoder, raising_factory
from safetensors import safe_open

import hyperfields_cli.text.cache as cache_mod
from hyperfields_cli.text.batch import TextBatch
from hyperfields_cli.text.cache import TextCache, encode_prompts
from hyperfields_cli.text.encoder import DEFAULT_ENCODER, TextEncoder

ENC = "hyperfields-test/fake-encoder"


def test_miss_then_hit_without_encoder(tmp_path) -> None:
    cache, fake = TextCache(tmp_path / "c"), FakeEncoder()
    first = cache.get_or_encode(["a red pot", "a blue vase"], ENC, "r1", lambda: fake)
    assert fake.calls == [["a red pot", "a blue vase"]]
    again = cache.get_or_encode(["a blue vase", "a red pot"], ENC, "r1", raising_factory)
    assert torch.equal(again.tokens[1], first.tokens[0][: again.tokens.shape[1]])
    assert torch.equal(again.sentence[0], first.sentence[1])
    assert again.prompts == ["a blue vase", "a red pot"]
    assert again.mask.sum(1).tolist() == [5, 5]


def test_only_misses_are_encoded_and_files_are_safetensors(tmp_path) -> None:
    cache, fake = TextCache(tmp_path / "c"), FakeEncoder()
    cache.get_or_encode(["a pot"], ENC, "r1", lambda: fake)
    cache.get_or_encode(["a pot", "a mug", "a mug"], ENC, "r1", lambda: fake)
    assert fake.calls == [["a pot"], ["a mug"]]
    files = sorted((tmp_path / "c").rglob("*.safetensors"))
    assert len(files) == 2 and files[0].parent.name == "hyperfields-test--fake-encoder"
    with safe_open(str(cache.path(ENC, "r1", "a mug")), framework="pt") as f:
        assert f.metadata()["prompt"] == "a mug" and f.metadata()["revision"] == "r1"
        assert f.get_tensor("tokens").shape == (4, 8)
    # a different revision is a different key
    cache.get_or_encode(["a pot"], ENC, "r2", lambda: fake)
    assert fake.calls[-1] == ["a pot"]


def test_unpinned_revision_hits_any_cached_revision(tmp_path) -> None:
    cache, fake = TextCache(tmp_path / "c"), FakeEncoder(revision="abc123")
    cache.get_or_encode(["a cup"], ENC, None, lambda: fake)
    assert cache.path(ENC, "abc123", "a cup").is_file()  # stored under the encoder's revision
    cache.get_or_encode(["a cup"], ENC, None, raising_factory)
    cache.get_or_encode(["a cup"], ENC, "abc123", raising_factory)


def test_export_serves_a_fresh_root(tmp_path, monkeypatch) -> None:
    fake = FakeEncoder()
    src = TextCache(tmp_path / "src")
    ref = src.get_or_encode(["yarn pot", "gold blender"], ENC, "r1", lambda: fake)
    files = src.export(["yarn pot", "gold blender"], ENC, tmp_path / "ship", "r1", raising_factory)
    assert len(files) == 2 and all(f.is_file() for f in files)
    monkeypatch.setenv("HYPERFIELDS_TEXT_CACHE", str(tmp_path / "ship"))
    fresh = TextCache(tmp_path / "fresh")  # empty root, reads the shipped folder
    got = fresh.get_or_encode(["gold blender", "yarn pot"], ENC, "r1", raising_factory)
    assert torch.equal(got.sentence, ref.sentence.flip(0))
    direct = TextCache(tmp_path / "ship", read_roots=[])
    direct.get_or_encode(["yarn pot"], ENC, "r1", raising_factory)


def test_corrupt_file_is_a_miss(tmp_path) -> None:
    cache, fake = TextCache(tmp_path / "c"), FakeEncoder()
    cache.get_or_encode(["a pot"], ENC, "r1", lambda: fake)
    cache.path(ENC, "r1", "a pot").write_bytes(b"not safetensors")
    cache.get_or_encode(["a pot"], ENC, "r1", lambda: fake)
    assert len(fake.calls) == 2


def test_real_encoder_through_cache(real_encoder: TextEncoder, monkeypatch) -> None:
    """The default encoder via encode_prompts; the second call is served from disk."""
    monkeypatch.setattr(cache_mod, "_shared_encoder", lambda *a: real_encoder)
    got = encode_prompts(["a yarn pot"])
    direct = real_encoder.encode(["a yarn pot"])
    assert torch.allclose(got.tokens, direct.tokens, atol=1e-6)
    again = TextCache().get_or_encode(["a yarn pot"], DEFAULT_ENCODER, None, raising_factory)
    assert torch.equal(again.tokens, got.tokens)


def test_select_rows(tmp_path) -> None:
    batch = TextCache(tmp_path / "c").get_or_encode(
        ["a b c d e", "a", "a b"], ENC, "r1", lambda: FakeEncoder()
    )
    sub = batch.select(torch.tensor([2, 1]))
    assert sub.prompts == ["a b", "a"] and sub.tokens.shape[1] == 4  # [CLS] a b [SEP]
    assert torch.equal(sub.tokens[1, :3], batch.tokens[1, :3])
    assert batch.select(range(1)).prompts == ["a b c d e"] and len(batch.select(0)) == 1


def test_select_matches_per_row_compaction_and_needs_no_host_copy(tmp_path) -> None:
    batch = TextCache(tmp_path / "c").get_or_encode(
        ["a b c d e", "a", "a b"], ENC, "r1", lambda: FakeEncoder()
    )
    sub = batch.select([1, 2])
    items = [batch.item(i) for i in (1, 2)]
    assert sub.lengths == [t.shape[0] for t, _ in items] == [3, 4]
    assert sub.tokens.shape[1] == 4
    for row, (tokens, sentence) in enumerate(items):
        assert torch.equal(sub.tokens[row, : tokens.shape[0]], tokens)
        assert torch.equal(sub.sentence[row], sentence)
        assert not sub.mask[row, tokens.shape[0] :].any()


def test_select_compacts_rows_whose_valid_tokens_are_not_first() -> None:
    tokens = torch.arange(2 * 3 * 2, dtype=torch.float32).reshape(2, 3, 2)
    mask = torch.tensor([[False, True, True], [True, False, False]])
    batch = TextBatch(tokens, mask, torch.zeros(2, 2), ["x", "y"])
    sub = batch.select([0, 1])
    assert torch.equal(sub.mask, torch.tensor([[True, True], [True, False]]))
    assert torch.equal(sub.tokens[0], tokens[0, 1:])
    assert torch.equal(sub.tokens[1, 0], tokens[1, 0])
