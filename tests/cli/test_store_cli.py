"""`hyperfields list/show/pull/push`: output, exit codes, one-line errors."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from _cli_run import cli, one_error

from hyperfields_cli.artifacts import ArtifactStore

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(hyperfields_home: Path, monkeypatch: pytest.MonkeyPatch, tiny_writer) -> ArtifactStore:
    """A store with teacher pack-a@v1 and student bowls@v1 (its child)."""
    monkeypatch.setenv("COLUMNS", "200")
    s = ArtifactStore()
    teacher = s.save(
        "teacher",
        "pack-a",
        tiny_writer(1),
        prompts=["a bowl", "a [red] cup"],
        text_encoder="enc",
        architecture={"width": 4},
    )
    s.save(
        "student",
        "bowls",
        tiny_writer(2),
        prompts=["a bowl"],
        text_encoder="enc",
        architecture={"width": 4},
        parents=[teacher],
        metrics={"loss": 0.5},
        notes="tiny",
    )
    return s


def test_list(store: ArtifactStore, capsys) -> None:
    code, out, _ = cli(capsys, "list")
    assert code == 0
    assert "pack-a" in out and "bowls" in out and "teacher" in out and "v1" in out
    code, out, _ = cli(capsys, "list", "--kind", "student")
    assert code == 0 and "bowls" in out and "pack-a" not in out
    code, _, err = cli(capsys, "list", "--kind", "dragon")
    assert code == 2 and "unknown artifact kind" in one_error(err)


def test_list_empty(hyperfields_home: Path, capsys) -> None:
    code, out, _ = cli(capsys, "list")
    assert code == 0 and "No artifacts" in out and "hyperfields pull checkpoints" in out


def test_show_manifest_and_lineage(store: ArtifactStore, capsys) -> None:
    code, out, err = cli(capsys, "show", "bowls@v1")
    assert code == 0, err
    art = store.resolve("bowls@v1")
    assert art.sha256 in out and "verified" in out and "loss=0.5" in out and "tiny" in out
    assert "teacher pack-a@v1" in out and "in store" in out
    code, out, err = cli(capsys, "show", "pack-a")
    assert code == 0 and "a [red] cup" in out and "(no parents)" in out


def test_show_builtin_is_the_packaged_student(hyperfields_home: Path, capsys) -> None:
    code, out, err = cli(capsys, "show", "builtin")
    assert code == 0, err
    assert "student builtin@" in out and "verified" in out and "assets" in out


def test_show_corrupted_artifact_is_one_clear_line(store: ArtifactStore, capsys) -> None:
    weights = store.resolve("bowls@v1").path / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[20] ^= 0x01
    weights.write_bytes(bytes(data))
    code, _, err = cli(capsys, "show", "bowls@v1")
    assert code == 1
    assert "model.safetensors" in one_error(err) and "corrupted" in err


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["show", "bowls@1"], 2, "malformed version"),
        (["show", "Bowls@v1"], 2, "malformed reference"),
        (["show", "../../etc@v1"], 1, "no artifact folder"),
        (["show", "bowl"], 1, "did you mean bowls"),
        (["show", "bowls@v3"], 1, "available: v1"),
        (["pull", "bowls@v1", "--revision", "main"], 2, "--revision only applies"),
        (["pull", "bowls@v1", "--repo", "not a repo"], 2, "invalid Hub repo id"),
        (["push", "bowls@v1", "--repo", "a/b", "--git-remote", "/tmp/x"], 2, "not both"),
        (["push", "nothere@v1", "--git-remote", "/tmp/x"], 1, "hyperfields list"),
    ],
)
def test_bad_input_exit_codes(store, capsys, args: list[str], code: int, needle: str) -> None:
    got, _, err = cli(capsys, *args)
    assert got == code, err
    assert needle in err
    one_error(err)


def test_push_to_git_remote(store: ArtifactStore, capsys, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    code, out, err = cli(capsys, "push", "bowls@v1", "--git-remote", str(remote))
    assert code == 0, err
    assert "tag bowls-v1" in out
    tags = subprocess.run(["git", "tag"], cwd=remote, capture_output=True, text=True).stdout
    assert tags.split() == ["bowls-v1"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("target", ["bowls@v1", "checkpoints"])
def test_dead_hf_endpoint_is_one_clear_line(tmp_path: Path, target: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_HUB_CACHE")}
    env |= {
        "HF_ENDPOINT": f"http://127.0.0.1:{_closed_port()}",
        "HF_HOME": str(tmp_path / "hf"),
        "HYPERFIELDS_HOME": str(tmp_path / "store"),
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")]),
        "COLUMNS": "200",
    }
    run = subprocess.run(
        [sys.executable, "-m", "hyperfields_cli", "pull", target, "--repo", "org/repo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1, run.stderr
    line = one_error(run.stderr)
    assert "cannot reach http://127.0.0.1:" in line and "org/repo" in line
    assert "HF_ENDPOINT" in run.stderr


def test_help_texts_have_examples(capsys) -> None:
    for cmd in ("list", "show", "pull", "push"):
        code, out, _ = cli(capsys, cmd, "--help")
        assert code == 0 and "Example" in out, cmd


def test_push_to_dead_hf_endpoint(store, capsys, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    code, _, err = cli(capsys, "push", "bowls@v1", "--repo", "org/repo", "--token", "hf_x")
    assert code == 1 and "cannot reach the Hub at http://127.0.0.1:" in one_error(err)
