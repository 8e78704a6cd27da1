"""Shared fixtures: an isolated artifact store and a tiny real artifact writer."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def hyperfields_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty $HYPERFIELDS_HOME for one test (the default ArtifactStore root)."""
    home = tmp_path / "hyperfields-home"
    monkeypatch.setenv("HYPERFIELDS_HOME", str(home))
    return home


def tiny_safetensors(seed: int = 0, n: int = 4) -> bytes:
    """A real safetensors file (one float32 tensor) without importing torch."""
    data = struct.pack(f"<{n}f", *[float(seed * 10 + i) for i in range(n)])
    header = {"w": {"dtype": "F32", "shape": [n], "data_offsets": [0, len(data)]}}
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + data


def tiny_writer(seed: int = 0, samples: bool = True) -> Callable[[Path], None]:
    """An ArtifactStore.save `write` callback producing config + weights (+ a sample)."""

    def write(folder: Path) -> None:
        (folder / "config.json").write_text(json.dumps({"width": 4, "seed": seed}))
        (folder / "model.safetensors").write_bytes(tiny_safetensors(seed))
        if samples:
            (folder / "samples").mkdir()
            (folder / "samples" / "view0.png").write_bytes(b"\x89PNG fake " + bytes([seed % 256]))

    return write


@pytest.fixture(name="tiny_writer", scope="session")
def tiny_writer_fixture() -> Callable[..., Callable[[Path], None]]:
    """The `tiny_writer(seed, samples=True)` factory, as a fixture for any test folder."""
    return tiny_writer
