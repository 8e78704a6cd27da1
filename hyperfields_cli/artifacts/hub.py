"""Hub sync: pull artifacts from, and push them to, a Hugging Face model repo.

Repo layout: `<kind>/<name>/` folders holding artifact files; `main` holds the latest
version of each; every version is also a git tag `<name>-<version>` (e.g. `bowls-v1`).
Downloads go through `snapshot_download` (its cache, `HF_ENDPOINT`, `HF_HUB_OFFLINE`,
`HF_TOKEN` all apply), are sha256-checked against the manifest, then copied into the store.
Hub settings are read from the environment at call time, not at import time, so a changed
`HF_ENDPOINT`/`HF_HOME` is honoured even after huggingface_hub was imported.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hyperfields_cli.artifacts.artifact import Artifact, read_manifest
from hyperfields_cli.artifacts.git_remote import push_to_git_remote
from hyperfields_cli.artifacts.manifest import MANIFEST, Manifest
from hyperfields_cli.artifacts.refs import (
    KINDS,
    VERSION_RE,
    default_repo,
    hub_tag,
    parse_ref,
    validate_kind,
    validate_repo_id,
    version_number,
)
from hyperfields_cli.artifacts.store import ArtifactStore
from hyperfields_cli.errors import IntegrityError, NotFoundError, UsageError, UserError

__all__ = [
    "pull_artifact",
    "pull_collection",
    "push_artifact",
    "push_to_git_remote",
    "hub_settings",
]

_TRUE = {"1", "true", "yes", "on"}
_NET_MODULES = {"httpx", "httpx2", "httpcore", "requests", "urllib3", "ssl", "socket"}


@dataclass(frozen=True)
class HubSettings:
    """What huggingface_hub will talk to, read from the environment now."""

    endpoint: str | None
    cache_dir: str | None
    offline: bool

    @property
    def shown_endpoint(self) -> str:
        return self.endpoint or "https://huggingface.co"


def hub_settings() -> HubSettings:
    """`HF_ENDPOINT`, `HF_HUB_CACHE`/`HF_HOME`, `HF_HUB_OFFLINE` as they are right now."""
    endpoint = os.environ.get("HF_ENDPOINT", "").strip().rstrip("/") or None
    cache = os.environ.get("HF_HUB_CACHE", "").strip()
    if not cache and os.environ.get("HF_HOME", "").strip():
        cache = str(Path(os.environ["HF_HOME"]).expanduser() / "hub")
    offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE
    return HubSettings(endpoint=endpoint, cache_dir=cache or None, offline=offline)


@contextmanager
def _hub_errors(repo_id: str, revision: str | None) -> Iterator[None]:
    """Turn huggingface_hub / network exceptions into one-line user errors."""
    from huggingface_hub.utils import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        HFValidationError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    s = hub_settings()
    at = f"{repo_id}@{revision or 'main'}"
    unreachable_hint = (
        f"check your network and HF_ENDPOINT (now {s.shown_endpoint}); with HF_HUB_OFFLINE=1 "
        "only things pulled before are available"
    )
    try:
        yield
    except (OfflineModeIsEnabled, LocalEntryNotFoundError):
        why = "HF_HUB_OFFLINE is set" if s.offline else f"cannot reach {s.shown_endpoint}"
        hint = (
            f"unset HF_HUB_OFFLINE and pull once while online ({s.shown_endpoint})"
            if s.offline
            else unreachable_hint
        )
        raise UserError(
            f"{why} and {at} is not in the local Hugging Face cache", hint=hint
        ) from None
    except RevisionNotFoundError:
        raise NotFoundError(f"{repo_id} has no revision {revision!r}") from None
    except (RepositoryNotFoundError, GatedRepoError):
        raise NotFoundError(
            f"Hub repo {at} not found at {s.shown_endpoint}, or you lack access to it",
            hint="check --repo / HYPERFIELDS_HUB_REPO; for a private repo set HF_TOKEN "
            "or run `hf auth login`",
        ) from None
    except EntryNotFoundError as exc:
        raise NotFoundError(f"{at}: {str(exc).splitlines()[0]}") from None
    except HFValidationError as exc:
        raise UsageError(f"invalid Hub request for {at}: {str(exc).splitlines()[0]}") from None
    except HfHubHTTPError as exc:
        raise UserError(
            f"the Hub refused the request for {at}: {str(exc).splitlines()[0]}",
            hint=f"HF_ENDPOINT is {s.shown_endpoint}; for private repos and pushes check your "
            "token (--token, HF_TOKEN or `hf auth login`)",
        ) from None
    except Exception as exc:
        if type(exc).__module__.split(".")[0] in _NET_MODULES or isinstance(exc, ConnectionError):
            raise UserError(
                f"cannot reach the Hub at {s.shown_endpoint} ({type(exc).__name__}: {exc})",
                hint=unreachable_hint,
            ) from None
        raise


def _download(repo_id: str, revision: str | None, patterns: list[str], token: str | None) -> Path:
    from huggingface_hub import snapshot_download

    s = hub_settings()
    with _hub_errors(repo_id, revision):
        path = snapshot_download(
            repo_id,
            repo_type="model",
            revision=revision,
            allow_patterns=patterns,
            cache_dir=s.cache_dir,
            endpoint=s.endpoint,
            local_files_only=s.offline,
            token=token,
        )
    return Path(path)


def _import_checked(
    store: ArtifactStore, folder: Path, kind: str, name: str, version: str | None
) -> Artifact:
    """Import a downloaded folder after checking it is what its location claims."""
    m = read_manifest(folder)
    if (m.kind, m.name) != (kind, name) or (version and m.version != version):
        want = f"{kind} {name}@{version or m.version}"
        raise IntegrityError(f"{folder} holds {m.kind} {m.ref}, expected {want}")
    return store.import_folder(folder)


def pull_collection(
    repo_id: str | None = None,
    revision: str | None = None,
    store: ArtifactStore | None = None,
    *,
    token: str | None = None,
) -> list[Artifact]:
    """Download every artifact in `repo_id` at `revision` (default main) into the store."""
    repo_id = validate_repo_id(repo_id or default_repo())
    store = store or ArtifactStore()
    snap = _download(repo_id, revision, [f"{k}/*" for k in KINDS], token)
    pulled = []
    for kind in KINDS:
        for manifest_path in sorted((snap / kind).glob(f"*/{MANIFEST}")):
            folder = manifest_path.parent
            pulled.append(_import_checked(store, folder, kind, folder.name, None))
    if not pulled:
        raise NotFoundError(
            f"{repo_id}@{revision or 'main'} holds no hyperfields artifacts",
            hint="artifacts live in <kind>/<name>/ folders with a manifest.json",
        )
    return pulled


def _missing_version(repo_id: str, name: str, version: str, token: str | None) -> UserError:
    """Say which versions do exist when a tag is missing (or the repo itself is)."""
    from huggingface_hub import HfApi

    s = hub_settings()
    with _hub_errors(repo_id, None):
        refs = HfApi(endpoint=s.endpoint, token=token).list_repo_refs(repo_id)
    prefix = f"{name}-"
    tails = [t.name[len(prefix) :] for t in refs.tags if t.name.startswith(prefix)]
    found = sorted((v for v in tails if VERSION_RE.match(v)), key=version_number)
    hint = f"versions on the Hub: {', '.join(found)}" if found else f"{name} has no tags there"
    return NotFoundError(f"{repo_id} has no {name}@{version} (no tag {name}-{version})", hint=hint)


def pull_artifact(
    ref: str,
    repo_id: str | None = None,
    store: ArtifactStore | None = None,
    *,
    kind: str | None = None,
    token: str | None = None,
) -> Artifact:
    """Download one artifact (`name@vN` via its tag, or `name` = latest on main).

    Only `<kind>/<name>/` is fetched. The result is verified and imported into the store.
    """
    parsed = parse_ref(ref)
    repo_id = validate_repo_id(repo_id or default_repo())
    store = store or ArtifactStore()
    kinds = [validate_kind(kind)] if kind else list(KINDS)
    revision = hub_tag(parsed.name, parsed.version) if parsed.version else "main"
    patterns = [f"{k}/{parsed.name}/*" for k in kinds]
    try:
        snap = _download(repo_id, revision, patterns, token)
    except NotFoundError:
        if parsed.version is None or hub_settings().offline:
            raise
        raise _missing_version(repo_id, parsed.name, parsed.version, token) from None
    found = [k for k in kinds if (snap / k / parsed.name / MANIFEST).is_file()]
    if not found:
        raise NotFoundError(
            f"{repo_id}@{revision} has no artifact named {parsed.name!r}",
            hint=f"run `hyperfields pull checkpoints --repo {repo_id}` to fetch everything",
        )
    if len(found) > 1:
        raise UsageError(
            f"{parsed.name!r} exists as {' and '.join(found)} in {repo_id}",
            hint=f"pass --kind, e.g. --kind {found[0]}",
        )
    folder = snap / found[0] / parsed.name
    return _import_checked(store, folder, found[0], parsed.name, parsed.version)


def _remote_manifest(api: object, repo_id: str, revision: str, kind: str, name: str):
    """The manifest at `revision` for kind/name on the Hub, or None if absent."""
    from huggingface_hub.utils import EntryNotFoundError, LocalEntryNotFoundError

    try:
        path = api.hf_hub_download(  # type: ignore[attr-defined]
            repo_id,
            f"{kind}/{name}/{MANIFEST}",
            revision=revision,
            cache_dir=hub_settings().cache_dir,
        )
    except LocalEntryNotFoundError:
        raise
    except EntryNotFoundError:
        return None
    return Manifest.model_validate_json(Path(path).read_bytes())


def push_artifact(
    artifact: Artifact,
    repo_id: str | None = None,
    token: str | None = None,
    *,
    private: bool | None = None,
) -> str:
    """Upload `artifact` to `<kind>/<name>/` on the Hub's main and tag it `<name>-<version>`.

    Refuses to move main back to an older version, and to retag a version with different
    content; re-pushing identical content is a no-op. Returns the tag's URL.
    """
    from huggingface_hub import HfApi

    repo_id = validate_repo_id(repo_id or default_repo())
    s = hub_settings()
    if s.offline:
        raise UserError("cannot push while HF_HUB_OFFLINE is set", hint="unset HF_HUB_OFFLINE")
    artifact.verify()
    m = artifact.manifest
    tag = hub_tag(m.name, m.version)
    url = f"{s.shown_endpoint}/{repo_id}/tree/{tag}"
    api = HfApi(endpoint=s.endpoint, token=token)
    with _hub_errors(repo_id, "main"):
        api.create_repo(repo_id, repo_type="model", exist_ok=True, private=private)
        tags = {t.name for t in api.list_repo_refs(repo_id).tags}
        if tag in tags:
            remote = _remote_manifest(api, repo_id, tag, m.kind, m.name)
            if remote is not None and remote.files == m.files:
                return url
            raise UserError(
                f"{repo_id} already has tag {tag} with different content",
                hint="versions are immutable; save a new version and push that",
            )
        on_main = _remote_manifest(api, repo_id, "main", m.kind, m.name)
        if on_main is not None and version_number(on_main.version) > version_number(m.version):
            raise UsageError(
                f"{repo_id} main already holds {on_main.ref}; pushing {m.ref} would roll it back",
                hint="push the newest version, or use --git-remote for archival copies",
            )
        info = api.upload_folder(
            repo_id=repo_id,
            repo_type="model",
            folder_path=str(artifact.path),
            path_in_repo=f"{m.kind}/{m.name}",
            allow_patterns=[*m.files, MANIFEST],
            delete_patterns=["*"],  # drop stale files of the previous version in that folder
            commit_message=f"Add {m.kind} {m.ref}",
            commit_description=f"sha256 of model.safetensors: {m.sha256}",
        )
        api.create_tag(repo_id, tag=tag, revision=info.oid, tag_message=f"{m.kind} {m.ref}")
    return url
