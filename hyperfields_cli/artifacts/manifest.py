"""The manifest: what an artifact is, where it came from, and the sha256 of every file.

`manifest.json` is the single source of truth for an artifact folder; the folder is valid
only if every file it lists hashes to the recorded digest. The artifact's identity
(`Manifest.sha256`) is the sha256 of `model.safetensors`: it is what `sha256sum` prints
and what the Hub shows as the LFS oid, so anyone can check it without our code.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator

from hyperfields_cli import __version__
from hyperfields_cli.artifacts.refs import validate_name, validate_version
from hyperfields_cli.errors import UsageError

MANIFEST = "manifest.json"
CONFIG = "config.json"
WEIGHTS = "model.safetensors"
CARD = "README.md"
REQUIRED_FILES = (CONFIG, WEIGHTS)

# Formats that can execute code when loaded; never allowed inside an artifact.
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib")

_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, streamed so multi-GB weights do not load into memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def artifact_files(folder: Path) -> list[str]:
    """Every file under `folder` as sorted posix relative paths, except manifest.json."""
    out = []
    for path in folder.rglob("*"):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and rel != MANIFEST:
            out.append(rel)
    return sorted(out)


def hash_folder(folder: Path) -> dict[str, str]:
    """`{relative path: sha256}` for every file under `folder` except manifest.json."""
    return {rel: sha256_file(folder / rel) for rel in artifact_files(folder)}


def check_safetensors(path: Path) -> None:
    """Raise ValueError unless `path` starts with a readable safetensors header.

    Cheap (reads the header only) and catches writers that saved a pickle under the name.
    """
    with open(path, "rb") as fh:
        raw = fh.read(8)
        if len(raw) != 8:
            raise ValueError(f"{path.name} is not a safetensors file (too short)")
        (size,) = struct.unpack("<Q", raw)
        if size <= 0 or size > 100 * 1024 * 1024:
            raise ValueError(f"{path.name} is not a safetensors file (bad header size)")
        try:
            header = json.loads(fh.read(size))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path.name} is not a safetensors file ({exc})") from exc
    if not isinstance(header, dict):
        raise ValueError(f"{path.name} is not a safetensors file (header is not a mapping)")


def utc_now() -> datetime:
    """Current UTC time, second resolution (manifests are for humans too)."""
    return datetime.now(UTC).replace(microsecond=0)


def _as_value_error(check: Callable[[str], str], value: str) -> str:
    """Run a refs validator inside pydantic, which only collects ValueError."""
    try:
        return check(value)
    except UsageError as exc:
        raise ValueError(exc.message) from None


class ParentRef(BaseModel):
    """An artifact this one was made from (a teacher of a student, a student of a NeRF)."""

    model_config = ConfigDict(extra="ignore")

    ref: str = Field(description="name@version of the parent")
    kind: Literal["teacher", "student", "nerf"]
    sha256: str = Field(description="the parent's Manifest.sha256 (its model.safetensors)")

    @field_validator("ref")
    @classmethod
    def _check_ref(cls, value: str) -> str:
        name, _, version = value.partition("@")
        _as_value_error(validate_name, name)
        _as_value_error(validate_version, version)
        return value

    @property
    def name(self) -> str:
        return self.ref.partition("@")[0]

    @property
    def version(self) -> str:
        return self.ref.partition("@")[2]


class Manifest(BaseModel):
    """Contents of manifest.json. Unknown keys are ignored so newer manifests still load."""

    model_config = ConfigDict(extra="ignore")

    schema_version: int = 1
    kind: Literal["teacher", "student", "nerf"]
    name: str
    version: str
    prompts: list[str]
    text_encoder: str = Field(description="id of the text encoder the model was conditioned on")
    architecture: dict[str, Any] = Field(description="enough to rebuild the module")
    parents: list[ParentRef] = Field(default_factory=list)
    command: str = Field("", description="the command line that produced the artifact")
    config: dict[str, Any] = Field(default_factory=dict, description="settings that made it")
    metrics: dict[str, float | str] = Field(default_factory=dict)
    notes: str = ""
    created_at: datetime = Field(default_factory=utc_now)
    hyperfields_version: str = __version__
    files: dict[str, str] = Field(
        default_factory=dict, description="sha256 of every file in the folder but manifest.json"
    )

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        return _as_value_error(validate_name, value)

    @field_validator("version")
    @classmethod
    def _check_version(cls, value: str) -> str:
        return _as_value_error(validate_version, value)

    @field_validator("files")
    @classmethod
    def _check_files(cls, value: dict[str, str]) -> dict[str, str]:
        for rel in value:
            parts = rel.split("/")
            if rel.startswith("/") or "\\" in rel or any(p in ("", ".", "..") for p in parts):
                raise ValueError(f"unsafe file path in manifest: {rel!r}")
        return value

    @computed_field  # type: ignore[prop-decorator]
    @property
    def sha256(self) -> str:
        """Identity of the artifact: sha256 of model.safetensors ("" before it is hashed)."""
        return self.files.get(WEIGHTS, "")

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def to_json(self) -> str:
        """Stable, human-readable JSON (sorted file list, 2-space indent)."""
        data = self.model_dump(mode="json")
        data["files"] = dict(sorted(data["files"].items()))
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        """Load `folder/manifest.json` (raises OSError / pydantic.ValidationError)."""
        return cls.model_validate_json((folder / MANIFEST).read_bytes())
