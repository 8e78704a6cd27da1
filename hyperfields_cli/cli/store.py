"""Artifact commands: list, show, pull, push. Parsing and printing only; logic is in artifacts/."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from hyperfields_cli.artifacts import hub
from hyperfields_cli.artifacts.artifact import Artifact
from hyperfields_cli.artifacts.manifest import Manifest
from hyperfields_cli.artifacts.refs import DEFAULT_REPO, default_repo, validate_kind
from hyperfields_cli.artifacts.store import ArtifactStore
from hyperfields_cli.cli.app import app, console, err_console
from hyperfields_cli.errors import UsageError, UserError

_REPO_HELP = f"Hub model repo ORG/NAME (default: $HYPERFIELDS_HUB_REPO or {DEFAULT_REPO})."
_KIND_HELP = "Artifact kind: teacher, student or nerf (needed only if a name exists as several)."
_MAX_DEPTH = 8


def _kind(kind: str | None) -> str | None:
    return validate_kind(kind) if kind else None


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover


def _table(artifacts: list[Artifact], title: str | None = None) -> Table:
    table = Table(title=title, show_lines=False)
    for col in ("kind", "name", "version", "prompts", "size", "created (UTC)"):
        table.add_column(col, justify="right" if col in ("prompts", "size") else "left")
    for a in artifacts:
        m = a.manifest
        created = m.created_at.strftime("%Y-%m-%d %H:%M")
        table.add_row(
            m.kind, m.name, m.version, str(len(m.prompts)), _size(a.size_bytes()), created
        )
    return table


@contextmanager
def _downloading(what: str) -> Iterator[None]:
    """A rich spinner instead of huggingface_hub's per-file tqdm bars."""
    from huggingface_hub.utils import (
        are_progress_bars_disabled,
        disable_progress_bars,
        enable_progress_bars,
    )

    was_disabled = are_progress_bars_disabled()
    disable_progress_bars()
    try:
        with err_console.status(what):
            yield
    finally:
        if not was_disabled:
            enable_progress_bars()


@app.command("list")
def list_cmd(
    kind: str | None = typer.Option(None, "--kind", "-k", help=_KIND_HELP),
) -> None:
    """List artifacts in the local store ($HYPERFIELDS_HOME).

    Example: hyperfields list --kind student
    """
    store = ArtifactStore()
    artifacts = store.list(_kind(kind))
    if not artifacts:
        console.print(
            f"No artifacts in {store.root}. Fetch some with: hyperfields pull checkpoints",
            highlight=False,
        )
        return
    console.print(_table(artifacts, title=f"Artifacts in {store.root}"))


def _add_parents(node: Tree, manifest: Manifest, store: ArtifactStore, seen: set[str]) -> None:
    """Grow the lineage tree: each parent, resolved in the local store when present."""
    for p in manifest.parents:
        key = f"{p.kind}:{p.ref}"
        label = f"{p.kind} [bold]{p.ref}[/bold] [dim]{p.sha256[:12]}[/dim]"
        try:
            parent = store.resolve(p.ref, kind=p.kind, verify=False)
        except UserError:
            node.add(f"{label} [yellow](not in the local store)[/yellow]")
            continue
        if parent.sha256 != p.sha256:
            node.add(f"{label} [red](local copy differs: sha256 {parent.sha256[:12]})[/red]")
            continue
        child = node.add(f"{label} [green]in store[/green]")
        if key in seen or len(seen) >= _MAX_DEPTH * 8:
            continue
        _add_parents(child, parent.manifest, store, seen | {key})


def _resolve_shown(store: ArtifactStore, ref: str, kind: str | None) -> Artifact:
    """A store ref or folder; "builtin" is the packaged student unless the store has one."""
    from hyperfields_cli.pipelines.student import BUILTIN_STUDENT, resolve_student

    if ref == BUILTIN_STUDENT and kind in (None, "student") and not store.versions("student", ref):
        return resolve_student(ref)
    return store.resolve(ref, kind=kind)


@app.command("show")
def show_cmd(
    ref: str = typer.Argument(..., help="NAME@VERSION, NAME (latest) or a folder path."),
    kind: str | None = typer.Option(None, "--kind", "-k", help=_KIND_HELP),
) -> None:
    """Show an artifact's manifest, verify its files, and draw its lineage.

    Example: hyperfields show bowls@v1   (or: hyperfields show builtin)
    """
    store = ArtifactStore()
    art = _resolve_shown(store, ref, _kind(kind))  # verifies every sha256
    m = art.manifest
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold cyan")
    grid.add_column()
    rows: list[tuple[str, str]] = [
        ("artifact", f"{m.kind} {m.ref}"),
        ("path", str(art.path)),
        ("sha256", f"{m.sha256} (model.safetensors)"),
        ("integrity", f"[green]verified[/green] ({len(m.files)} files, {_size(art.size_bytes())})"),
        ("created", m.created_at.isoformat()),
        ("text encoder", m.text_encoder),
        (
            "prompts",
            f"{len(m.prompts)}: "
            + "; ".join(m.prompts[:5])
            + (" ..." if len(m.prompts) > 5 else ""),
        ),
        ("architecture", json.dumps(m.architecture, sort_keys=True)[:300]),
    ]
    if m.metrics:
        rows.append(("metrics", ", ".join(f"{k}={v}" for k, v in m.metrics.items())))
    if m.config:
        rows.append(("config", json.dumps(m.config, sort_keys=True)[:300]))
    if m.command:
        rows.append(("command", m.command))
    if m.notes:
        rows.append(("notes", m.notes))
    for key, value in rows:
        grid.add_row(key, value if key == "integrity" else escape(value))
    console.print(grid)
    tree = Tree(f"[bold]{m.kind} {m.ref}[/bold] [dim]{m.sha256[:12]}[/dim]")
    _add_parents(tree, m, store, {f"{m.kind}:{m.ref}"})
    console.print("lineage:" if m.parents else "lineage: (no parents)")
    console.print(tree)


@app.command("pull")
def pull_cmd(
    target: str = typer.Argument(
        ..., help="'checkpoints' for the whole collection, or NAME@VERSION / NAME (latest)."
    ),
    repo: str | None = typer.Option(None, "--repo", "-r", help=_REPO_HELP),
    revision: str | None = typer.Option(
        None, "--revision", help="Branch, tag or commit (only with 'checkpoints'; default main)."
    ),
    kind: str | None = typer.Option(None, "--kind", "-k", help=_KIND_HELP),
    token: str | None = typer.Option(None, "--token", help="Hub token (default: HF_TOKEN/login)."),
) -> None:
    """Download artifacts from the Hub into the local store, checking every sha256.

    Examples: hyperfields pull checkpoints --repo hyperfields/checkpoints;
    hyperfields pull bowls@v1
    """
    store = ArtifactStore()
    repo_id = repo or default_repo()
    if target == "checkpoints":
        with _downloading(f"Pulling {repo_id}@{revision or 'main'} ..."):
            pulled = hub.pull_collection(repo_id, revision, store, token=token)
        console.print(_table(pulled, title=f"Pulled from {repo_id} into {store.root}"))
        return
    if revision:
        raise UsageError("--revision only applies to 'pull checkpoints'", hint="use NAME@vN")
    with _downloading(f"Pulling {target} from {repo_id} ..."):
        art = hub.pull_artifact(target, repo_id, store, kind=_kind(kind), token=token)
    console.print(f"Pulled {art.kind} [bold]{art.ref}[/bold] into {art.path}", highlight=False)


@app.command("push")
def push_cmd(
    ref: str = typer.Argument(..., help="NAME@VERSION or NAME (latest) from the local store."),
    repo: str | None = typer.Option(None, "--repo", "-r", help=_REPO_HELP),
    git_remote: str | None = typer.Option(
        None, "--git-remote", help="Push with git to this URL or path instead of the Hub API."
    ),
    token: str | None = typer.Option(None, "--token", help="Hub token (default: HF_TOKEN/login)."),
    kind: str | None = typer.Option(None, "--kind", "-k", help=_KIND_HELP),
) -> None:
    """Upload an artifact to a Hub repo (folder KIND/NAME on main, tag NAME-VERSION).

    Examples: hyperfields push bowls@v1 --repo my-org/checkpoints;
    hyperfields push bowls@v1 --git-remote /srv/git/checkpoints.git
    """
    if repo and git_remote:
        raise UsageError("pass either --repo or --git-remote, not both")
    art = ArtifactStore().resolve(ref, kind=_kind(kind))
    if git_remote:
        with err_console.status(f"Pushing {art.ref} to {git_remote} ..."):
            tag = hub.push_to_git_remote(art, git_remote)
        console.print(f"Pushed {art.kind} {art.ref} to {git_remote} (tag {tag})", highlight=False)
        return
    repo_id = repo or default_repo()
    with err_console.status(f"Pushing {art.ref} to {repo_id} ..."):
        url = hub.push_artifact(art, repo_id, token=token)
    console.print(f"Pushed {art.kind} {art.ref}: {url}", highlight=False)
