"""Hub sync against a real server: push with git, serve with olah, pull with the real CLI."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from _cli_run import cli

from hyperfields_cli.artifacts import ArtifactStore, pull_artifact, pull_collection
from hyperfields_cli.artifacts.git_remote import push_to_git_remote
from hyperfields_cli.errors import NotFoundError

ENC = "sentence-transformers/all-MiniLM-L6-v2"


def _git(cwd: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def published(olah_server, tmp_path_factory: pytest.TempPathFactory, tiny_writer):
    """org/repo: teacher pack-a@v1, student bowls@v1 (child of pack-a) and bowls@v2.

    org/tampered: evil@v1 whose weights were changed after the manifest was written.
    """
    store = ArtifactStore(tmp_path_factory.mktemp("source-store"))

    def save(kind, name, seed, parents=()):
        return store.save(
            kind,
            name,
            tiny_writer(seed),
            prompts=[f"prompt {seed}"],
            text_encoder=ENC,
            architecture={"width": 4},
            parents=parents,
            command=f"test save {seed}",
        )

    teacher = save("teacher", "pack-a", 1)
    v1 = save("student", "bowls", 2, parents=[teacher])
    v2 = save("student", "bowls", 3, parents=[teacher])
    repo = olah_server.repo_path("org/repo")
    for art in (teacher, v1, v2):
        assert push_to_git_remote(art, repo) == f"{art.name}-{art.version}"

    evil = save("student", "evil", 4)
    bad_repo = olah_server.repo_path("org/tampered")
    push_to_git_remote(evil, bad_repo)
    wc = tmp_path_factory.mktemp("tamper") / "wc"
    _git(wc.parent, "clone", "-q", str(bad_repo), str(wc))
    weights = wc / "student" / "evil" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    _git(wc, "commit", "-qam", "tamper")
    _git(wc, "tag", "-f", "evil-v1")
    _git(wc, "push", "-q", "--force", "origin", "main", "refs/tags/evil-v1")
    return SimpleNamespace(store=store, teacher=teacher, v1=v1, v2=v2, repo="org/repo")


@pytest.fixture
def hub_env(olah_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """HF_ENDPOINT -> olah, a private HF cache, an empty store, wide console output."""
    for var in ("HF_HUB_OFFLINE", "HF_HUB_CACHE", "HF_TOKEN", "HYPERFIELDS_HUB_REPO"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", olah_server.endpoint)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HYPERFIELDS_HOME", str(tmp_path / "store"))
    monkeypatch.setenv("COLUMNS", "200")
    return SimpleNamespace(store=ArtifactStore(tmp_path / "store"), tmp=tmp_path)


def test_pull_tag_into_empty_store_is_byte_identical(published, hub_env, capsys) -> None:
    code, out, err = cli(capsys, "pull", "bowls@v1", "--repo", "org/repo")
    assert code == 0, err
    assert "bowls@v1" in out
    pulled = hub_env.store.resolve("bowls@v1")
    original = published.v1
    assert pulled.manifest == original.manifest and pulled.sha256 == original.sha256
    for rel in [*original.manifest.files, "manifest.json"]:
        assert (pulled.path / rel).read_bytes() == (original.path / rel).read_bytes(), rel
    assert hub_env.store.versions("student", "bowls") == ["v1"]  # only that tag's folder
    assert hub_env.store.list("teacher") == []

    code, out, err = cli(capsys, "show", "bowls@v1")
    assert code == 0, err
    assert original.sha256 in out and "verified" in out
    assert "pack-a@v1" in out and "not in the local store" in out


def test_pull_latest_and_whole_collection(published, hub_env, capsys) -> None:
    code, out, err = cli(capsys, "pull", "bowls", "--repo", "org/repo")
    assert code == 0, err
    assert hub_env.store.resolve("bowls").sha256 == published.v2.sha256

    code, out, err = cli(capsys, "pull", "checkpoints", "--repo", "org/repo")
    assert code == 0, err
    assert "pack-a" in out and "bowls" in out
    assert [a.ref for a in hub_env.store.list()] == ["pack-a@v1", "bowls@v2"]
    assert cli(capsys, "pull", "checkpoints", "--repo", "org/repo")[0] == 0  # no-op re-pull

    code, out, err = cli(capsys, "show", "bowls@v2")
    assert code == 0, err
    assert "pack-a@v1" in out and "in store" in out and "not in the local store" not in out


def test_python_api_pull(published, hub_env) -> None:
    arts = pull_collection("org/repo", revision="bowls-v1", store=hub_env.store)
    assert sorted(a.ref for a in arts) == ["bowls@v1", "pack-a@v1"]
    art = pull_artifact("pack-a@v1", "org/repo", hub_env.store, kind="teacher")
    assert art.sha256 == published.teacher.sha256
    with pytest.raises(NotFoundError, match="no artifact named 'bowls'"):
        pull_artifact("bowls@v1", "org/repo", hub_env.store, kind="nerf")


def test_missing_version_lists_hub_versions(published, hub_env, capsys) -> None:
    code, out, err = cli(capsys, "pull", "bowls@v9", "--repo", "org/repo")
    assert code == 1
    assert "no bowls@v9" in err and "v1, v2" in err and "Traceback" not in err
    code, _, err = cli(capsys, "pull", "bowls@v1", "--repo", "org/nothing-here")
    assert code == 1 and "org/nothing-here" in err


def test_tampered_download_is_refused(published, hub_env, capsys) -> None:
    code, out, err = cli(capsys, "pull", "evil@v1", "--repo", "org/tampered")
    assert code == 1
    assert "model.safetensors" in err and "corrupted" in err and "Traceback" not in err
    assert hub_env.store.list() == []


def test_offline_pull_uses_the_hf_cache(published, hub_env, capsys, monkeypatch) -> None:
    assert cli(capsys, "pull", "bowls@v1", "--repo", "org/repo")[0] == 0
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HYPERFIELDS_HOME", str(hub_env.tmp / "store2"))
    code, out, err = cli(capsys, "pull", "bowls@v1", "--repo", "org/repo")
    assert code == 0, err
    assert ArtifactStore(hub_env.tmp / "store2").resolve("bowls@v1").sha256 == published.v1.sha256

    monkeypatch.setenv("HF_HOME", str(hub_env.tmp / "empty-hf"))
    code, out, err = cli(capsys, "pull", "bowls@v1", "--repo", "org/repo")
    assert code == 1
    assert "HF_HUB_OFFLINE" in err and "not in the local Hugging Face cache" in err


def test_pull_refuses_to_overwrite_a_different_local_version(
    published, hub_env, capsys, tiny_writer
) -> None:
    hub_env.store.save(
        "student", "bowls", tiny_writer(99), prompts=["mine"], text_encoder=ENC, architecture={}
    )
    code, out, err = cli(capsys, "pull", "bowls@v1", "--repo", "org/repo")
    assert code == 1 and "already exists" in err and "different content" in err
    assert hub_env.store.resolve("bowls@v1").manifest.prompts == ["mine"]


def test_push_errors_are_one_clear_line(published, hub_env, capsys, monkeypatch) -> None:
    hub_env.store.import_folder(published.v1.path)
    code, _, err = cli(capsys, "push", "bowls@v1", "--repo", "org/repo", "--token", "hf_x")
    assert code == 1 and "refused" in err and "Traceback" not in err  # olah is read-only
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, _, err = cli(capsys, "push", "bowls@v1", "--repo", "org/repo")
    assert code == 1 and "HF_HUB_OFFLINE" in err
