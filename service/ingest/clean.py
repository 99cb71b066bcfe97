"""Remove web boilerplate and pinyin annotations, data-driven and auditable.

Rules live in ``boilerplate.toml`` beside this module (see the comments there). Content
characters are never altered: lines are stripped, blank lines dropped, and the kept lines
joined with a single LF, so every paragraph is one line of the cleaned text.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

from service.errors import ConfigError
from service.ingest.pinyin import strip_pinyin
from service.models import RemovedItem

RULES_PATH = Path(__file__).with_name("boilerplate.toml")
PINYIN_RULE = "inline-pinyin"


@dataclass(frozen=True)
class Rule:
    name: str
    kind: Literal["line", "tail"]
    exact: frozenset[str] = frozenset()
    pattern: re.Pattern[str] | None = None
    when: re.Pattern[str] | None = None
    max_len: int | None = None
    within_last: int | None = None
    metadata: str | None = None

    def applies_to(self, document: str) -> bool:
        return self.when is None or bool(self.when.search(document))

    def matches(self, line: str) -> bool:
        if not line or (self.max_len is not None and len(line) > self.max_len):
            return False
        return line in self.exact or bool(self.pattern and self.pattern.search(line))


@dataclass
class CleanResult:
    text: str
    removed: list[RemovedItem] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    metadata_lines: dict[str, str] = field(default_factory=dict)


@lru_cache(maxsize=4)
def load_rules(path: Path = RULES_PATH) -> tuple[Rule, ...]:
    """Parse and validate the rules file once."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        return tuple(_rule(entry) for entry in raw.get("rules", []))
    except (tomllib.TOMLDecodeError, re.error, KeyError, ValueError) as exc:
        raise ConfigError(f"{path}: invalid boilerplate rules ({exc}); fix the file.") from None


def _rule(entry: dict[str, object]) -> Rule:
    kind = str(entry["kind"])
    if kind not in ("line", "tail"):
        raise ValueError(f"rule {entry['name']!r}: kind must be 'line' or 'tail'")
    exact = entry.get("exact", [])
    return Rule(
        name=str(entry["name"]),
        kind="tail" if kind == "tail" else "line",
        exact=frozenset(str(e) for e in exact) if isinstance(exact, list) else frozenset(),
        pattern=re.compile(str(entry["pattern"])) if "pattern" in entry else None,
        when=re.compile(str(entry["when"])) if "when" in entry else None,
        max_len=_opt_int(entry.get("max_len")),
        within_last=_opt_int(entry.get("within_last")),
        metadata=str(entry["metadata"]) if "metadata" in entry else None,
    )


def _opt_int(value: object) -> int | None:
    return value if isinstance(value, int) else None


def clean_text(text: str, rules: tuple[Rule, ...] | None = None) -> CleanResult:
    """Apply tail rules, then line rules, then pinyin removal; normalise whitespace."""
    active = [r for r in (rules if rules is not None else load_rules()) if r.applies_to(text)]
    lines = [line.strip() for line in text.split("\n")]
    result = CleanResult(text="")
    end = _cut_tail(lines, [r for r in active if r.kind == "tail"], result)
    line_rules = [r for r in active if r.kind == "line"]
    kept: list[str] = []
    for number, line in enumerate(lines[:end], start=1):
        rule = next((r for r in line_rules if r.matches(line)), None)
        if rule is not None:
            _record(result, rule.name, line, number)
            if rule.metadata:
                result.metadata_lines.setdefault(rule.metadata, line)
        elif line:
            kept.append(_strip_pinyin(line, number, result))
    result.text = "\n".join(line for line in kept if line)
    return result


def _cut_tail(lines: list[str], tails: list[Rule], result: CleanResult) -> int:
    """Index where the text ends after the earliest tail marker; removed lines are recorded."""
    non_empty = [i for i, line in enumerate(lines) if line]
    cut, cut_rule = len(lines), ""
    for rule in tails:
        window = non_empty[-rule.within_last :] if rule.within_last else non_empty
        hit = next((i for i in window if rule.matches(lines[i])), None)
        if hit is not None and hit < cut:
            cut, cut_rule = hit, rule.name
    for i in range(cut, len(lines)):
        if lines[i]:
            _record(result, cut_rule, lines[i], i + 1)
    return cut


def _strip_pinyin(line: str, number: int, result: CleanResult) -> str:
    new, annotations = strip_pinyin(line)
    if annotations:
        # One compact record per line: the annotations in order, and one count per annotation.
        result.removed.append(
            RemovedItem(rule=PINYIN_RULE, text=" ".join(annotations), line=number)
        )
        result.counts[PINYIN_RULE] = result.counts.get(PINYIN_RULE, 0) + len(annotations)
    return new.strip()


def _record(result: CleanResult, rule: str, line: str, number: int) -> None:
    result.removed.append(RemovedItem(rule=rule, text=line, line=number))
    result.counts[rule] = result.counts.get(rule, 0) + 1


__all__ = ["PINYIN_RULE", "CleanResult", "Rule", "clean_text", "load_rules"]
