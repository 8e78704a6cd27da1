"""Text tests: an isolated HYPERFIELDS_HOME with no shipped cache, one shared real encoder."""

from __future__ import annotations

import pytest
from _threads import single_thread  # noqa: F401

from hyperfields_cli.text.encoder import TextEncoder


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HYPERFIELDS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HYPERFIELDS_TEXT_CACHE", raising=False)
    return tmp_path / "home"


@pytest.fixture(scope="session")
def real_encoder() -> TextEncoder:
    """The bundled default encoder, loaded once per test session."""
    return TextEncoder()
