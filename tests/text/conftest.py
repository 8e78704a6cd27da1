"""Text tests run against an isolated HYPERFIELDS_HOME with no shipped cache."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HYPERFIELDS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HYPERFIELDS_TEXT_CACHE", raising=False)
    return tmp_path / "home"
