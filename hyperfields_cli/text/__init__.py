"""Prompt -> token embeddings: the frozen sentence encoder and its on-disk cache."""

from hyperfields_cli.text.batch import TextBatch, collate
from hyperfields_cli.text.cache import TextCache, encode_prompts
from hyperfields_cli.text.encoder import DEFAULT_ENCODER, TextEncoder

__all__ = ["DEFAULT_ENCODER", "TextBatch", "TextCache", "TextEncoder", "collate", "encode_prompts"]
