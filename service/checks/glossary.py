"""The zh→en glossary of official terms: loading, validation and matching in source text.

File format (``prompts/glossary.tsv``): UTF-8, tab-separated. Lines starting with ``#`` are
comments; one of them must declare ``# version: N``. The first non-comment line is the header
``zh  en  kind  source  notes  alternates``; ``alternates`` (optional) lists other acceptable
English renderings separated by ``|`` (used by the glossary-adherence check, never in prompts).
Matching happens on the Simplified form (OpenCC t2s), so Traditional text matches too.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal, get_args

import opencc
from pydantic import BaseModel, Field

from service.config import Settings
from service.errors import ConfigError

TermKind = Literal[
    "place", "zone", "body", "title", "slogan", "policy", "program", "event", "other"
]
KINDS: frozenset[str] = frozenset(get_args(TermKind))
GLOSSARY_FILE = "glossary.tsv"
COLUMNS = ("zh", "en", "kind", "source", "notes", "alternates")
_VERSION = re.compile(r"^#\s*version:\s*(\S+)\s*$")
# Longer words that merely contain a glossary term (城市长远 is not 市长 "mayor"). They sit in
# the matcher so that, being leftmost, they consume the characters; they are never reported.
BLOCKERS = frozenset(
    {
        "城市长",
        "地区长",
        "社区长",
        "园区长",
        "片区长",
        "城区长",
        "山区长",
        "景区长",
        "社区委",
        "城市委",
        "行政区政府",
        "集中共",
        "提高铁",
    }
)
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")


class Entry(BaseModel):
    zh: str
    en: str
    kind: TermKind
    source: str
    notes: str = ""
    alternates: list[str] = Field(default_factory=list)
    # Filled only on the copies that ``entries_in`` returns: [start, end) offsets in the text.
    positions: list[tuple[int, int]] = Field(default_factory=list)

    @property
    def renderings(self) -> list[str]:
        """Every acceptable English rendering, the preferred one first."""
        return [self.en, *self.alternates]


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


# Full-width ASCII forms (（深圳） vs (深圳)) are folded to ASCII for matching; one char each.
_FOLD_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}


def matching_form(text: str) -> str:
    """The form terms are matched in: Simplified script, ASCII-width punctuation."""
    return to_simplified_aligned(text)[0]


def to_simplified_aligned(text: str) -> tuple[str, list[int]]:
    """Matching form of ``text`` plus, for each of its characters, the offset in the original.

    OpenCC t2s is character-for-character for our texts; when a phrase conversion ever changes
    the length, we convert character by character instead so offsets stay exact.
    """
    converted = _t2s().convert(text).translate(_FOLD_WIDTH)
    if len(converted) == len(text):
        return converted, list(range(len(text)))
    chars: list[str] = []
    origin: list[int] = []
    for i, char in enumerate(text):
        out = _t2s().convert(char).translate(_FOLD_WIDTH)
        chars.append(out)
        origin.extend([i] * len(out))
    return "".join(chars), origin


@dataclass(frozen=True)
class _Row:
    line: int
    fields: dict[str, str]


class Glossary:
    """Loaded glossary: ``entries`` in file order, ``version`` = declared version + content hash."""

    def __init__(self, entries: list[Entry], version: str, path: Path | None = None) -> None:
        self.entries = entries
        self.version = version
        self.path = path
        self._by_simplified = {matching_form(e.zh): e for e in entries}
        self._pattern = _trie_regex([*self._by_simplified, *BLOCKERS])

    @classmethod
    def load(cls, path: Path) -> Glossary:
        try:
            raw = path.read_bytes()
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read glossary {path}: {exc}") from exc
        declared, rows = _parse(text, path)
        entries = _validate(rows, path)
        version = f"{declared}-{hashlib.sha256(raw).hexdigest()[:8]}"
        return cls(entries, version, path)

    @classmethod
    def from_settings(cls, settings: Settings) -> Glossary:
        """The glossary the service uses: ``<prompts_dir>/glossary.tsv``."""
        return cls.load(settings.prompts_dir / GLOSSARY_FILE)

    def entries_in(self, text: str) -> list[Entry]:
        """Entries occurring in ``text`` (any script), in order of first occurrence.

        Longest match wins at a position and matches never overlap; each returned entry is a
        copy carrying its ``positions`` as [start, end) offsets into the original ``text``.
        """
        simplified, origin = to_simplified_aligned(text)
        found: dict[str, list[tuple[int, int]]] = {}
        for match in self._pattern.finditer(simplified):
            if match.group() not in self._by_simplified:
                continue  # a blocker
            start, end = origin[match.start()], origin[match.end() - 1] + 1
            found.setdefault(match.group(), []).append((start, end))
        return [
            self._by_simplified[term].model_copy(update={"positions": spans})
            for term, spans in found.items()
        ]

    @staticmethod
    def render_lines(entries: list[Entry]) -> str:
        """The lines injected into prompts, one ``zh → en`` per entry."""
        return "\n".join(f"{e.zh} → {e.en}" for e in entries)

    def __len__(self) -> int:
        return len(self.entries)


def _parse(text: str, path: Path) -> tuple[str, list[_Row]]:
    """Split the file into its declared version and data rows (header checked)."""
    declared: str | None = None
    header: list[str] | None = None
    rows: list[_Row] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if line.startswith("#"):
            version = _VERSION.match(line)
            declared = version.group(1) if version else declared
        elif header is None:
            header = _check_header(line, path, number)
        else:
            cells = [c.strip() for c in line.split("\t")]
            if len(cells) > len(header):
                raise ConfigError(
                    f"{path}:{number}: {len(cells)} columns, header has {len(header)}"
                )
            rows.append(_Row(number, dict(zip(header, cells + [""] * len(header), strict=False))))
    if declared is None:
        raise ConfigError(f"{path}: missing '# version: N' comment line")
    if header is None:
        raise ConfigError(f"{path}: missing the header line ({' '.join(COLUMNS)})")
    return declared, rows


def _check_header(line: str, path: Path, number: int) -> list[str]:
    header = [c.strip() for c in line.split("\t")]
    required = list(COLUMNS[:5])
    if header[:5] != required or any(c not in COLUMNS for c in header):
        raise ConfigError(
            f"{path}:{number}: header must be tab-separated {', '.join(COLUMNS)} "
            f"(alternates optional), got {header}"
        )
    return header


def _validate(rows: list[_Row], path: Path) -> list[Entry]:
    seen: dict[str, int] = {}
    entries: list[Entry] = []
    for row in rows:
        entry = _entry(row, path)
        key = matching_form(entry.zh)
        if key in seen:
            raise ConfigError(
                f"{path}:{row.line}: duplicate zh {entry.zh!r} (first on line {seen[key]})"
            )
        seen[key] = row.line
        entries.append(entry)
    return entries


def _entry(row: _Row, path: Path) -> Entry:
    f = row.fields
    where = f"{path}:{row.line}"
    if not f["zh"] or not _CJK.search(f["zh"]):
        raise ConfigError(f"{where}: zh is empty or has no Chinese characters")
    alternates = [a.strip() for a in f.get("alternates", "").split("|") if a.strip()]
    for english in [f["en"], *alternates]:
        if not english:
            raise ConfigError(f"{where}: empty en for {f['zh']!r}")
        if _CJK.search(english):
            raise ConfigError(f"{where}: Chinese characters in English {english!r}")
    if f["kind"] not in KINDS:
        raise ConfigError(f"{where}: kind {f['kind']!r} is not one of {sorted(KINDS)}")
    if not f["source"]:
        raise ConfigError(f"{where}: no source for {f['zh']!r}; say where the rendering comes from")
    return Entry(
        zh=f["zh"],
        en=f["en"],
        kind=f["kind"],  # checked against KINDS above; pydantic validates the Literal
        source=f["source"],
        notes=f["notes"],
        alternates=alternates,
    )


_Trie = dict[str, "_Trie"]


def _trie_regex(terms: list[str]) -> re.Pattern[str]:
    """One compiled regex whose alternation is a character trie: fast, and at any position the
    greedy optional groups prefer the longest term (粤港澳大湾区 over 大湾区)."""
    trie: _Trie = {}
    for term in terms:
        node = trie
        for char in term:
            node = node.setdefault(char, {})
        node[""] = {}  # end-of-term marker
    return re.compile(_node_pattern(trie) if trie else r"(?!x)x")  # empty glossary: no match


def _node_pattern(node: _Trie) -> str:
    branches = [re.escape(c) + _node_pattern(child) for c, child in sorted(node.items()) if c]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    # A term ends here: longer continuations are optional and greedy, so they win when present.
    return f"(?:{body})?" if "" in node else body
