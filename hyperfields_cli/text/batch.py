"""The encoded form of a batch of prompts, shared by the encoder, the cache and the hypernet.

Kept free of transformers so training code can import it where no encoder is installed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from hyperfields_cli.host import index_tensor


@dataclass
class TextBatch:
    """tokens [B, T, D] (each valid token L2-normalised, padding zeros), mask [B, T] bool
    (True = real token), sentence [B, D] (mean of valid raw tokens, L2-normalised), prompts."""

    tokens: Tensor
    mask: Tensor
    sentence: Tensor
    prompts: list[str]
    _lengths: list[int] | None = field(default=None, repr=False, compare=False)
    """Host copy of each prompt's valid-token count, made on first use (one device sync)."""
    _prefix: bool | None = field(default=None, repr=False, compare=False)
    """Whether each row's valid tokens come first (checked once; collate makes them so)."""

    def __post_init__(self) -> None:
        b, t, d = self.tokens.shape
        if self.mask.shape != (b, t) or self.sentence.shape != (b, d) or len(self.prompts) != b:
            raise ValueError(
                f"inconsistent TextBatch: tokens {tuple(self.tokens.shape)}, mask "
                f"{tuple(self.mask.shape)}, sentence {tuple(self.sentence.shape)}, "
                f"{len(self.prompts)} prompts"
            )

    def __len__(self) -> int:
        return len(self.prompts)

    @property
    def dim(self) -> int:
        return self.tokens.shape[-1]

    @property
    def device(self) -> torch.device:
        return self.tokens.device

    def to(self, device: torch.device | str) -> TextBatch:
        if self.tokens.device == torch.device(device):
            return self
        moved = (self.tokens.to(device), self.mask.to(device), self.sentence.to(device))
        return TextBatch(*moved, self.prompts, self._lengths, self._prefix)

    @property
    def lengths(self) -> list[int]:
        """Valid tokens per prompt (host ints, cached: selecting rows never waits on a GPU)."""
        if self._lengths is None:
            self._lengths = [int(n) for n in self.mask.sum(1).tolist()]
        return self._lengths

    def _prefix_masks(self) -> bool:
        """Whether every row's valid tokens come first (as collate and tokenizers pad)."""
        cols = torch.arange(self.mask.shape[1], device=self.mask.device)
        want = cols[None] < torch.tensor(self.lengths, device=self.mask.device)[:, None]
        return bool(torch.equal(want, self.mask))

    def select(self, index: Sequence[int] | Tensor | int) -> TextBatch:
        """Rows at `index` (ints, a range or an index tensor), re-trimmed to the longest one.

        Rows are gathered on the device with an index copied asynchronously, so a training
        step that selects its prompts does not synchronise with the GPU.
        """
        if isinstance(index, Tensor):
            index = index.reshape(-1).tolist()
        elif isinstance(index, int):
            index = [index]
        rows = [int(i) for i in index]
        if not rows:
            raise ValueError("cannot select an empty list of prompts")
        lengths = self.lengths
        if self._prefix is None:
            self._prefix = self._prefix_masks()
        if not self._prefix:  # valid tokens scattered in a row: compact them
            items = [self.item(i) for i in rows]
            return collate([t for t, _ in items], [s for _, s in items], self._names(rows))
        t_max = max(lengths[i] for i in rows)
        idx = index_tensor(rows, self.tokens.device)
        picked = (
            self.tokens.index_select(0, idx)[:, :t_max],
            self.mask.index_select(0, idx)[:, :t_max],
            self.sentence.index_select(0, idx),
        )
        return TextBatch(*picked, self._names(rows), [lengths[i] for i in rows], True)

    def _names(self, rows: list[int]) -> list[str]:
        return [self.prompts[i] for i in rows]

    def item(self, i: int) -> tuple[Tensor, Tensor]:
        """Prompt i as (valid tokens [T_i, D], sentence [D])."""
        return self.tokens[i, self.mask[i]], self.sentence[i]


def collate(tokens: list[Tensor], sentences: list[Tensor], prompts: list[str]) -> TextBatch:
    """Per-prompt valid tokens [T_i, D] + sentences [D] -> one batch padded to max T_i."""
    if not tokens:
        raise ValueError("cannot collate an empty list of prompts")
    t_max = max(t.shape[0] for t in tokens)
    d = tokens[0].shape[-1]
    ref = tokens[0]
    out = torch.zeros(len(tokens), t_max, d, dtype=ref.dtype, device=ref.device)  # [B, T, D]
    mask = torch.zeros(len(tokens), t_max, dtype=torch.bool, device=ref.device)  # [B, T]
    for i, t in enumerate(tokens):
        out[i, : t.shape[0]] = t
        mask[i, : t.shape[0]] = True
    lengths = [t.shape[0] for t in tokens]
    return TextBatch(out, mask, torch.stack(sentences).to(ref), list(prompts), lengths, True)
