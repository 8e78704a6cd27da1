"""Find the student a command should use: a store reference, a folder, or the built-in one."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from hyperfields_cli.artifacts import Artifact, ArtifactStore, load_artifact
from hyperfields_cli.errors import NotFoundError

BUILTIN_STUDENT = "builtin"


def builtin_student_dir() -> Path:
    return Path(str(resources.files("hyperfields_cli"))) / "assets" / "student"


def resolve_student(ref: str | None, store: ArtifactStore | None = None) -> Artifact:
    """`None`/"builtin" -> the student shipped in the package; else a store ref or a path."""
    if ref is None or ref == BUILTIN_STUDENT:
        folder = builtin_student_dir()
        if not (folder / "manifest.json").is_file():
            raise NotFoundError(
                "this installation has no built-in student",
                "run `hyperfields pull checkpoints` and pass --student NAME@VERSION",
            )
        return load_artifact(folder)
    return (store or ArtifactStore()).resolve(ref)
