"""Push an artifact to any git remote (a bare repo path, ssh or https URL) with the git CLI.

Same layout as the Hub (`<kind>/<name>/` on main, tag `<name>-<version>`), so a mirror of
that repo served by a Hub-compatible server (e.g. olah) can be pulled with `hyperfields pull`.
Files are committed as plain git blobs (no LFS); for huggingface.co use `push_artifact`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from hyperfields_cli.artifacts.artifact import Artifact
from hyperfields_cli.artifacts.manifest import MANIFEST
from hyperfields_cli.artifacts.refs import hub_tag, version_number
from hyperfields_cli.errors import UsageError, UserError

_BRANCH = "main"
_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:")


def _is_local(remote: str) -> bool:
    return "://" not in remote and not _SCP_LIKE.match(remote) and not remote.startswith("git@")


def _git(args: list[str], cwd: Path | None = None, timeout: float = 300) -> str:
    """Run git non-interactively; raise a one-line UserError on failure."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    try:
        proc = subprocess.run(
            ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
        )
    except FileNotFoundError:
        raise UserError("git is not installed", hint="install git, or push with --repo") from None
    except subprocess.TimeoutExpired:
        raise UserError(f"git {args[0]} timed out after {timeout:.0f}s") from None
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr or proc.stdout).strip().splitlines() if ln.strip()]
        detail = lines[-1] if lines else f"exit code {proc.returncode}"
        raise UserError(f"git {args[0]} failed: {detail}")
    return proc.stdout


def _ok(args: list[str], cwd: Path) -> bool:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    run = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, timeout=60)
    return run.returncode == 0


def _identity(cwd: Path) -> list[str]:
    """`-c user.name/email` defaults, only where the user has not configured git."""
    out = []
    if not _ok(["config", "user.name"], cwd):
        out += ["-c", "user.name=hyperfields"]
    if not _ok(["config", "user.email"], cwd):
        out += ["-c", "user.email=hyperfields@localhost"]
    return out


def _manifest_at(wc: Path, rev: str, folder: str) -> dict | None:
    if not _ok(["cat-file", "-e", f"{rev}:{folder}/{MANIFEST}"], wc):
        return None
    return json.loads(_git(["show", f"{rev}:{folder}/{MANIFEST}"], cwd=wc))


def push_to_git_remote(artifact: Artifact, remote: str | Path) -> str:
    """Commit `artifact` to `<kind>/<name>/` on main of `remote`, tag it, push both.

    A local path that does not exist yet becomes a new bare repo. Re-pushing identical
    content is a no-op; a tag with other content, or rolling main back, is refused.
    Returns the tag name.
    """
    remote = str(remote)
    m = artifact.manifest
    tag = hub_tag(m.name, m.version)
    folder = f"{m.kind}/{m.name}"
    artifact.verify()
    if _is_local(remote):
        path = Path(remote).expanduser()
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            _git(["init", "--quiet", "--bare", str(path)])
            _git(["symbolic-ref", "HEAD", f"refs/heads/{_BRANCH}"], cwd=path)
        remote = str(path.resolve())
    with tempfile.TemporaryDirectory(prefix="hyperfields-push-") as tmp:
        wc = Path(tmp) / "wc"
        _git(["clone", "--quiet", remote, str(wc)])
        if _ok(["rev-parse", "--verify", "-q", f"refs/remotes/origin/{_BRANCH}"], wc):
            _git(["checkout", "--quiet", "-B", _BRANCH, f"origin/{_BRANCH}"], cwd=wc)
        else:
            _git(["symbolic-ref", "HEAD", f"refs/heads/{_BRANCH}"], cwd=wc)
        if _ok(["rev-parse", "--verify", "-q", f"refs/tags/{tag}"], wc):
            tagged = _manifest_at(wc, tag, folder)
            if tagged is not None and tagged.get("files") == m.files:
                return tag
            raise UserError(
                f"{remote} already has tag {tag} with different content",
                hint="versions are immutable; save a new version and push that",
            )
        on_main = (
            _manifest_at(wc, "HEAD", folder)
            if _ok(["rev-parse", "--verify", "-q", "HEAD"], wc)
            else None
        )
        if on_main and version_number(on_main["version"]) > version_number(m.version):
            raise UsageError(
                f"{remote} main already holds {m.name}@{on_main['version']}; "
                f"pushing {m.ref} would roll it back",
                hint="push the newest version instead",
            )
        dest = wc / folder
        if dest.exists():
            shutil.rmtree(dest)
        for rel in [*m.files, MANIFEST]:
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(artifact.path / rel, dest / rel)
        ident = _identity(wc)
        _git(["add", "--all", "--", folder], cwd=wc)
        if not _ok(["diff", "--cached", "--quiet"], wc) or not _ok(
            ["rev-parse", "--verify", "-q", "HEAD"], wc
        ):
            message = f"Add {m.kind} {m.ref}\n\nsha256 of model.safetensors: {m.sha256}"
            _git([*ident, "commit", "--quiet", "-m", message], cwd=wc)
        _git([*ident, "tag", "-a", tag, "-m", f"{m.kind} {m.ref}"], cwd=wc)
        _git(["push", "--quiet", "origin", f"refs/heads/{_BRANCH}", f"refs/tags/{tag}"], cwd=wc)
    return tag
