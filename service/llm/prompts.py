"""Versioned prompt files: ``prompts/<task>/<version>.chat.md`` with TOML front matter.

Templates use explicit ``{{name}}`` placeholders, substituted in a single pass so a value that
itself contains ``{{...}}`` stays literal: documents are data, never template code.

Every file names its ``strategy`` (the algorithm the task runs with it) and optionally its
output ``schema``; both are checked when the files load against a ``PromptCatalog``, the table
of what the code offers (``service.tasks.registry`` builds it; this layer knows no task).
The strategy is not part of the rendered request (unlike ``params`` and ``schema``), so it is
not part of any cache key.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from service.config import Settings
from service.errors import ConfigError
from service.llm.profiles import Mode, Profile

Role = Literal["system", "user", "assistant"]

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
FILE_NAME = re.compile(r"^(v\d+)\.(chat)\.md$")
ROLE_HEADING = re.compile(r"^## (system|user|assistant)\s*$", re.MULTILINE)
KNOWN_KEYS = {"id", "version", "task", "mode", "strategy", "schema", "variables", "description",
              "params", "on_truncation"}  # fmt: skip
REQUIRED_KEYS = ("id", "version", "task", "mode", "strategy")
OnTruncation = Literal["grow", "fail"]


def delimit(text: str, tag: str = "document") -> str:
    """Wrap untrusted text in ``<tag id=…>…</tag>``, neutralising any closing tag inside it."""
    safe = re.sub(rf"<(\s*)/(\s*){tag}", rf"<\1\\/\2{tag}", text, flags=re.IGNORECASE)
    tag_id = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f'<{tag} id="{tag_id}">\n{safe}\n</{tag}>'


@dataclass(frozen=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True)
class PromptTemplate:
    path: Path
    id: str
    version: str
    task: str
    mode: Mode
    strategy: str  # the algorithm the task runs with this file (see PromptCatalog)
    schema: str | None
    variables: tuple[str, ...]
    description: str
    params: Mapping[str, Any]
    sha256: str
    sections: tuple[Message, ...] = ()
    # On finish_reason=length: "grow" retries once with a doubled budget; "fail" raises at
    # once (a one-line answer that ran past its sized budget is a runaway, not a long answer).
    on_truncation: OnTruncation = "grow"

    @property
    def version_number(self) -> int:
        return int(self.version[1:])

    def render_messages(self, variables: Mapping[str, object]) -> list[Message]:
        """The messages with placeholders filled."""
        return [Message(m.role, self._fill(m.content, variables)) for m in self.sections]

    def _fill(self, template: str, variables: Mapping[str, object]) -> str:
        missing = [v for v in self.variables if v not in variables]
        if missing:
            raise ConfigError(f"{self.path}: variables not provided: {', '.join(missing)}.")
        return PLACEHOLDER.sub(lambda m: _as_text(variables[m[1]]), template)


def _as_text(value: object) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


@dataclass(frozen=True)
class PromptCatalog:
    """What the code offers prompt files: output schemas by name, strategies by prompt task."""

    schemas: Mapping[str, type[BaseModel]] = field(default_factory=dict)
    strategies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # task -> allowed
    # The strategy a task's default version must declare when the profile names none, e.g.
    # chunk_json for translate: a newer per_unit file does not become every model's default.
    defaults: Mapping[str, str] = field(default_factory=dict)  # task -> default strategy

    def check(self, t: PromptTemplate) -> None:
        """The file's task, strategy and schema must be ones the code implements."""
        allowed = self.strategies.get(t.task)
        if allowed is None:
            known = ", ".join(sorted(self.strategies)) or "none"
            raise ConfigError(f"{t.path}: no task uses prompt task {t.task!r} (known: {known}).")
        if t.strategy not in allowed:
            raise ConfigError(
                f"{t.path}: strategy {t.strategy!r} is not one of {t.task}'s strategies: "
                f"{', '.join(allowed)}."
            )
        if t.schema is not None and t.schema not in self.schemas:
            known = ", ".join(sorted(self.schemas)) or "none"
            raise ConfigError(f"{t.path}: schema {t.schema!r} is not known (known: {known}).")


@dataclass
class PromptRegistry:
    """Every prompt file, loaded and checked once at start-up."""

    templates: dict[tuple[str, Mode, str], PromptTemplate] = field(default_factory=dict)
    active: Mapping[str, str] = field(default_factory=dict)  # READER_PROMPT_VERSIONS pins
    catalog: PromptCatalog = field(default_factory=PromptCatalog)
    # The strategy the model profile wants per (prompt task, its mode): the default version
    # is then the highest one with it (a pin still wins).
    wanted: Mapping[tuple[str, Mode], str] = field(default_factory=dict)

    @classmethod
    def load(
        cls,
        prompts_dir: Path,
        active: Mapping[str, str] | None = None,
        *,
        catalog: PromptCatalog,
        wanted: Mapping[tuple[str, Mode], str] | None = None,
    ) -> PromptRegistry:
        """Every ``<task>/v<N>.chat.md`` under ``prompts_dir``, checked against ``catalog``."""
        registry = cls(active=dict(active or {}), catalog=catalog, wanted=dict(wanted or {}))
        for path in sorted(prompts_dir.glob("*/*.chat.md")):
            t = parse_prompt_file(path)
            catalog.check(t)
            registry.templates[(t.task, t.mode, t.version)] = t
        registry._check_active()
        return registry

    def _check_active(self) -> None:
        for task, version in self.active.items():
            if not any(k[0] == task and k[2] == version for k in self.templates):
                raise ConfigError(
                    f"READER_PROMPT_VERSIONS sets {task}={version}, but no file "
                    f"prompts/{task}/{version}.chat.md exists."
                )

    def versions(self, task: str, mode: Mode) -> list[PromptTemplate]:
        found = [t for (tk, md, _), t in self.templates.items() if tk == task and md == mode]
        return sorted(found, key=lambda t: t.version_number)

    def get(self, task: str, mode: Mode, version: str | None = None) -> PromptTemplate:
        """The template for ``task`` in ``mode``: the given, configured, or default version."""
        candidates = self.versions(task, mode)
        if not candidates:
            raise ConfigError(
                f"No {mode} prompt for task {task!r}: add prompts/{task}/v1.{mode}.md."
            )
        pinned = version or self.active.get(task)
        if pinned is None:
            return self._default(task, mode, candidates)
        for t in candidates:
            if t.version == pinned:
                return t
        raise ConfigError(f"No prompt file prompts/{task}/{pinned}.{mode}.md.")

    def _default(self, task: str, mode: Mode, candidates: list[PromptTemplate]) -> PromptTemplate:
        """The highest version with the strategy the profile wants, else with the task's
        default strategy, else the highest version."""
        strategy = self.wanted.get((task, mode))
        if strategy is None:
            default = self.catalog.defaults.get(task)
            fitting = [t for t in candidates if t.strategy == default]
            return (fitting or candidates)[-1]
        fitting = [t for t in candidates if t.strategy == strategy]
        if not fitting:
            raise ConfigError(
                f"The model profile wants strategy {strategy!r} for {task}, but no "
                f"prompts/{task}/v<N>.{mode}.md declares it."
            )
        return fitting[-1]

    def is_active(self, t: PromptTemplate) -> bool:
        return self.get(t.task, t.mode) is t

    def listing(self) -> list[dict[str, Any]]:
        """One row per file for ``prompts list``: task, version, mode, active, strategy,
        schema, sha."""
        ordered = sorted(self.templates.values(), key=lambda t: (t.task, t.mode, t.version_number))
        return [
            {"task": t.task, "version": t.version, "mode": t.mode, "active": self.is_active(t),
             "strategy": t.strategy, "schema": t.schema, "sha256": t.sha256[:12],
             "path": str(t.path)}
            for t in ordered
        ]  # fmt: skip

    def schema_for(self, t: PromptTemplate) -> type[BaseModel] | None:
        """The output model the file's ``schema`` names (checked when the file loaded)."""
        return None if t.schema is None else self.catalog.schemas[t.schema]


def load_prompts(settings: Settings, profile: Profile, catalog: PromptCatalog) -> PromptRegistry:
    """The configured prompt files (pins from the settings), checked against ``catalog``, the
    default versions fit for ``profile``."""
    return PromptRegistry.load(
        settings.prompts_dir, settings.prompt_versions, catalog=catalog, wanted=profile.wanted
    )


def parse_prompt_file(path: Path) -> PromptTemplate:
    """Read one prompt file and check it against its name and its own declarations."""
    raw = path.read_bytes()
    meta, body = _split_front_matter(path, raw.decode("utf-8"))
    _check_meta(path, meta)
    variables = tuple(meta.get("variables", []))
    _check_placeholders(path, body, variables)
    mode: Mode = meta["mode"]
    return PromptTemplate(
        path=path,
        id=str(meta["id"]),
        version=meta["version"],
        task=meta["task"],
        mode=mode,
        strategy=str(meta["strategy"]),
        schema=meta.get("schema") or None,
        variables=variables,
        description=str(meta.get("description", "")),
        params=dict(meta.get("params", {})),
        sha256=hashlib.sha256(raw).hexdigest(),
        sections=_parse_sections(path, body),
        on_truncation=meta.get("on_truncation", "grow"),
    )


def _split_front_matter(path: Path, text: str) -> tuple[dict[str, Any], str]:
    lines = text.split("\n")
    if lines[0].strip() != "+++" or "+++" not in (ln.strip() for ln in lines[1:]):
        raise ConfigError(f"{path}: must start with TOML front matter between '+++' lines.")
    end = next(i for i, ln in enumerate(lines[1:], 1) if ln.strip() == "+++")
    try:
        meta = tomllib.loads("\n".join(lines[1:end]))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: front matter is not valid TOML: {exc}.") from None
    return meta, "\n".join(lines[end + 1 :])


def _check_meta(path: Path, meta: dict[str, Any]) -> None:
    unknown = set(meta) - KNOWN_KEYS
    if unknown:
        raise ConfigError(f"{path}: unknown front matter keys: {', '.join(sorted(unknown))}.")
    for key in REQUIRED_KEYS:
        if not meta.get(key):
            raise ConfigError(f"{path}: front matter needs {key!r}.")
    m = FILE_NAME.match(path.name)
    expected = (path.parent.name, m[1] if m else None, m[2] if m else None)
    if (meta["task"], meta["version"], meta["mode"]) != expected:
        raise ConfigError(
            f"{path}: task/version/mode {meta['task']}/{meta['version']}/{meta['mode']} do not "
            f"match the path; name files prompts/<task>/v<N>.chat.md."
        )
    if meta.get("on_truncation", "grow") not in ("grow", "fail"):
        raise ConfigError(f'{path}: \'on_truncation\' must be "grow" or "fail".')
    if not isinstance(meta.get("params", {}), dict):
        raise ConfigError(f"{path}: 'params' must be a table.")


def _check_placeholders(path: Path, body: str, variables: tuple[str, ...]) -> None:
    used = set(PLACEHOLDER.findall(body))
    unknown, unused = used - set(variables), set(variables) - used
    if unknown:
        raise ConfigError(f"{path}: placeholders not declared in 'variables': {sorted(unknown)}.")
    if unused:
        raise ConfigError(f"{path}: declared variables never used in the body: {sorted(unused)}.")


def _parse_sections(path: Path, body: str) -> tuple[Message, ...]:
    heads = list(ROLE_HEADING.finditer(body))
    if not heads or body[: heads[0].start()].strip():
        raise ConfigError(f"{path}: a chat prompt is a sequence of '## system|user|assistant'.")
    msgs = []
    for i, h in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(body)
        msgs.append(Message(h[1], body[h.end() : end].strip("\n")))  # type: ignore[arg-type]
    if msgs[-1].role != "user":
        raise ConfigError(f"{path}: the last section of a chat prompt must be '## user'.")
    return tuple(msgs)
