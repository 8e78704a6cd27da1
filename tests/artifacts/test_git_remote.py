"""push_to_git_remote: layout, tags, idempotence, refusing to rewrite history."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from hyperfields_cli.artifacts import ArtifactStore
from hyperfields_cli.artifacts.git_remote import push_to_git_remote
from hyperfields_cli.errors import UsageError, UserError


def _git_out(repo: Path, *args: str) -> str:
    run = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return run.stdout


def _save(store: ArtifactStore, writer, seed: int, name: str = "bowls"):
    return store.save(
        "student", name, writer(seed), prompts=["p"], text_encoder="t", architecture={}
    )


def test_push_layout_tags_and_idempotence(tmp_path: Path, tiny_writer) -> None:
    store = ArtifactStore(tmp_path / "store")
    v1, v2 = _save(store, tiny_writer, 1), _save(store, tiny_writer, 2)
    remote = tmp_path / "remotes" / "repo.git"
    assert push_to_git_remote(v1, remote) == "bowls-v1"
    assert push_to_git_remote(v2, str(remote)) == "bowls-v2"
    assert _git_out(remote, "tag").split() == ["bowls-v1", "bowls-v2"]
    files = _git_out(remote, "ls-tree", "-r", "--name-only", "bowls-v1").split()
    assert sorted(files) == sorted(
        f"student/bowls/{f}" for f in [*v1.manifest.files, "manifest.json"]
    )
    on_main = json.loads(_git_out(remote, "show", "main:student/bowls/manifest.json"))
    assert on_main["version"] == "v2"
    blob = subprocess.run(
        ["git", "show", "bowls-v1:student/bowls/model.safetensors"], cwd=remote, capture_output=True
    ).stdout
    assert blob == (v1.path / "model.safetensors").read_bytes()

    head = _git_out(remote, "rev-parse", "main")
    assert push_to_git_remote(v2, remote) == "bowls-v2"  # same content: nothing pushed
    assert _git_out(remote, "rev-parse", "main") == head


def test_push_refuses_rollback_and_retagging(tmp_path: Path, tiny_writer) -> None:
    store = ArtifactStore(tmp_path / "store")
    v1, v2 = _save(store, tiny_writer, 1), _save(store, tiny_writer, 2)
    remote = tmp_path / "repo.git"
    push_to_git_remote(v2, remote)
    with pytest.raises(UsageError, match="roll it back"):
        push_to_git_remote(v1, remote)
    other = _save(ArtifactStore(tmp_path / "other"), tiny_writer, 3)  # a different bowls@v1
    remote2 = tmp_path / "repo2.git"
    push_to_git_remote(v1, remote2)
    with pytest.raises(UserError, match="already has tag bowls-v1 with different content"):
        push_to_git_remote(other, remote2)
    with pytest.raises(UserError, match="git clone failed"):
        push_to_git_remote(v1, "file:///nonexistent/repo.git")
