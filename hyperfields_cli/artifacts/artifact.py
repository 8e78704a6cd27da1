"""`Artifact`: a verified artifact folder on disk, and the functions that read and check one."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hyperfields_cli.artifacts.manifest import (
    CONFIG,
    MANIFEST,
    PICKLE_SUFFIXES,
    REQUIRED_FILES,
    WEIGHTS,
    Manifest,
    sha256_file,
)
from hyperfields_cli.errors import IntegrityError, NotFoundError


@dataclass(frozen=True)
class Artifact:
    """An artifact folder plus its parsed manifest. Build one via ArtifactStore or load_artifact."""

    path: Path
    manifest: Manifest

    @property
    def ref(self) -> str:
        """`name@version`."""
        return self.manifest.ref

    @property
    def kind(self) -> str:
        return self.manifest.kind

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def version(self) -> str:
        return self.manifest.version

    @property
    def sha256(self) -> str:
        """sha256 of model.safetensors: the artifact's identity (see manifest.py)."""
        return self.manifest.sha256

    @property
    def weights_path(self) -> Path:
        return self.path / WEIGHTS

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG

    def read_config(self) -> dict[str, Any]:
        """Parsed config.json (the architecture the weights belong to)."""
        return json.loads(self.config_path.read_text(encoding="utf-8"))

    def size_bytes(self) -> int:
        """Total size of the files the manifest lists (plus manifest.json)."""
        names = [*self.manifest.files, MANIFEST]
        return sum((self.path / n).stat().st_size for n in names if (self.path / n).is_file())

    def verify(self) -> None:
        """Re-hash every file; raise IntegrityError naming the first bad one."""
        verify_folder(self.path, self.manifest)


def read_manifest(folder: Path) -> Manifest:
    """Parse `folder/manifest.json`; turn every failure into a one-line user error."""
    path = folder / MANIFEST
    if not folder.is_dir():
        raise NotFoundError(f"no artifact folder at {folder}")
    if not path.is_file():
        raise NotFoundError(
            f"{folder} is not an artifact folder (no {MANIFEST})",
            hint="pass NAME@VERSION from `hyperfields list`, or a folder holding manifest.json",
        )
    try:
        return Manifest.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "manifest"
        raise IntegrityError(
            f"{path} is not a valid manifest: {where}: {first.get('msg', exc)}"
        ) from None


def verify_folder(folder: Path, manifest: Manifest) -> None:
    """Check that every file the manifest lists exists and matches its sha256.

    Files not listed in the manifest are ignored (they are never copied or pushed).
    """
    for name in REQUIRED_FILES:
        if name not in manifest.files:
            raise IntegrityError(f"{folder / MANIFEST} does not list {name}")
    for rel, expected in sorted(manifest.files.items()):
        path = folder / rel
        if rel.lower().endswith(PICKLE_SUFFIXES):
            raise IntegrityError(f"{path} is a pickle-format file; artifacts hold safetensors only")
        if not path.is_file():
            raise IntegrityError(
                f"{manifest.ref}: file {rel} is missing from {folder}",
                hint="the artifact is incomplete; pull or save it again",
            )
        actual = sha256_file(path)
        if actual != expected:
            raise IntegrityError(
                f"{manifest.ref}: {rel} is corrupted or was modified "
                f"(sha256 {actual[:12]}... != manifest {expected[:12]}...)",
                hint=f"delete {folder} and pull or save it again",
            )


def load_artifact(folder: Path, *, verify: bool = True) -> Artifact:
    """Read an artifact folder anywhere on disk, checking hashes unless `verify=False`."""
    folder = Path(folder).expanduser()
    manifest = read_manifest(folder)
    if verify:
        verify_folder(folder, manifest)
    return Artifact(path=folder.resolve(), manifest=manifest)
