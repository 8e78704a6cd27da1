"""Fake text encoders for cache tests (no model download, counts its calls)."""

from __future__ import annotations

import hashlib

import torch

from hyperfields_cli.text.batch import TextBatch, collate


class FakeEncoder:
    """Deterministic stand-in for TextEncoder: tokens derived from a hash of each word."""

    def __init__(self, revision: str = "fake-1", dim: int = 8) -> None:
        self.revision = revision
        self.dim = dim
        self.calls: list[list[str]] = []

    def encode(self, prompts: list[str]) -> TextBatch:
        self.calls.append(list(prompts))
        toks, sents = [], []
        for p in prompts:
            rows = []
            for w in ["[CLS]", *p.split(), "[SEP]"]:
                seed = int(hashlib.sha256(w.encode()).hexdigest()[:8], 16)
                rows.append(torch.randn(self.dim, generator=torch.Generator().manual_seed(seed)))
            t = torch.stack(rows)  # [T, D]
            sents.append(torch.nn.functional.normalize(t.mean(0), dim=-1))
            toks.append(torch.nn.functional.normalize(t, dim=-1))
        return collate(toks, sents, prompts)


def raising_factory() -> FakeEncoder:
    raise AssertionError("the encoder must not be constructed on a cache hit")
