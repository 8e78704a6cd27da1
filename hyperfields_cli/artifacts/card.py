"""The README.md model card: Hub YAML front matter plus a human summary of the manifest.

The Hub reads the front matter for search and widgets (`library_name`, `pipeline_tag`,
`tags`, `base_model`); people read the body. YAML is written by hand with JSON-quoted
scalars (valid YAML) so we need no YAML dependency.
"""

from __future__ import annotations

import json
import re

from hyperfields_cli.artifacts.manifest import CARD, Manifest
from hyperfields_cli.artifacts.refs import default_repo

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_MAX_PROMPTS = 25

_KIND_BLURB = {
    "teacher": "a per-prompt-pack teacher hypernetwork trained with score distillation",
    "student": "a HyperFields hypernetwork distilled from teachers (text -> NeRF weights)",
    "nerf": "a single NeRF (radiance field) for one prompt",
}


def _q(value: str) -> str:
    """A YAML double-quoted scalar (JSON string syntax is a subset of it)."""
    return json.dumps(value, ensure_ascii=True)


def front_matter(manifest: Manifest) -> str:
    """The `---`-delimited YAML block the Hub parses."""
    tags = ["hyperfields", "nerf", "text-to-3d", "hypernetwork", manifest.kind]
    lines = [
        "---",
        "library_name: hyperfields",
        "pipeline_tag: text-to-3d",
        "license: apache-2.0",
        "tags:",
        *[f"- {_q(tag)}" for tag in dict.fromkeys(tags)],
    ]
    if _HUB_ID.match(manifest.text_encoder):
        # The text encoder is the only Hub model this artifact builds on directly.
        lines.append(f"base_model: {_q(manifest.text_encoder)}")
    lines.append("---")
    return "\n".join(lines) + "\n"


def _table(rows: list[tuple[str, str]]) -> list[str]:
    out = ["| | |", "|---|---|"]
    for key, value in rows:
        cell = value.replace("|", "\\|").replace("\n", " ")
        out.append(f"| {key} | {cell} |")
    return out


def render_card(manifest: Manifest, repo_id: str | None = None) -> str:
    """Full README.md text for an artifact (its own file hash is added to files afterwards)."""
    m = manifest
    repo_id = repo_id or default_repo()
    body = [
        f"# {m.kind} `{m.ref}`",
        "",
        f"A HyperFields artifact: {_KIND_BLURB[m.kind]}. "
        "Weights are in `model.safetensors`, the architecture in `config.json`, and the full "
        "provenance (prompts, parents, command, sha256 of every file) in `manifest.json`.",
        "",
        "## Use",
        "",
        "```bash",
        f"hyperfields pull {m.ref} --repo {repo_id}",
        f"hyperfields show {m.ref}",
        "```",
        "",
        "## Summary",
        "",
        *_table(
            [
                ("kind", m.kind),
                ("version", m.version),
                ("text encoder", f"`{m.text_encoder}`"),
                ("prompts", str(len(m.prompts))),
                ("created (UTC)", m.created_at.isoformat()),
                ("model.safetensors sha256", f"`{m.sha256 or '-'}`"),
                ("hyperfields", m.hyperfields_version),
            ]
        ),
    ]
    if m.notes:
        body += ["", f"Notes: {m.notes}"]
    if m.prompts:
        body += ["", "## Prompts", ""]
        body += [f"- {p}" for p in m.prompts[:_MAX_PROMPTS]]
        if len(m.prompts) > _MAX_PROMPTS:
            body.append(f"- ... and {len(m.prompts) - _MAX_PROMPTS} more (see manifest.json)")
    if m.parents:
        body += ["", "## Lineage", ""]
        body += [f"- {p.kind} `{p.ref}` (sha256 `{p.sha256[:16]}...`)" for p in m.parents]
    if m.metrics:
        body += ["", "## Metrics", "", *_table([(k, str(v)) for k, v in m.metrics.items()])]
    if m.command:
        body += ["", "## Produced by", "", "```bash", m.command, "```"]
    files = {k: v for k, v in m.files.items() if k != CARD}
    if files:
        body += ["", "## Files (sha256)", ""]
        body += [f"- `{name}`: `{digest}`" for name, digest in sorted(files.items())]
    return front_matter(m) + "\n" + "\n".join(body) + "\n"
