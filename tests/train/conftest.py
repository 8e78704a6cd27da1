"""Fixtures for the training tests (tiny settings live in _train_tiny.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from _train_tiny import TWO_PROMPTS


@pytest.fixture
def two_prompt_pack(tmp_path: Path) -> Path:
    path = tmp_path / "duo.toml"
    path.write_text(TWO_PROMPTS)
    return path


@pytest.fixture(autouse=True)
def _few_threads():
    """Keep BLAS from oversubscribing the 2-core CI machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
