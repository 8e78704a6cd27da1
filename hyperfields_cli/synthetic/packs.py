"""Prompt packs: named lists of prompts (TOML), each optionally tied to its procedural scene.

A pack file looks like::

    name = "bowls"
    description = "Teacher pack: five bowls"
    split = "train"          # train | zero_shot | ood | custom

    [[prompts]]
    text = "a red bowl"
    shape = "bowl"           # optional, together with attribute
    attribute = "red"

`prompts = ["a red bowl", "a wooden bowl"]` (plain strings, no scenes) works too. Built-in packs
ship in the wheel as `hyperfields_cli/_prompts/`; in a source checkout they are `<repo>/prompts/`.
Errors name the file and line so a user's own pack is quick to fix.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hyperfields_cli.errors import NotFoundError, UsageError
from hyperfields_cli.synthetic.scene import SceneSpec, match_prompt

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

PackSplit = Literal["train", "zero_shot", "ood", "custom"]


class PromptEntry(BaseModel):
    """One prompt and, when it names a procedural scene, that scene (the ground truth)."""

    model_config = ConfigDict(frozen=True)

    text: str = Field(min_length=1)
    scene: SceneSpec | None = None

    def scene_or_match(self) -> SceneSpec | None:
        """The declared scene, else one recognised in the text ("a gold blender")."""
        return self.scene if self.scene is not None else match_prompt(self.text)


class PromptPack(BaseModel):
    """A named list of prompts with the split it belongs to."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = ""
    split: PackSplit = "custom"
    prompts: list[PromptEntry] = Field(min_length=1)

    @property
    def texts(self) -> list[str]:
        return [p.text for p in self.prompts]

    def scenes(self) -> list[SceneSpec]:
        """Distinct declared scenes, in prompt order."""
        seen: dict[SceneSpec, None] = {}
        for p in self.prompts:
            if p.scene is not None:
                seen.setdefault(p.scene, None)
        return list(seen)


def builtin_dir() -> Path:
    """Folder of the built-in packs: inside the installed wheel, else the repo's prompts/."""
    try:
        shipped = resources.files("hyperfields_cli") / "_prompts"
        if shipped.is_dir():
            return Path(str(shipped))
    except (ModuleNotFoundError, TypeError):  # pragma: no cover - unusual loaders
        pass
    return Path(__file__).resolve().parents[2] / "prompts"


def available_packs() -> list[str]:
    """Names of the built-in packs (file stems), sorted."""
    folder = builtin_dir()
    return sorted(p.stem for p in folder.glob("*.toml")) if folder.is_dir() else []


def load_pack(name_or_path: str | Path) -> PromptPack:
    """A built-in pack by name, or a pack file by path.

    Raises NotFoundError for an unknown name (listing the available ones) or a missing file,
    UsageError with `file:line` for malformed TOML or invalid entries.
    """
    ref = str(name_or_path)
    names = available_packs()
    if ref in names:
        return _load_file(builtin_dir() / f"{ref}.toml")
    path = Path(ref).expanduser()
    if path.is_file():
        return _load_file(path)
    if ref.endswith(".toml") or "/" in ref or "\\" in ref:
        raise NotFoundError(f"prompt pack file not found: {path}")
    raise NotFoundError(
        f"unknown prompt pack {ref!r}",
        hint=f"available: {', '.join(names) or '(none)'}; or pass a path to a .toml file",
    )


def _load_file(path: Path) -> PromptPack:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read prompt pack: {exc}") from exc
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"at line (\d+)", msg)
        line = getattr(exc, "lineno", None) or (int(m.group(1)) if m else None)
        if line is None:  # "(at end of document)": the problem is the last line
            line = max(1, len(text.splitlines()))
        reason = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", msg)
        raise UsageError(f"{path}:{line}: invalid TOML: {reason}") from exc
    raw.setdefault("name", re.sub(r"[^A-Za-z0-9_.\-]+", "-", path.stem) or "pack")
    try:
        if "prompts" in raw:
            raw["prompts"] = _entries(raw["prompts"], path, text)
        return PromptPack.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        where = ".".join(str(x) for x in loc) or "pack"
        more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
        msg = err["msg"].removeprefix("Value error, ")
        raise UsageError(f"{path}:{_line_of(text, loc, raw)}: {where}: {msg}{more}") from exc


def _entries(items: Any, path: Path, text: str) -> Any:
    """Raw TOML prompt items (strings or tables) -> PromptEntry dicts; bad keys fail with a line."""
    if not isinstance(items, list):
        return items  # let pydantic report the missing / wrong-typed field
    out: list[Any] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            out.append({"text": item} if isinstance(item, str) else item)
            continue
        extra = set(item) - {"text", "shape", "attribute"}
        has = [k for k in ("shape", "attribute") if k in item]
        problem, key = None, "text"
        if extra:
            key = sorted(extra)[0]
            problem = f"unknown key(s) {', '.join(sorted(extra))} (allowed: text, shape, attribute)"
        elif len(has) == 1:
            key = has[0]
            problem = "give both shape and attribute for a scene, or neither"
        if problem:
            line = _line_of(text, ("prompts", i, key), {"prompts": items})
            raise UsageError(f"{path}:{line}: prompts.{i}: {problem}")
        entry: dict[str, Any] = {"text": item.get("text")}
        if has:
            entry["scene"] = {"shape": item["shape"], "attribute": item["attribute"]}
        out.append(entry)
    return out


def _line_of(text: str, loc: tuple[Any, ...], raw: dict[str, Any]) -> int:
    """Best-effort 1-based line of the TOML element at pydantic location `loc`."""
    lines = text.splitlines()

    def key_line(key: str, start: int = 0, stop: int | None = None) -> int | None:
        pat = re.compile(rf"^\s*{re.escape(key)}\s*=")
        for j in range(start, len(lines) if stop is None else stop):
            if pat.match(lines[j]):
                return j + 1
        return None

    if not loc:
        return 1
    if loc[0] == "prompts" and len(loc) > 1 and isinstance(loc[1], int):
        headers = [j for j, s in enumerate(lines) if re.match(r"^\s*\[\[\s*prompts\s*\]\]", s)]
        i = loc[1]
        if i < len(headers):
            stop = headers[i + 1] if i + 1 < len(headers) else None
            key = str(loc[-1]) if len(loc) > 2 else "text"
            for k in ["shape", "attribute"] if key == "scene" else [key]:
                found = key_line(k, headers[i], stop)
                if found:
                    return found
            return headers[i] + 1
        items = raw.get("prompts") or []
        item = items[i] if i < len(items) else None
        needle = item.get("text") if isinstance(item, dict) else item
        if isinstance(needle, str) and needle:
            for j, s in enumerate(lines):
                if needle in s:
                    return j + 1
    return key_line(str(loc[0])) or 1
