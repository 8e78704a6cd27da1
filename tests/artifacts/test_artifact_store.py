"""ArtifactStore: layout, versions, manifests, model cards, integrity, refs, import."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import pytest
from safetensors.torch import load_file

from hyperfields_cli.artifacts import ArtifactStore, Manifest, ParentRef, load_artifact
from hyperfields_cli.errors import IntegrityError, NotFoundError, UsageError

ENC = "sentence-transformers/all-MiniLM-L6-v2"


def _save(store: ArtifactStore, writer, kind="student", name="bowls", seed=0, **kw):
    kw.setdefault("prompts", ["a wooden bowl", "a glass bowl"])
    return store.save(kind, name, writer(seed), text_encoder=ENC, architecture={"width": 4}, **kw)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_save_layout_manifest_and_card(hyperfields_home: Path, tiny_writer) -> None:
    store = ArtifactStore()
    assert store.root == hyperfields_home
    teacher = _save(store, tiny_writer, kind="teacher", name="pack-a", seed=1)
    art = _save(
        store,
        tiny_writer,
        parents=[teacher],
        command="hyperfields distill --pack bowls",
        config={"lr": 1e-4},
        metrics={"loss": 0.25, "steps": 3, "device": "cpu"},
        notes="trained on CPU in 1 s",
    )
    folder = hyperfields_home / "student" / "bowls" / "v1"
    assert art.path == folder.resolve() and art.ref == "bowls@v1"
    names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert names == [
        "README.md",
        "config.json",
        "manifest.json",
        "model.safetensors",
        "samples/view0.png",
    ]
    assert load_file(folder / "model.safetensors")["w"].tolist() == [0.0, 1.0, 2.0, 3.0]

    m = Manifest.model_validate_json((folder / "manifest.json").read_text())
    assert m == art.manifest
    assert set(m.files) == set(names) - {"manifest.json"}
    assert all(m.files[n] == _sha(folder / n) for n in m.files)
    assert m.sha256 == _sha(folder / "model.safetensors") == art.sha256
    assert json.loads((folder / "manifest.json").read_text())["sha256"] == m.sha256
    assert m.parents == [ParentRef(ref="pack-a@v1", kind="teacher", sha256=teacher.sha256)]
    assert m.metrics == {"loss": 0.25, "steps": 3.0, "device": "cpu"}
    assert m.config == {"lr": 1e-4} and m.command.startswith("hyperfields distill")
    assert m.created_at.utcoffset().total_seconds() == 0
    assert re.search(r'"created_at": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"', m.to_json())

    card = (folder / "README.md").read_text()
    front = card.split("---")[1]
    assert "library_name: hyperfields" in front and "pipeline_tag: text-to-3d" in front
    assert f'base_model: "{ENC}"' in front and '- "student"' in front
    assert "pack-a@v1" in card and m.sha256 in card and "a glass bowl" in card


def test_versions_increment_and_never_overwrite(hyperfields_home: Path, tiny_writer) -> None:
    store = ArtifactStore()
    v1 = _save(store, tiny_writer, seed=1)
    before = {p: p.read_bytes() for p in v1.path.rglob("*") if p.is_file()}
    v2 = _save(store, tiny_writer, seed=2)
    assert (v1.version, v2.version) == ("v1", "v2")
    assert store.versions("student", "bowls") == ["v1", "v2"]
    assert {p: p.read_bytes() for p in v1.path.rglob("*") if p.is_file()} == before
    assert v1.sha256 != v2.sha256
    assert not any((hyperfields_home / ".tmp").iterdir())


def test_resolve_ref_forms(hyperfields_home: Path, tiny_writer) -> None:
    store = ArtifactStore()
    _save(store, tiny_writer, seed=1)
    _save(store, tiny_writer, seed=2)
    assert store.resolve("bowls").version == "v2"
    assert store.resolve("bowls@latest").version == "v2"
    assert store.resolve("bowls@v1").version == "v1"
    assert store.resolve("bowls@v1", kind="student").version == "v1"
    by_path = store.resolve(str(hyperfields_home / "student" / "bowls" / "v1"))
    assert by_path.ref == "bowls@v1"
    assert [a.ref for a in store.list()] == ["bowls@v1", "bowls@v2"]
    _save(store, tiny_writer, kind="nerf", name="bowls", seed=3)
    with pytest.raises(UsageError, match="exists as student and nerf"):
        store.resolve("bowls")
    assert store.resolve("bowls", kind="nerf").kind == "nerf"
    assert [a.kind for a in store.list("nerf")] == ["nerf"]


@pytest.mark.parametrize(
    "ref", ["bowls@1", "bowls@v0", "bowls@", "Bowls", "a@b@c", "", "bo wls", "-x", "bowls@v1x"]
)
def test_malformed_refs_are_usage_errors(hyperfields_home: Path, ref: str) -> None:
    with pytest.raises(UsageError):
        ArtifactStore().resolve(ref)


def test_unknown_refs_name_close_matches(hyperfields_home: Path, tiny_writer) -> None:
    store = ArtifactStore()
    _save(store, tiny_writer)
    with pytest.raises(NotFoundError) as exc:
        store.resolve("bowl@v1")
    assert "did you mean bowls" in str(exc.value) and "hyperfields list" in str(exc.value)
    with pytest.raises(NotFoundError, match="available: v1"):
        store.resolve("bowls@v7")
    with pytest.raises(NotFoundError, match="not an artifact folder"):
        store.resolve(str(hyperfields_home))
    with pytest.raises(UsageError):
        store.resolve("bowls", kind="dragon")


@pytest.mark.parametrize("name", ["../evil", "..", "a/b", "/abs", "UPPER", "", "a..b", "x" * 65])
def test_bad_names_never_touch_disk(tmp_path: Path, tiny_writer, name: str) -> None:
    store = ArtifactStore(tmp_path / "store")
    with pytest.raises(UsageError):
        _save(store, tiny_writer, name=name)
    with pytest.raises(UsageError):
        _save(store, tiny_writer, kind="../teacher")
    assert sorted(p.name for p in tmp_path.iterdir()) in ([], ["store"])
    assert not list(tmp_path.rglob("manifest.json"))


def test_flipped_byte_is_refused_naming_the_file(hyperfields_home: Path, tiny_writer) -> None:
    store = ArtifactStore()
    art = _save(store, tiny_writer)
    weights = art.path / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01
    weights.write_bytes(bytes(data))
    with pytest.raises(IntegrityError) as exc:
        store.resolve("bowls@v1")
    assert "model.safetensors" in str(exc.value) and "bowls@v1" in str(exc.value)
    assert store.resolve("bowls@v1", verify=False).ref == "bowls@v1"
    (art.path / "samples" / "view0.png").unlink()
    weights.write_bytes(bytes(data[:-1]) + bytes([data[-1] ^ 0x01]))
    with pytest.raises(IntegrityError, match="samples/view0.png is missing"):
        store.resolve("bowls@v1")


def test_writer_failures_leave_nothing_behind(tmp_path: Path, tiny_writer) -> None:
    store = ArtifactStore(tmp_path)

    def no_weights(d: Path) -> None:
        (d / "config.json").write_text("{}")

    def pickle_weights(d: Path) -> None:
        tiny_writer(0)(d)
        (d / "extra.pt").write_bytes(b"\x80\x04")

    def not_safetensors(d: Path) -> None:
        (d / "config.json").write_text("{}")
        (d / "model.safetensors").write_bytes(b"\x80\x04\x95 pickle bytes")

    def interrupted(d: Path) -> None:
        raise KeyboardInterrupt

    for bad in (no_weights, pickle_weights, not_safetensors):
        with pytest.raises(ValueError):
            store.save("nerf", "x", bad, prompts=["p"], text_encoder=ENC, architecture={})
    with pytest.raises(KeyboardInterrupt):
        store.save("nerf", "x", interrupted, prompts=["p"], text_encoder=ENC, architecture={})
    with pytest.raises(TypeError):
        store.save("nerf", "x", tiny_writer(0), prompts="p", text_encoder=ENC, architecture={})
    assert store.versions("nerf", "x") == []
    assert not any((tmp_path / ".tmp").iterdir())


def test_import_folder_is_idempotent_and_refuses_conflicts(tmp_path: Path, tiny_writer) -> None:
    src, dst = ArtifactStore(tmp_path / "a"), ArtifactStore(tmp_path / "b")
    art = _save(src, tiny_writer, seed=1)
    (art.path / "stray.txt").write_text("not in the manifest")
    copied = dst.import_folder(art.path)
    assert copied.ref == "bowls@v1" and copied.path.parent.parent.parent == dst.root.resolve()
    assert not (copied.path / "stray.txt").exists()
    for rel in [*art.manifest.files, "manifest.json"]:
        assert (copied.path / rel).read_bytes() == (art.path / rel).read_bytes()
    assert dst.import_folder(art.path).path == copied.path  # same hashes: no-op

    other = _save(ArtifactStore(tmp_path / "c"), tiny_writer, seed=2)  # also bowls@v1
    with pytest.raises(IntegrityError, match="already exists .* different content"):
        dst.import_folder(other.path)
    assert dst.resolve("bowls@v1").sha256 == art.sha256

    (other.path / "config.json").write_text('{"tampered": true}')
    with pytest.raises(IntegrityError, match="config.json"):
        ArtifactStore(tmp_path / "d").import_folder(other.path)
    assert _save(dst, tiny_writer, seed=3).version == "v2"


def test_manifest_rejects_unsafe_paths_and_ignores_unknown_keys(tmp_path: Path) -> None:
    base = dict(
        kind="nerf", name="n", version="v1", prompts=["p"], text_encoder="t", architecture={}
    )
    with pytest.raises(ValueError):
        Manifest.model_validate({**base, "files": {"../escape": "0" * 64}})
    with pytest.raises(ValueError):
        Manifest.model_validate({**base, "name": "../x"})
    with pytest.raises(ValueError):
        ParentRef(ref="x@latest", kind="teacher", sha256="0")
    m = Manifest.model_validate({**base, "future_field": 1, "sha256": "ignored"})
    assert m.sha256 == "" and m.metrics == {}


def test_load_artifact_from_anywhere(tmp_path: Path, tiny_writer) -> None:
    art = _save(ArtifactStore(tmp_path), tiny_writer)
    loaded = load_artifact(art.path)
    assert loaded == art and loaded.read_config()["width"] == 4
    assert loaded.size_bytes() > 0


def test_path_refs_check_kind_and_bad_metadata_fails_early(tmp_path: Path, tiny_writer) -> None:
    store = ArtifactStore(tmp_path)
    art = _save(store, tiny_writer)
    with pytest.raises(UsageError, match="holds a student, not a teacher"):
        store.resolve(art.path, kind="teacher")
    calls = []

    def write(d: Path) -> None:
        calls.append(d)
        tiny_writer(0)(d)

    with pytest.raises(ValueError):
        store.save(
            "nerf", "x", write, prompts=["p"], text_encoder="t", architecture={"f": object()}
        )
    assert calls == []


def test_stale_staging_folders_are_swept(tmp_path: Path, tiny_writer) -> None:
    store = ArtifactStore(tmp_path)
    stale = tmp_path / ".tmp" / "student-bowls-dead"
    stale.mkdir(parents=True)
    (stale / "model.safetensors").write_bytes(b"x" * 10)
    os.utime(stale, (0, 0))
    fresh = tmp_path / ".tmp" / "student-bowls-running"
    fresh.mkdir()
    _save(store, tiny_writer)
    assert not stale.exists() and fresh.exists()
