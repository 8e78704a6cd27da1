"""Fixtures for the training tests (tiny settings live in _train_tiny.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from _threads import single_thread  # noqa: F401
from _train_tiny import TWO_PROMPTS


@pytest.fixture
def two_prompt_pack(tmp_path: Path) -> Path:
    path = tmp_path / "duo.toml"
    path.write_text(TWO_PROMPTS)
    return path
