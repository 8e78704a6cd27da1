"""Versioned, hash-checked artifacts (teachers, students, NeRFs) and their Hub sync.

Model code saves with `ArtifactStore().save(...)` and loads with `ArtifactStore().resolve(ref)`;
`hub` moves artifacts to and from a Hugging Face model repo (huggingface_hub is imported
lazily there, so importing this package stays cheap).
"""

from hyperfields_cli.artifacts.artifact import Artifact, load_artifact
from hyperfields_cli.artifacts.hub import (
    pull_artifact,
    pull_collection,
    push_artifact,
    push_to_git_remote,
)
from hyperfields_cli.artifacts.manifest import Manifest, ParentRef
from hyperfields_cli.artifacts.refs import DEFAULT_REPO, KINDS, Ref, default_repo, parse_ref
from hyperfields_cli.artifacts.store import ArtifactStore, default_home

__all__ = [
    "DEFAULT_REPO",
    "KINDS",
    "Artifact",
    "ArtifactStore",
    "Manifest",
    "ParentRef",
    "Ref",
    "default_home",
    "default_repo",
    "load_artifact",
    "parse_ref",
    "pull_artifact",
    "pull_collection",
    "push_artifact",
    "push_to_git_remote",
]
