"""Rule-based pledge detector: clauses with a pledge verb, scored by what makes them concrete.

No model. Works on any cleaned text in either script: matching happens on the OpenCC t2s form
(char-for-char, so offsets carry over), quotes are always cut from the input text. The lexicon
is data (``lexicon.toml``); this module only knows how to apply it.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import cn2an
import opencc
from pydantic import BaseModel, Field

from service.errors import ConfigError

LEXICON_PATH = Path(__file__).with_name("lexicon.toml")

RuleModality = Literal["binding", "aspirational", "unknown"]
RuleTargetKind = Literal["count", "money", "area", "length", "percent", "other"]

#: Candidates scoring below this are dropped (see ``_score`` for the points).
DEFAULT_THRESHOLD = 1.0

SENTENCE_END = re.compile(r"[。！？!?\n]")
# ASCII commas split clauses too (some outlets use them), but not inside numbers like 1,000.
# ；ends a clause, not a sentence: a list after 审议通过了 stays in its (past-tense) sentence.
_CLAUSE_END = re.compile(r"[，：:；;]|(?<!\d),|,(?!\d)")
# A reported instruction starts here: what follows is no longer the readout's past events.
_INSTRUCTION = re.compile(r"强调|指出|希望|^要")
_ARABIC = r"\d+(?:\.\d+)?"
_CHINESE_NUM = r"[一二两三四五六七八九十百千]+"
_STRIP = " \t\u3000\"“”‘’'"
# The subject of such a sentence is described, not promised: 推进…改革，对于…具有重要意义.
_JUDGEMENT = re.compile(r"具有(?:重要|重大|深远)(?:意义|作用)|意义重大")
# A numbered section heading opens its paragraph: (二)聚焦…, 三、全面提升….
_NUMBERED_HEADING = re.compile(r"^[(（][一二三四五六七八九十]+[)）]|^[一二三四五六七八九十]+、")
_TITLE_END = re.compile(r"[。！？!?]")
# Leading words before a clause-initial verb: 要创新…, 我们要…, 并….
_LEAD = re.compile(r"^(?:我们要|要|并|进一步|持续|继续|着力|积极|大力|全面)?")
# A direct instruction (要…, 确保…) or a promised standard (高标准建设…) marks a pledge.
_DIRECTIVE = re.compile(r"^要|确保|高标准|高质量|高水平")
# Units that never make an amount: 一批 (a batch), 五方面 (areas), 二期 (phase), 6号线 (a name).
_SEQUENCE = frozenset({"批", "方面", "期", "号线"})
_MULTIPLIERS = {"万": 1e4, "亿": 1e8}
_PLAN = re.compile(r"[“\"]十[一二三四五六七八九]五[”\"]")
# Verbs inside a title or quotation (《…规划》, “…建设”) name things, they do not pledge them.
_QUOTED = re.compile(r"《[^》]*》|“[^”]*”|\"[^\"]*\"")
# A quotation left open at the clause end: its closing mark was trimmed (打造"城市大脑"和"云上城市).
_OPEN_QUOTE = re.compile(r"[“\"][^”\"]*$")


class RuleTarget(BaseModel):
    text: str = Field(description="The number with its unit as written, e.g. 4.5万个.")
    value: float | None = Field(description="Numeric value with 万/亿 applied, e.g. 45000.")
    unit: str
    kind: RuleTargetKind


class Deadline(BaseModel):
    text: str
    year: int | None = Field(None, description="Calendar year when it can be resolved.")


class Candidate(BaseModel):
    start: int = Field(description="Offset into the input text, [start, end).")
    end: int
    quote: str = Field(description="text[start:end], verbatim in the input's script.")
    modality: RuleModality
    trigger: str = Field(description="The pledge verb that made the clause a candidate.")
    targets: list[RuleTarget] = Field(default_factory=list)
    deadline: Deadline | None = None
    score: float
    reasons: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class Lexicon:
    completion: tuple[str, ...]
    action: tuple[str, ...]
    aspirational: tuple[str, ...]
    binding: tuple[str, ...]
    units: tuple[str, ...]
    weak_units: frozenset[str]
    deadlines: tuple[re.Pattern[str], ...]
    project: tuple[str, ...]
    instrument: tuple[str, ...]
    abstract: tuple[str, ...]
    exclusions: tuple[tuple[str, re.Pattern[str]], ...]
    initial: tuple[str, ...] = ()
    penalties: tuple[Penalty, ...] = ()
    heading_max_chars: int = 20
    heading_points: float = -1.5
    heading_exempt: re.Pattern[str] = re.compile(r"^(?:继续|持续)")
    title_max_chars: int = 60


@dataclass(frozen=True)
class Penalty:
    """Points taken once from a clause that matches any of the patterns."""

    name: str
    points: float
    patterns: tuple[re.Pattern[str], ...]

    def fires(self, clause: str) -> bool:
        return any(p.search(clause) for p in self.patterns)


@lru_cache(maxsize=4)
def load_lexicon(path: Path = LEXICON_PATH) -> Lexicon:
    """Read and compile the lexicon; a broken file is a ConfigError naming it."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return _compile(data)
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError, re.error) as exc:
        raise ConfigError(f"cannot load pledge lexicon {path}: {exc}; fix or restore it") from exc


def _longest_first(words: list[str]) -> tuple[str, ...]:
    return tuple(sorted(set(words), key=len, reverse=True))


def _compile(data: dict[str, Any]) -> Lexicon:
    exclusions = tuple(
        (f"{group}:{pattern}", re.compile(pattern))
        for group, patterns in data["exclusions"].items()
        for pattern in patterns
    )
    return Lexicon(
        completion=_longest_first(data["verbs"]["completion"]),
        action=_longest_first(data["verbs"]["action"]),
        aspirational=tuple(data["modality"]["aspirational"]),
        binding=tuple(data["modality"]["binding"]),
        units=_longest_first(data["targets"]["measure_words"]),
        weak_units=frozenset(data["targets"]["weak_units"]),
        deadlines=tuple(re.compile(p) for p in data["deadlines"]["patterns"]),
        project=_longest_first(data["objects"]["project"]),
        instrument=_longest_first(data["objects"]["instrument"]),
        abstract=_longest_first(data["objects"]["abstract"]),
        exclusions=exclusions,
        initial=_longest_first(data["verbs"].get("initial", [])),
        penalties=tuple(_penalty(entry) for entry in data.get("penalties", [])),
        heading_max_chars=int(data["structure"]["heading_max_chars"]),
        heading_points=float(data["structure"]["heading_points"]),
        heading_exempt=re.compile(data["structure"]["heading_exempt"]),
        title_max_chars=int(data["structure"]["title_max_chars"]),
    )


def _penalty(entry: dict[str, Any]) -> Penalty:
    patterns = tuple(re.compile(p) for p in entry["patterns"])
    return Penalty(name=str(entry["name"]), points=float(entry["points"]), patterns=patterns)


# --- script ---------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def simplified_view(text: str) -> str:
    """Simplified form of ``text`` with the same length, so offsets carry over unchanged."""
    converted: str = _t2s().convert(text)
    if len(converted) == len(text):
        return converted
    # A phrase conversion changed the length: fall back to char-by-char, keeping any
    # character whose conversion is not a single character.
    chars = (_t2s().convert(ch) for ch in text)
    return "".join(c if len(c) == 1 else o for c, o in zip(chars, text, strict=True))


# --- splitting ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clause:
    start: int
    end: int
    sentence: int  # index of the sentence the clause belongs to


def _spans(text: str, pattern: re.Pattern[str], start: int, end: int) -> Iterator[tuple[int, int]]:
    pos = start
    for m in pattern.finditer(text, start, end):
        yield pos, m.start()
        pos = m.end()
    yield pos, end


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start] in _STRIP:
        start += 1
    while end > start and text[end - 1] in _STRIP:
        end -= 1
    return start, end


def _clause_spans(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Clause spans of one sentence; punctuation inside “quotes” does not end a clause.

    “一廊双环映山水,三轴四主连山城”碧道网络 is one name, so one clause.
    """
    quoted = [(m.start(), m.end()) for m in _QUOTED.finditer(text, start, end)]
    pos = start
    for m in _CLAUSE_END.finditer(text, start, end):
        if any(a < m.start() < b for a, b in quoted):
            continue
        yield pos, m.start()
        pos = m.end()
    yield pos, end


def split_clauses(text: str) -> list[Clause]:
    """Clauses (between ，：； inside sentences ended by 。！？/newline), trimmed, non-empty."""
    clauses: list[Clause] = []
    for index, (s_start, s_end) in enumerate(_spans(text, SENTENCE_END, 0, len(text))):
        for c_start, c_end in _clause_spans(text, s_start, s_end):
            start, end = _trim(text, c_start, c_end)
            if end > start:
                clauses.append(Clause(start, end, index))
    return clauses


# --- features -------------------------------------------------------------------------------


def _first(words: tuple[str, ...], clause: str) -> str | None:
    found = [(clause.find(w), -len(w), w) for w in words if w in clause]
    return min(found)[2] if found else None


def _number_value(number: str) -> float | None:
    if re.fullmatch(_ARABIC, number):
        return float(number)
    try:
        return float(cn2an.cn2an(number, "smart"))
    except ValueError:
        return None


def _target_kind(unit: str) -> RuleTargetKind:
    if unit.endswith("元"):
        return "money"
    if "平方" in unit or unit == "亩":
        return "area"
    if unit == "公里":
        return "length"
    if unit in ("%", "％"):
        return "percent"
    return "count" if len(unit) == 1 else "other"


@lru_cache(maxsize=4)
def _target_pattern(units: tuple[str, ...]) -> re.Pattern[str]:
    unit = "|".join(re.escape(u) for u in units)
    return re.compile(
        rf"(?<![\d.第])(?P<num>{_ARABIC}|{_CHINESE_NUM})(?P<mult>[万亿](?=[^\d]))?(?P<unit>{unit})"
    )


def find_targets(clause: str, lex: Lexicon, original: str | None = None) -> list[RuleTarget]:
    """Numbers with a measure word; years, ordinals and sequence numbers are skipped.

    ``clause`` is the Simplified view; target texts are cut from ``original`` (same length).
    """
    source = original if original is not None else clause
    targets: list[RuleTarget] = []
    for m in _target_pattern(lex.units).finditer(clause):
        number, mult, unit = m["num"], m["mult"] or "", m["unit"]
        if unit in _SEQUENCE or (unit in lex.weak_units and not mult and number[0].isdigit()):
            continue  # 2021年, 6号线, 二期, 一批: dates and sequence numbers, not amounts
        if unit in _MULTIPLIERS:  # 新增学位21万: the multiplier is the last thing written
            mult, unit = unit, ""
        value = _number_value(number)
        if value is not None and mult:
            value *= _MULTIPLIERS[mult]
        written = source[m.start() : m.end()]
        targets.append(RuleTarget(text=written, value=value, unit=unit, kind=_target_kind(unit)))
    return targets


def _resolve_year(text: str, year_group: str | None, doc_year: int | None) -> int | None:
    if year_group:
        return int(year_group)
    plan = re.search(r"十([一二三四五六七八九])五", text)
    if plan:
        # The Nth five-year plan ends in 1955 + 5N: 十三五 → 2020, 十四五 → 2025.
        return 1955 + 5 * (10 + int(cn2an.cn2an(plan[1], "smart")))
    if doc_year is None:
        return None
    if "明年" in text:
        return doc_year + 1
    span = re.search(rf"({_ARABIC}|{_CHINESE_NUM})年", text)
    if span and ("内" in text or "时间" in text or "未来" in text):
        value = _number_value(span[1])
        return doc_year + int(value) if value is not None else None
    return doc_year


def find_deadline(clause: str, lex: Lexicon, doc_year: int | None = None) -> Deadline | None:
    for pattern in lex.deadlines:
        m = pattern.search(clause)
        if m:
            year = _resolve_year(m[0], m.groupdict().get("year"), doc_year)
            return Deadline(text=m[0], year=year)
    return None


def excluded_by(clause: str, lex: Lexicon) -> str | None:
    """Name of the first exclusion rule (slogan, past event, description, study) that fires."""
    for name, pattern in lex.exclusions:
        if pattern.search(clause):
            return name
    return None


def modality_of(clause: str, lex: Lexicon) -> RuleModality:
    if any(w in clause for w in lex.aspirational):
        return "aspirational"
    if any(w in clause for w in lex.binding):
        return "binding"
    return "unknown"


def find_trigger(clause: str, lex: Lexicon) -> str | None:
    """The pledge verb: a delivery verb if there is one, else the first action verb.

    Verbs inside 《titles》 or “quotes” do not count.
    """
    masked = _mask_quoted(clause)
    found = _first(lex.completion, masked) or _first(lex.action, masked)
    if found is None:
        head = masked[_LEAD.match(masked).end() :]  # type: ignore[union-attr]
        found = next((w for w in lex.initial if head.startswith(w)), None)
    return found


def _mask_quoted(clause: str) -> str:
    """Blank out titles and quotations, except a quoted plan period such as “十四五”."""
    masked = _QUOTED.sub(lambda m: m[0] if _PLAN.fullmatch(m[0]) else "□" * len(m[0]), clause)
    return _OPEN_QUOTE.sub(lambda m: "□" * len(m[0]), masked)


# --- scoring --------------------------------------------------------------------------------


@dataclass
class _Features:
    trigger: str
    completion: bool
    targets: list[RuleTarget]
    deadline: Deadline | None
    project: str | None
    instrument: str | None
    abstract_end: str | None


def _features(
    clause: str, lex: Lexicon, deadline: Deadline | None, trigger: str, original: str
) -> _Features:
    after = clause[clause.find(trigger) + len(trigger) :]
    abstract_end = next((w for w in lex.abstract if after.endswith(w)), None)
    return _Features(
        trigger=trigger,
        completion=trigger in lex.completion,
        targets=find_targets(clause, lex, original),
        deadline=deadline,
        project=_first(lex.project, after),
        instrument=_first(lex.instrument, after),
        abstract_end=abstract_end,
    )


def _score(f: _Features, clause: str, lex: Lexicon) -> tuple[float, list[str]]:
    """Points for what a careful reader would call a checkable pledge; minus for attitude."""
    points = _evidence(f, clause) + _penalties(f, clause, lex)
    return sum(p for p, _ in points), [r for _, r in points]


def _evidence(f: _Features, clause: str) -> list[tuple[float, str]]:
    points: list[tuple[float, str]] = [(1.0, f"pledge verb {f.trigger}")]
    if f.completion:
        points.append((1.5, "delivery verb"))
    strong = [t for t in f.targets if re.match(r"\d", t.text)]
    if strong:
        points.append((2.5, "quantified target"))
    elif f.targets:
        points.append((1.0, "target in words"))
    if f.deadline:
        points.append((1.5, f"deadline {f.deadline.text}"))
    if f.project:
        named = "、" in clause or "等" in clause or len(clause) <= 16
        points.append((1.5 if named else 1.0, f"project object {f.project}"))
    if f.instrument:
        points.append((1.0, f"instrument {f.instrument}"))
    if re.search(r"一批|新一轮|首批|第[一二三]批|[\"“《]", clause):
        points.append((0.5, "named or batched object"))
    if re.search(r"、.*等", clause):
        points.append((0.5, "enumerated objects"))
    if _DIRECTIVE.search(clause):
        points.append((0.5, "directive or standard"))
    return points


def _penalties(f: _Features, clause: str, lex: Lexicon) -> list[tuple[float, str]]:
    points: list[tuple[float, str]] = []
    if f.abstract_end:
        points.append((-2.0, f"abstract object {f.abstract_end}"))
    masked = _mask_quoted(clause)  # 三化三型三最 names cadres, it is no superlative
    points += [(p.points, p.name) for p in lex.penalties if p.fires(masked)]
    if len(clause) > 45:
        points.append((-1.0, "long clause"))
    return points


# --- public ---------------------------------------------------------------------------------


def detect(
    text: str,
    *,
    doc_year: int | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    lexicon: Lexicon | None = None,
) -> list[Candidate]:
    """Pledge candidates in ``text`` (any script), in reading order, offsets into ``text``."""
    lex = lexicon or load_lexicon()
    simple = simplified_view(text)
    clauses = split_clauses(simple)
    skipped = _skipped(simple, clauses, lex) | _titles(simple, clauses, lex)
    deadlines = _deadlines(simple, clauses, lex, doc_year)
    headings = _heading_like(clauses, lex)
    candidates: list[Candidate] = []
    for index, clause in enumerate(clauses):
        if index in skipped:
            continue
        deadline, inherited = deadlines[index]
        candidate = _candidate(
            text, clause, simple, lex, deadline, threshold + inherited, index in headings
        )
        if candidate is not None and inherited:
            candidate.score = round(candidate.score - inherited, 2)
            candidate.reasons.append("deadline inherited from the sentence")
        if candidate is not None:
            candidates.append(candidate)
    return candidates


def _skipped(simple: str, clauses: list[Clause], lex: Lexicon) -> set[int]:
    """Clauses that cannot be pledges: excluded themselves, or in a past or judging sentence.

    A past marker (审议通过, 召开…) silences the rest of its sentence until a reported
    instruction starts (强调, 要…); a judgement (…具有重要意义) silences its whole sentence.
    """
    judged = {c.sentence for c in clauses if _JUDGEMENT.search(simple[c.start : c.end])}
    past: set[int] = set()
    skipped: set[int] = set()
    for index, clause in enumerate(clauses):
        view = simple[clause.start : clause.end]
        if _INSTRUCTION.search(view):
            past.discard(clause.sentence)
        rule = excluded_by(view, lex)
        if rule and rule.startswith("past:"):
            past.add(clause.sentence)
        if rule or clause.sentence in past or clause.sentence in judged:
            skipped.add(index)
    return skipped


def _titles(simple: str, clauses: list[Clause], lex: Lexicon) -> set[int]:
    """Clauses of titles and headings: short lines without a sentence end, numbered headings."""
    titles: set[int] = set()
    line_start = 0
    for line in simple.split("\n"):
        line_end = line_start + len(line)
        if len(line.strip()) <= lex.title_max_chars and not _TITLE_END.search(line):
            titles |= {i for i, c in enumerate(clauses) if line_start <= c.start < line_end}
        line_start = line_end + 1
    numbered = {c.sentence for c in clauses if _NUMBERED_HEADING.match(simple[c.start : c.end])}
    return titles | {i for i, c in enumerate(clauses) if c.sentence in numbered}


def _heading_like(clauses: list[Clause], lex: Lexicon) -> set[int]:
    """Clauses that are a whole sentence on their own and short: maybe a section heading."""
    per_sentence: dict[int, list[int]] = {}
    for index, clause in enumerate(clauses):
        per_sentence.setdefault(clause.sentence, []).append(index)
    return {
        members[0]
        for members in per_sentence.values()
        if len(members) == 1
        and clauses[members[0]].end - clauses[members[0]].start <= lex.heading_max_chars
    }


def _deadlines(
    simple: str, clauses: list[Clause], lex: Lexicon, doc_year: int | None
) -> list[tuple[Deadline | None, float]]:
    """Each clause's deadline and a score discount when it is inherited from its sentence.

    用三年时间新建…，新建…: the span carries over to later clauses, with less weight.
    """
    latest: dict[int, Deadline] = {}
    result: list[tuple[Deadline | None, float]] = []
    for clause in clauses:
        own = find_deadline(_mask_quoted(simple[clause.start : clause.end]), lex, doc_year)
        if own is not None:
            latest[clause.sentence] = own
            result.append((own, 0.0))
        else:
            inherited = latest.get(clause.sentence)
            result.append((inherited, 1.0 if inherited else 0.0))
    return result


def _candidate(
    text: str,
    clause: Clause,
    simple: str,
    lex: Lexicon,
    deadline: Deadline | None,
    threshold: float,
    heading_like: bool = False,
) -> Candidate | None:
    view = simple[clause.start : clause.end]
    trigger = find_trigger(view, lex)
    if trigger is None or len(view) < 4:
        return None
    features = _features(view, lex, deadline, trigger, text[clause.start : clause.end])
    score, reasons = _score(features, view, lex)
    concrete = features.targets or features.completion or features.deadline
    if heading_like and not concrete and not lex.heading_exempt.search(view):
        score += lex.heading_points
        reasons.append("heading-like sentence")
    if score < threshold:
        return None
    return Candidate(
        start=clause.start,
        end=clause.end,
        quote=text[clause.start : clause.end],
        modality=modality_of(view, lex),
        trigger=trigger,
        targets=features.targets,
        deadline=deadline,
        score=round(score, 2),
        reasons=reasons,
    )
