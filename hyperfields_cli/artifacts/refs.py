"""Names, kinds and references (`name@v3`, `name@latest`, `name`, or a folder path).

Validation lives here so that every entry point (store, Hub, CLI) rejects the same inputs,
and a name can never escape the store root (no `..`, `/`, absolute paths).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from hyperfields_cli.errors import UsageError

KINDS: tuple[str, ...] = ("teacher", "student", "nerf")
"""Artifact kinds, also the top-level folders of the store and of a Hub collection repo."""

DEFAULT_REPO = "hyperfields/checkpoints"
"""Hub model repo used when neither --repo nor $HYPERFIELDS_HUB_REPO is given."""

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
VERSION_RE = re.compile(r"^v([1-9][0-9]{0,8})$")
REPO_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")

_NAME_HINT = "names are 1-64 chars of a-z 0-9 . _ - starting with a letter or digit, e.g. bowls"


def validate_kind(kind: str) -> str:
    """Return `kind` if it is one of KINDS, else raise UsageError."""
    if kind not in KINDS:
        raise UsageError(f"unknown artifact kind {kind!r}", hint=f"use one of {', '.join(KINDS)}")
    return kind


def validate_name(name: str) -> str:
    """Return `name` if it is a safe artifact name (no traversal, no separators)."""
    if not isinstance(name, str) or not NAME_RE.match(name) or ".." in name:
        raise UsageError(f"invalid artifact name {name!r}", hint=_NAME_HINT)
    return name


def validate_version(version: str) -> str:
    """Return `version` if it looks like `v1`, `v2`, ..."""
    if not isinstance(version, str) or not VERSION_RE.match(version):
        raise UsageError(f"invalid version {version!r}", hint="versions look like v1, v2, ...")
    return version


def validate_repo_id(repo_id: str) -> str:
    """Return `repo_id` if it looks like `org/name` (what the Hub accepts)."""
    if not isinstance(repo_id, str) or not REPO_ID_RE.match(repo_id) or ".." in repo_id:
        raise UsageError(
            f"invalid Hub repo id {repo_id!r}", hint="use ORG/NAME, e.g. hyperfields/checkpoints"
        )
    return repo_id


def default_repo() -> str:
    """`$HYPERFIELDS_HUB_REPO`, else DEFAULT_REPO."""
    return os.environ.get("HYPERFIELDS_HUB_REPO", "").strip() or DEFAULT_REPO


def version_number(version: str) -> int:
    """`"v12"` -> 12."""
    return int(validate_version(version)[1:])


def format_version(number: int) -> str:
    """12 -> `"v12"`."""
    return f"v{int(number)}"


def hub_tag(name: str, version: str) -> str:
    """The git tag that marks one version on the Hub: `bowls-v1`."""
    return f"{validate_name(name)}-{validate_version(version)}"


@dataclass(frozen=True)
class Ref:
    """A parsed `name[@version]`; `version` is None for latest."""

    name: str
    version: str | None = None

    def __str__(self) -> str:
        return f"{self.name}@{self.version or 'latest'}"


def looks_like_path(ref: str) -> bool:
    """True when `ref` should be read as a folder path rather than `name@version`.

    Names cannot contain separators or start with `.`/`~`, so these forms are unambiguous.
    """
    seps = {"/", os.sep} | ({os.altsep} if os.altsep else set())
    return any(s in ref for s in seps) or ref.startswith((".", "~")) or Path(ref).is_absolute()


def parse_ref(ref: str) -> Ref:
    """Parse `name`, `name@latest` or `name@vN`; raise UsageError for anything else."""
    if not isinstance(ref, str) or not ref.strip():
        raise UsageError("empty artifact reference", hint="use NAME@VERSION, e.g. bowls@v1")
    ref = ref.strip()
    name, sep, version = ref.partition("@")
    if sep and "@" in version:
        raise UsageError(f"malformed reference {ref!r}", hint="use NAME@VERSION, e.g. bowls@v1")
    if not NAME_RE.match(name) or ".." in name:
        raise UsageError(f"malformed reference {ref!r}: {_NAME_HINT}", hint="e.g. bowls@v1")
    if not sep or version == "latest":
        return Ref(name)
    if not VERSION_RE.match(version):
        raise UsageError(
            f"malformed version {version!r} in {ref!r}",
            hint="use NAME@vN or NAME@latest, e.g. bowls@v2",
        )
    return Ref(name, version)
