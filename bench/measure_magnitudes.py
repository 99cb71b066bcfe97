"""Measure the magnitude repair on the bilingual Government Work Reports.

Usage: PYTHONPATH=. python bench/measure_magnitudes.py [--ref DIR] [--show N]

1. On the official English every repair is a false positive: it should make none.
2. Corrupted copies: the official rendering of each scaled source number (1361万 → "13.61
   million") is replaced by a wrong magnitude, the way a small model errs: the Chinese digits
   with the English scale word ("1361 million", "14 billion"), and the right value shifted by
   10^k, k in ±1..3 ("136.1 million"). Each corruption is repaired alone, then all literal
   corruptions of a paragraph at once. A corruption whose wrong value is itself a source number
   cannot be told from a right one: it is counted apart ("indistinguishable").
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from service.checks.magnitudes import english, repair
from service.checks.numbers import NumberMention, extract_en, extract_zh, normalise, same_value
from service.eval.reference import ReferencePair, default_reference_dir, load_reference_dir

# The Chinese scale read as the English word with the same rank: 万 → million (×100),
# 亿 → billion (×10), 万亿 → billion (×0.001: the 万 dropped).
_LITERAL = {"万亿": "billion", "萬億": "billion", "万": "million", "萬": "million"}
_LITERAL |= {"亿": "billion", "億": "billion"}
_ARABIC = re.compile(r"([0-9][0-9,]*(?:\.[0-9]+)?)(万亿|萬億|万|萬|亿|億)$")


@dataclass
class Corruption:
    pair: ReferencePair
    target: NumberMention  # the official English rendering that is corrupted
    source: NumberMention  # the scaled Chinese number it renders
    wrong: str
    how: str  # "literal" or "shift"

    @property
    def text(self) -> str:
        en = self.pair.en
        return en[: self.target.start] + self.wrong + en[self.target.end :]


def scaled_renderings(pair: ReferencePair) -> Iterator[tuple[NumberMention, NumberMention]]:
    """(source, English) pairs: a scaled Chinese number and its official English rendering."""
    src = [m for m in extract_zh(pair.zh) if m.kind == "number" and m.value >= 1e4]
    for m in extract_en(pair.en):
        source = next((s for s in src if same_value(s.value, m.value)), None)
        if source is not None and m.kind == "number" and m.text[0].isdigit():
            yield source, m


def wrong_renderings(source: NumberMention) -> Iterator[tuple[str, str]]:
    """(how, English) for each way of getting the source's magnitude wrong."""
    literal = _ARABIC.match(normalise(source.text))
    if literal:
        yield "literal", f"{literal.group(1)} {_LITERAL[literal.group(2)]}"
    for k in (-3, -2, -1, 1, 2, 3):
        yield "shift", english(source.value * 10.0**k)


def corruptions(pair: ReferencePair) -> Iterator[Corruption]:
    for source, target in scaled_renderings(pair):
        seen = {target.text}
        for how, wrong in wrong_renderings(source):
            value = extract_en(wrong)[0].value
            if wrong in seen or same_value(value, source.value):
                continue
            seen.add(wrong)
            yield Corruption(pair, target, source, wrong, how)


def outcome(c: Corruption) -> str:
    """fixed · wrong · indistinguishable (the wrong value is a source number) · left."""
    result = repair(c.pair.zh, c.text)
    at = [f for f in result.fixes if f.start == c.target.start]
    others = [f for f in result.fixes if f.start != c.target.start]
    if at and same_value(at[0].source.value, c.source.value) and not others:
        return "fixed"
    if at or others:
        return "wrong"
    value = extract_en(c.wrong)[0].value
    if any(s.family == "num" and same_value(s.value, value) for s in extract_zh(c.pair.zh)):
        return "indistinguishable"
    return "left"


@dataclass
class Paragraph:
    corrupted: int
    fixed: int
    wrong: int
    restored: bool  # the repaired text is the official text, byte for byte


def all_at_once(pair: ReferencePair) -> Paragraph:
    """Corrupt every scaled number of a paragraph literally, then repair the paragraph."""
    edits = list({c.target.start: c for c in corruptions(pair) if c.how == "literal"}.values())
    text, shift = pair.en, 0
    for c in sorted(edits, key=lambda c: c.target.start):
        start, end = c.target.start + shift, c.target.end + shift
        text = text[:start] + c.wrong + text[end:]
        shift += len(c.wrong) - len(c.target.text)
    result = repair(pair.zh, text)
    right = sum(
        1
        for f in result.fixes
        if any(f.wrong == c.wrong and same_value(f.source.value, c.source.value) for c in edits)
    )
    return Paragraph(len(edits), right, len(result.fixes) - right, result.text == pair.en)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", type=Path, default=default_reference_dir())
    parser.add_argument("--show", type=int, default=10, help="examples of each failure to print")
    args = parser.parse_args()
    if args.ref is None:
        raise SystemExit("reference set not found; pass --ref")
    pairs = [p for doc in load_reference_dir(args.ref) for p in doc.pairs]
    false_positives = [(p, f) for p in pairs for f in repair(p.zh, p.en).fixes]
    print(f"official English: {len(pairs)} pairs, {len(false_positives)} repairs (false positives)")
    for p, f in false_positives[: args.show]:
        print(f"  {f.wrong!r} -> {f.right!r} (source {f.source.text}) in: {p.en[:120]}")
    counts: Counter[tuple[str, str]] = Counter()
    failures: list[tuple[str, Corruption]] = []
    for pair in pairs:
        for c in corruptions(pair):
            result = outcome(c)
            counts[(c.how, result)] += 1
            if result in ("wrong", "left"):
                failures.append((result, c))
    for how in ("literal", "shift"):
        row = {r: counts[(how, r)] for r in ("fixed", "wrong", "indistinguishable", "left")}
        print(f"single corruptions, {how}: total {sum(row.values())}, {row}")
    for result, c in failures[: args.show]:
        print(f"  {result}: {c.wrong!r} for {c.source.text} in: {c.text[:120]}")
    touched = [t for t in (all_at_once(p) for p in pairs) if t.corrupted]
    print(
        f"all literal corruptions per paragraph: {len(touched)} paragraphs, "
        f"{sum(t.corrupted for t in touched)} corrupted, {sum(t.fixed for t in touched)} fixed, "
        f"{sum(t.wrong for t in touched)} wrong fixes, "
        f"{sum(t.restored for t in touched)} paragraphs restored byte-identical"
    )


if __name__ == "__main__":
    main()
