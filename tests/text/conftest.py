"""Text tests: an isolated HYPERFIELDS_HOME with no shipped cache, one shared real encoder."""

from __future__ import annotations

import pytest
import torch

from hyperfields_cli.text.encoder import TextEncoder


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HYPERFIELDS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HYPERFIELDS_TEXT_CACHE", raising=False)
    return tmp_path / "home"


@pytest.fixture(autouse=True)
def single_thread():
    """Small batches: one intra-op thread avoids spin-wait contention on busy machines."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def real_encoder() -> TextEncoder:
    """The bundled default encoder, loaded once per test session."""
    return TextEncoder()
