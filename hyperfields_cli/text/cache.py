"""On-disk cache of prompt embeddings, one safetensors file per (encoder, revision, prompt).

Why: the encoder is frozen, so its output for a prompt never changes; caching lets training
run where the encoder is not installed (ship the cache with the job) and skips re-encoding.
Layout: <root>/<encoder-slug>/<sha256(encoder_id, revision, prompt)>.safetensors with the
prompt, encoder id and revision in the metadata. An exported cache has the same layout, so
it can serve as a root or be listed in HYPERFIELDS_TEXT_CACHE (read-only fallbacks).
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor

from hyperfields_cli.text.batch import TextBatch, collate
from hyperfields_cli.text.encoder import (
    DEFAULT_ENCODER,
    TextEncoder,
    resolve_revision,
    validate_prompts,
)

FORMAT = "hyperfields-text-v1"
ENV_CACHE = "HYPERFIELDS_TEXT_CACHE"


class Encoder(Protocol):
    revision: str

    def encode(self, prompts: list[str]) -> TextBatch: ...


def hyperfields_home() -> Path:
    return Path(os.environ.get("HYPERFIELDS_HOME", Path.home() / ".cache" / "hyperfields"))


def encoder_slug(encoder_id: str) -> str:
    """A folder name for an encoder: Hub ids keep their shape, local paths get a short hash."""
    local = encoder_id.startswith(("/", ".", "~")) or encoder_id.count("/") > 1
    if local or "\\" in encoder_id or Path(encoder_id).expanduser().is_dir():
        name = Path(encoder_id).expanduser().resolve().name or "encoder"
        digest = hashlib.sha256(str(Path(encoder_id).expanduser().resolve()).encode()).hexdigest()
        return f"local--{re.sub(r'[^A-Za-z0-9._-]+', '-', name)}--{digest[:8]}"
    return re.sub(r"[^A-Za-z0-9._-]+", "--", encoder_id.strip("/"))


def cache_key(encoder_id: str, revision: str, prompt: str) -> str:
    return hashlib.sha256(f"{encoder_id}\n{revision}\n{prompt}".encode()).hexdigest()


def _read_meta(path: Path) -> dict[str, str]:
    with safe_open(str(path), framework="pt") as f:
        return f.metadata() or {}


class TextCache:
    """get_or_encode() encodes only the prompts missing from disk; hits never build an encoder."""

    def __init__(
        self, root: Path | str | None = None, read_roots: Iterable[Path | str] | None = None
    ):
        self.root = Path(root) if root is not None else hyperfields_home() / "text_cache"
        if read_roots is None:
            env = os.environ.get(ENV_CACHE, "")
            read_roots = [p for p in env.split(os.pathsep) if p]
        self.read_roots = [Path(p) for p in read_roots]
        self._index: dict[Path, dict[tuple[str, str], list[tuple[str, Path]]]] = {}

    def _roots(self) -> list[Path]:
        return [self.root, *[r for r in self.read_roots if r != self.root]]

    def path(self, encoder_id: str, revision: str, prompt: str, root: Path | None = None) -> Path:
        base = root if root is not None else self.root
        return (
            base
            / encoder_slug(encoder_id)
            / f"{cache_key(encoder_id, revision, prompt)}.safetensors"
        )

    def _scan(self, folder: Path) -> dict[tuple[str, str], list[tuple[str, Path]]]:
        """(encoder_id, prompt) -> [(revision, file)] for lookups whose revision is unknown."""
        if folder not in self._index:
            index: dict[tuple[str, str], list[tuple[str, Path]]] = {}
            for f in sorted(folder.glob("*.safetensors")) if folder.is_dir() else []:
                try:
                    meta = _read_meta(f)
                except Exception:
                    continue
                if meta.get("format") == FORMAT:
                    key = (meta.get("encoder_id", ""), meta.get("prompt", ""))
                    index.setdefault(key, []).append((meta.get("revision", ""), f))
            self._index[folder] = index
        return self._index[folder]

    def lookup(
        self, prompt: str, encoder_id: str, revision: str | None
    ) -> tuple[Tensor, Tensor] | None:
        """(valid tokens [T, D], sentence [D]) from any root, or None on a miss."""
        for root in self._roots():
            if revision is not None:
                candidates = [self.path(encoder_id, revision, prompt, root)]
            else:  # revision unknown offline: accept the newest cached revision
                hits = self._scan(root / encoder_slug(encoder_id)).get((encoder_id, prompt), [])
                candidates = sorted(
                    (p for _, p in hits if p.is_file()),
                    key=lambda p: p.stat().st_mtime,
                    reverse=True,
                )
            for path in candidates:
                entry = self._load(path, encoder_id, prompt)
                if entry is not None:
                    return entry
        return None

    @staticmethod
    def _load(path: Path, encoder_id: str, prompt: str) -> tuple[Tensor, Tensor] | None:
        if not path.is_file():
            return None
        try:
            meta = _read_meta(path)
            if meta.get("prompt") != prompt or meta.get("encoder_id") != encoder_id:
                return None
            t = load_file(str(path))
            return t["tokens"].float(), t["sentence"].float()
        except Exception:  # a torn or foreign file is a miss; it gets rewritten
            return None

    def store(
        self, prompt: str, encoder_id: str, revision: str, tokens: Tensor, sentence: Tensor
    ) -> Path:
        """Atomically write one prompt's tokens [T, D] and sentence [D]."""
        path = self.path(encoder_id, revision, prompt)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"format": FORMAT, "prompt": prompt, "encoder_id": encoder_id, "revision": revision}
        tensors = {
            "tokens": tokens.detach().float().cpu().contiguous(),
            "sentence": sentence.detach().float().cpu().contiguous(),
        }
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        os.close(fd)
        try:
            save_file(tensors, tmp, metadata=meta)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        self._index.pop(path.parent, None)
        return path

    def get_or_encode(
        self,
        prompts: list[str],
        encoder_id: str = DEFAULT_ENCODER,
        revision: str | None = None,
        encoder_factory: Callable[[], Encoder] | None = None,
    ) -> TextBatch:
        """Cached embeddings for `prompts` (CPU); the encoder is built only if something misses."""
        prompts = validate_prompts(prompts)
        rev = resolve_revision(encoder_id, revision)
        found: dict[str, tuple[Tensor, Tensor]] = {}
        for p in dict.fromkeys(prompts):
            entry = self.lookup(p, encoder_id, rev)
            if entry is not None:
                found[p] = entry
        misses = [p for p in dict.fromkeys(prompts) if p not in found]
        if misses:
            factory = encoder_factory or (lambda: TextEncoder(encoder_id, revision))
            encoder = factory()
            batch = encoder.encode(misses).to("cpu")
            for i, p in enumerate(misses):
                tokens, sentence = batch.item(i)
                self.store(p, encoder_id, rev or encoder.revision, tokens, sentence)
                found[p] = (tokens.float(), sentence.float())
        return collate([found[p][0] for p in prompts], [found[p][1] for p in prompts], prompts)

    def export(
        self,
        prompts: list[str],
        encoder_id: str = DEFAULT_ENCODER,
        dest_dir: Path | str = "text_cache",
        revision: str | None = None,
        encoder_factory: Callable[[], Encoder] | None = None,
    ) -> list[Path]:
        """Copy (encoding misses first) these prompts' files into `dest_dir`, a shippable cache."""
        self.get_or_encode(prompts, encoder_id, revision, encoder_factory)
        rev = resolve_revision(encoder_id, revision)
        dest = Path(dest_dir)
        out: list[Path] = []
        for p in dict.fromkeys(validate_prompts(prompts)):
            src = self._find_file(p, encoder_id, rev)
            assert src is not None, f"cache entry vanished for {p!r}"
            target = dest / encoder_slug(encoder_id) / src.name
            target.parent.mkdir(parents=True, exist_ok=True)
            if src.resolve() != target.resolve():
                shutil.copyfile(src, target)
            out.append(target)
        return out

    def _find_file(self, prompt: str, encoder_id: str, revision: str | None) -> Path | None:
        for root in self._roots():
            if revision is not None:
                path = self.path(encoder_id, revision, prompt, root)
                if path.is_file():
                    return path
            else:
                hits = self._scan(root / encoder_slug(encoder_id)).get((encoder_id, prompt), [])
                files = [f for _, f in hits if f.is_file()]
                if files:
                    return max(files, key=lambda f: f.stat().st_mtime)
        return None


@functools.lru_cache(maxsize=4)
def _shared_encoder(encoder_id: str, revision: str | None, device: str) -> TextEncoder:
    """One loaded encoder per (id, revision, device) per process."""
    return TextEncoder(encoder_id, revision, device)


def encode_prompts(
    prompts: list[str],
    encoder_id: str = DEFAULT_ENCODER,
    revision: str | None = None,
    device: torch.device | str = "cpu",
) -> TextBatch:
    """Prompts -> TextBatch on `device`, through the default on-disk cache."""
    batch = TextCache().get_or_encode(
        prompts, encoder_id, revision, lambda: _shared_encoder(encoder_id, revision, str(device))
    )
    return batch.to(device)
