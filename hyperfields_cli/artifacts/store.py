"""The local artifact store: `$HYPERFIELDS_HOME/<kind>/<name>/v<N>/`.

A version folder appears in one atomic rename, complete with manifest.json, or not at all;
it is never overwritten. Saving writes into `<root>/.tmp/` (same filesystem as the store),
then takes a per-name OS lock only for the short "pick next version + rename" step, so two
processes saving the same name get distinct versions.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from hyperfields_cli.artifacts.artifact import Artifact, load_artifact, read_manifest, verify_folder
from hyperfields_cli.artifacts.card import render_card
from hyperfields_cli.artifacts.locks import file_lock
from hyperfields_cli.artifacts.manifest import (
    CARD,
    MANIFEST,
    PICKLE_SUFFIXES,
    REQUIRED_FILES,
    WEIGHTS,
    Manifest,
    ParentRef,
    check_safetensors,
    hash_folder,
    sha256_file,
    utc_now,
)
from hyperfields_cli.artifacts.refs import (
    KINDS,
    NAME_RE,
    format_version,
    looks_like_path,
    parse_ref,
    validate_kind,
    validate_name,
    version_number,
)
from hyperfields_cli.errors import IntegrityError, NotFoundError, UsageError

_VERSION_DIR = re.compile(r"^v([1-9][0-9]*)$")
_STALE_TMP_SECONDS = 2 * 24 * 3600


def default_home() -> Path:
    """`$HYPERFIELDS_HOME`, else `~/.cache/hyperfields`."""
    env = os.environ.get("HYPERFIELDS_HOME", "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "hyperfields"


def _plain(value: Mapping[str, Any] | BaseModel | None) -> dict[str, Any]:
    """Accept dicts or pydantic configs from model code; store JSON-able dicts."""
    if value is None:
        return {}
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return dict(value)


def _parent(p: Artifact | ParentRef | Mapping[str, Any]) -> ParentRef:
    if isinstance(p, Artifact):
        return ParentRef(ref=p.ref, kind=p.kind, sha256=p.sha256)  # type: ignore[arg-type]
    if isinstance(p, ParentRef):
        return p
    return ParentRef.model_validate(dict(p))


def _check_written(folder: Path) -> None:
    """Refuse what `write` produced unless it is a loadable, pickle-free artifact."""
    for name in REQUIRED_FILES:
        if not (folder / name).is_file():
            raise ValueError(f"the artifact writer did not create {name}")
    for name in (MANIFEST, CARD):
        if (folder / name).exists():
            raise ValueError(f"the artifact writer must not create {name}; the store writes it")
    for path in folder.rglob("*"):
        if path.is_symlink():
            raise ValueError(f"the artifact writer created a symlink ({path.name}); copy files")
        if path.name.lower().endswith(PICKLE_SUFFIXES):
            raise ValueError(f"{path.name}: pickle formats are not allowed; use safetensors")
    check_safetensors(folder / WEIGHTS)


class ArtifactStore:
    """Versioned artifacts under one root folder (default `default_home()`)."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_home()

    def __repr__(self) -> str:
        return f"ArtifactStore({str(self.root)!r})"

    # ----------------------------------------------------------------- layout helpers
    def _tmp_dir(self, prefix: str) -> Path:
        """A fresh staging folder; also sweeps ones left by runs killed days ago."""
        base = self.root / ".tmp"
        base.mkdir(parents=True, exist_ok=True)
        cutoff = time.time() - _STALE_TMP_SECONDS
        for old in base.iterdir():
            with contextlib.suppress(OSError):
                if old.stat().st_mtime < cutoff:
                    shutil.rmtree(old, ignore_errors=True)
        return Path(tempfile.mkdtemp(prefix=prefix, dir=base))

    def _lock(self, kind: str, name: str):  # noqa: ANN202 - a context manager
        return file_lock(self.root / ".locks" / f"{kind}--{name}.lock")

    def folder(self, kind: str, name: str, version: str) -> Path:
        """Where `kind/name/version` lives (whether or not it exists)."""
        return self.root / validate_kind(kind) / validate_name(name) / version

    def versions(self, kind: str, name: str) -> list[str]:
        """Existing versions of `kind/name`, oldest first (`["v1", "v2"]`)."""
        base = self.root / validate_kind(kind) / validate_name(name)
        if not base.is_dir():
            return []
        found = [d.name for d in base.iterdir() if d.is_dir() and _VERSION_DIR.match(d.name)]
        return sorted(found, key=version_number)

    def names(self, kind: str | None = None) -> list[tuple[str, str]]:
        """`(kind, name)` pairs that have at least one folder in the store."""
        out = []
        for k in [validate_kind(kind)] if kind else KINDS:
            base = self.root / k
            if base.is_dir():
                dirs = sorted(d.name for d in base.iterdir() if d.is_dir())
                out += [(k, n) for n in dirs if NAME_RE.match(n) and ".." not in n]
        return out

    # ----------------------------------------------------------------- save
    def save(
        self,
        kind: str,
        name: str,
        write: Callable[[Path], None],
        *,
        prompts: Sequence[str],
        text_encoder: str,
        architecture: Mapping[str, Any] | BaseModel,
        parents: Iterable[Artifact | ParentRef | Mapping[str, Any]] = (),
        command: str = "",
        config: Mapping[str, Any] | BaseModel | None = None,
        metrics: Mapping[str, float | str] | None = None,
        notes: str = "",
        repo_id: str | None = None,
    ) -> Artifact:
        """Save a new version of `kind/name` and return it.

        `write(tmpdir)` must create `config.json` and `model.safetensors` (and may add
        files such as `samples/*.png`); everything it writes is hashed into the manifest.
        `repo_id` only changes the pull command shown in the model card (default:
        `$HYPERFIELDS_HUB_REPO` or hyperfields/checkpoints).
        """
        validate_kind(kind)
        validate_name(name)
        if isinstance(prompts, str):
            raise TypeError("prompts must be a list of strings, not one string")
        base = dict(
            kind=kind,
            name=name,
            prompts=[str(p) for p in prompts],
            text_encoder=text_encoder,
            architecture=_plain(architecture),
            parents=[_parent(p) for p in parents],
            command=command,
            config=_plain(config),
            metrics=dict(metrics or {}),
            notes=notes,
            created_at=utc_now(),
        )
        # Fail on bad metadata (e.g. a tensor in `config`) before any work is done.
        Manifest.model_validate({**base, "version": "v1"}).to_json()
        tmp = self._tmp_dir(f"{kind}-{name}-")
        try:
            write(tmp)
            _check_written(tmp)
            files = hash_folder(tmp)
            with self._lock(kind, name):
                existing = self.versions(kind, name)
                version = format_version(version_number(existing[-1]) + 1 if existing else 1)
                manifest = Manifest.model_validate({**base, "version": version, "files": files})
                card = render_card(manifest, repo_id)
                (tmp / CARD).write_text(card, encoding="utf-8")
                manifest.files[CARD] = sha256_file(tmp / CARD)
                (tmp / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
                final = self.folder(kind, name, version)
                final.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(tmp, 0o755)
                os.rename(tmp, final)  # atomic; fails rather than replace a non-empty folder
            return Artifact(path=final.resolve(), manifest=manifest)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    # ----------------------------------------------------------------- read
    def resolve(self, ref: str | Path, kind: str | None = None, *, verify: bool = True) -> Artifact:
        """Find an artifact by `name@vN`, `name@latest`, `name`, or folder path.

        Hashes are checked unless `verify=False`; raises IntegrityError, NotFoundError,
        or UsageError (malformed ref / ambiguous name across kinds).
        """
        if isinstance(ref, Path) or looks_like_path(ref):
            artifact = load_artifact(Path(ref), verify=verify)
            if kind is not None and artifact.kind != validate_kind(kind):
                raise UsageError(f"{ref} holds a {artifact.kind}, not a {kind}")
            return artifact
        parsed = parse_ref(ref)
        if kind is not None:
            validate_kind(kind)
        kinds = [k for k in ([kind] if kind else KINDS) if self.versions(k, parsed.name)]
        if not kinds:
            raise self._not_found(parsed.name, kind)
        if len(kinds) > 1:
            raise UsageError(
                f"{parsed.name!r} exists as {' and '.join(kinds)}",
                hint=f"pass --kind, e.g. --kind {kinds[0]}",
            )
        versions = self.versions(kinds[0], parsed.name)
        version = parsed.version or versions[-1]
        if version not in versions:
            raise NotFoundError(
                f"{parsed.name} has no version {version} in {self.root}",
                hint=f"available: {', '.join(versions)}",
            )
        folder = self.folder(kinds[0], parsed.name, version)
        artifact = load_artifact(folder, verify=verify)
        m = artifact.manifest
        if (m.kind, m.name, m.version) != (kinds[0], parsed.name, version):
            raise IntegrityError(f"{folder} holds {m.kind} {m.ref}, not what its path says")
        return artifact

    def _not_found(self, name: str, kind: str | None) -> NotFoundError:
        known = sorted({n for _, n in self.names(kind)})
        close = difflib.get_close_matches(name, known, n=3)
        where = f"{kind} " if kind else ""
        hint = f"did you mean {', '.join(close)}? " if close else ""
        hint += "run `hyperfields list` to see the store, or `hyperfields pull` to fetch one"
        return NotFoundError(f"no {where}artifact named {name!r} in {self.root}", hint=hint)

    def list(self, kind: str | None = None) -> list[Artifact]:
        """All artifacts (unverified, fast), sorted by kind, name, version.

        Folders whose manifest cannot be read are skipped; `resolve` reports why.
        """
        out = []
        for k, name in self.names(kind):
            for version in self.versions(k, name):
                try:
                    manifest = read_manifest(self.folder(k, name, version))
                except (NotFoundError, IntegrityError):
                    continue
                out.append(
                    Artifact(path=self.folder(k, name, version).resolve(), manifest=manifest)
                )
        return out

    # ----------------------------------------------------------------- import
    def import_folder(self, path: Path | str) -> Artifact:
        """Copy a verified artifact folder (e.g. a Hub download) into the store.

        It lands at its manifest's kind/name/version. Importing the same content twice is a
        no-op; a different artifact already at that version is an error, never overwritten.
        """
        source = load_artifact(Path(path), verify=True)
        m = source.manifest
        final = self.folder(m.kind, m.name, m.version)
        if final.resolve() == source.path:
            return source
        with self._lock(m.kind, m.name):
            if final.exists():
                return self._same_or_conflict(final, m)
            tmp = self._tmp_dir(f"{m.kind}-{m.name}-import-")
            try:
                for rel in [*m.files, MANIFEST]:
                    dest = tmp / rel
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source.path / rel, dest)  # follows HF-cache symlinks
                verify_folder(tmp, m)  # the source could change while we copied it
                final.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(tmp, 0o755)
                os.rename(tmp, final)
            finally:
                if tmp.exists():
                    shutil.rmtree(tmp, ignore_errors=True)
        return Artifact(path=final.resolve(), manifest=m)

    def _same_or_conflict(self, final: Path, incoming: Manifest) -> Artifact:
        local = load_artifact(final, verify=True)
        if local.manifest.files == incoming.files:
            return local
        raise IntegrityError(
            f"{incoming.ref} already exists in the store ({final}) with different content "
            f"(local sha256 {local.sha256[:12]}..., incoming {incoming.sha256[:12]}...)",
            hint="versions are never overwritten; delete the local folder if you want theirs",
        )
