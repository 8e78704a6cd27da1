"""A real Hub-compatible server for the sync tests: olah serving local git repos read-only."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class OlahServer:
    endpoint: str
    mirrors: Path

    def repo_path(self, repo_id: str) -> Path:
        """Where a model repo `org/name` must live (a bare git repo) for olah to serve it."""
        return self.mirrors / "models" / repo_id


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_up(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"olah exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers: good enough
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"olah did not answer within {timeout}s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def olah_server(tmp_path_factory: pytest.TempPathFactory):
    """Start olah (offline mode, local mirrors only) on a free 127.0.0.1 port; always stop it."""
    pytest.importorskip("olah")
    base = tmp_path_factory.mktemp("olah")
    mirrors = base / "mirrors"
    (mirrors / "models").mkdir(parents=True)
    port = free_port()
    config = base / "olah.toml"
    config.write_text(
        "[basic]\n"
        'host = "127.0.0.1"\n'
        f"port = {port}\n"
        f'repos-path = "{(base / "cache").as_posix()}"\n'
        f'mirrors-path = ["{mirrors.as_posix()}"]\n'
        "[accessibility]\n"
        "offline = true\n"
    )
    log = base / "olah.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "olah.server", "-c", str(config)],
            cwd=base,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_up(f"http://127.0.0.1:{port}/", proc, log)
        yield OlahServer(endpoint=f"http://127.0.0.1:{port}", mirrors=mirrors)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
