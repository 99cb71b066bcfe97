"""Commitments evaluation: predicted pledge spans against a hand-labelled golden set.

Matching rule (one for recall and precision): a prediction *covers* a golden quote when the
overlap of their spans in the document text is at least half the golden quote's length.
Recall = golden quotes covered by some prediction / golden quotes. Precision = predictions that
cover at least one golden quote / predictions (each prediction counts once, however many
quotes it covers). F1 is their harmonic mean.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple, Protocol

from pydantic import BaseModel, Field, ValidationError

from service.config import Settings
from service.errors import InputError, NotFound
from service.ingest import ingest_path
from service.tasks.commitments.english import concrete_candidates
from service.tasks.commitments.rules import (
    DEFAULT_THRESHOLD,
    Candidate,
    detect,
    simplified_view,
)

Span = tuple[int, int]


class Predicted(Protocol):
    """What the scorer needs of a prediction: a span of the text (rule candidate or model)."""

    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def quote(self) -> str: ...


class Prediction(NamedTuple):
    """A predicted span from any detector (the model pipeline uses this)."""

    start: int
    end: int
    quote: str


Detector = Callable[[str], Sequence[Predicted]]

#: Inline pinyin as scraped, e.g. 會(huì )議: the cleaned text has none, golden quotes do.
PINYIN = re.compile(r"\([a-zāáǎàēéěèīíǐìōóǒòūúǔùüǖǘǚǜ ]+\)")
KINDS = ("quantified", "dated", "named_project", "general")


class GoldenItem(BaseModel):
    doc: str = Field(description="Corpus file name the quote comes from.")
    quote: str = Field(description="Verbatim substring of the raw file.")
    kind: str = "general"
    note: str | None = None


class Scores(BaseModel):
    tp_pred: int = Field(description="Predictions covering at least one golden quote.")
    n_pred: int
    found: int = Field(description="Golden quotes covered by some prediction.")
    n_gold: int

    @property
    def precision(self) -> float:
        return self.tp_pred / self.n_pred if self.n_pred else 0.0

    @property
    def recall(self) -> float:
        return self.found / self.n_gold if self.n_gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


class Miss(BaseModel):
    doc: str
    quote: str
    kind: str
    located: bool = Field(description="False when the quote could not be found in the text.")


class EvalReport(BaseModel):
    overall: Scores
    per_doc: dict[str, Scores]
    per_kind: dict[str, Scores] = Field(description="Recall per kind (precision not defined).")
    misses: list[Miss]
    false_positives: list[tuple[str, str]] = Field(description="(doc, predicted quote).")


def load_golden(path: Path) -> list[GoldenItem]:
    """Read the golden JSON list; a missing or malformed file is a clear InputError."""
    if not path.is_file():
        raise NotFound(f"golden file {path} not found; pass --golden with a JSON list")
    try:
        return [GoldenItem.model_validate(x) for x in json.loads(path.read_text("utf-8"))]
    except (json.JSONDecodeError, ValidationError, TypeError) as exc:
        raise InputError(f"golden file {path} is not a list of {{doc, quote}}: {exc}") from exc


def load_text(path: Path, settings: Settings) -> str:
    """Cleaned document text, as every other stage sees it."""
    return ingest_path(path, settings=settings).text


def locate(quote: str, text: str) -> Span | None:
    """Span of a golden quote in the document text.

    Tried in order: exact; without pinyin; Simplified; Simplified with whitespace dropped and
    quotation marks unified (in case cleaning normalised them).
    """
    for needle in (quote, PINYIN.sub("", quote)):
        at = text.find(needle)
        if at >= 0:
            return at, at + len(needle)
    needle = simplified_view(PINYIN.sub("", quote))
    at = simplified_view(text).find(needle)
    if at >= 0:
        return at, at + len(needle)
    return _locate_normalised(needle, simplified_view(text))


_QUOTE_MARKS = str.maketrans({c: '"' for c in "“”„‟「」『』＂"})


def _normalised(text: str) -> tuple[str, list[int]]:
    """Text without whitespace, quotation marks unified, with each kept char's original index."""
    kept = [(c, i) for i, c in enumerate(text.translate(_QUOTE_MARKS)) if not c.isspace()]
    return "".join(c for c, _ in kept), [i for _, i in kept]


def _locate_normalised(needle: str, text: str) -> Span | None:
    norm_needle, _ = _normalised(needle)
    norm_text, index = _normalised(text)
    at = norm_text.find(norm_needle) if norm_needle else -1
    if at < 0:
        return None
    return index[at], index[at + len(norm_needle) - 1] + 1


def covers(pred: Span, gold: Span) -> bool:
    overlap = min(pred[1], gold[1]) - max(pred[0], gold[0])
    return overlap * 2 >= gold[1] - gold[0] and overlap > 0


def score_document(preds: Sequence[Span], golds: Sequence[Span | None]) -> tuple[int, list[bool]]:
    """(predictions that cover some golden span, per-golden found flags)."""
    tp = sum(1 for p in preds if any(g is not None and covers(p, g) for g in golds))
    found = [g is not None and any(covers(p, g) for p in preds) for g in golds]
    return tp, found


def _sum(scores: Sequence[Scores]) -> Scores:
    return Scores(
        tp_pred=sum(s.tp_pred for s in scores),
        n_pred=sum(s.n_pred for s in scores),
        found=sum(s.found for s in scores),
        n_gold=sum(s.n_gold for s in scores),
    )


def evaluate(
    golden: Sequence[GoldenItem],
    texts: dict[str, str],
    detector: Detector = detect,
) -> EvalReport:
    """Score ``detector`` on every document named in ``golden`` (texts keyed by doc name)."""
    per_doc: dict[str, Scores] = {}
    kind_found: dict[str, list[bool]] = {}
    misses: list[Miss] = []
    false_pos: list[tuple[str, str]] = []
    for doc in sorted({g.doc for g in golden}):
        items = [g for g in golden if g.doc == doc]
        text = texts[doc]
        preds = list(detector(text))
        spans = [(c.start, c.end) for c in preds]
        golds = [locate(g.quote, text) for g in items]
        tp, found = score_document(spans, golds)
        per_doc[doc] = Scores(tp_pred=tp, n_pred=len(spans), found=sum(found), n_gold=len(golds))
        for item, gold, ok in zip(items, golds, found, strict=True):
            kind_found.setdefault(item.kind, []).append(ok)
            if not ok:
                misses.append(Miss(doc=doc, quote=item.quote, kind=item.kind, located=bool(gold)))
        false_pos += [(doc, c.quote) for c in preds if not _hits((c.start, c.end), golds)]
    per_kind = {
        k: Scores(tp_pred=0, n_pred=0, found=sum(v), n_gold=len(v)) for k, v in kind_found.items()
    }
    overall = _sum(list(per_doc.values()))
    return EvalReport(
        overall=overall,
        per_doc=per_doc,
        per_kind=per_kind,
        misses=misses,
        false_positives=false_pos,
    )


def _hits(span: Span, golds: Sequence[Span | None]) -> bool:
    return any(g is not None and covers(span, g) for g in golds)


def evaluate_files(
    golden_path: Path,
    settings: Settings,
    corpus_dir: Path | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    detector: Detector | None = None,
) -> EvalReport:
    """Score ``detector`` (default: the rule detector) on the golden file's documents
    (``corpus_dir``, default corpus)."""
    golden = load_golden(golden_path)
    base = corpus_dir or settings.corpus_dir
    texts = {doc: load_text(base / doc, settings) for doc in {g.doc for g in golden}}
    return evaluate(golden, texts, detector or (lambda text: detect(text, threshold=threshold)))


def _line(label: str, s: Scores) -> str:
    return (
        f"{label}precision {s.precision:.2f} ({s.tp_pred}/{s.n_pred}) "
        f"recall {s.recall:.2f} ({s.found}/{s.n_gold}) f1 {s.f1:.2f}"
    )


def format_report(report: EvalReport, *, verbose: bool = False) -> list[str]:
    """Plain lines: the three overall scores first, then per document, per kind, misses."""
    o = report.overall
    lines = [
        f"precision {o.precision:.2f} ({o.tp_pred}/{o.n_pred})",
        f"recall {o.recall:.2f} ({o.found}/{o.n_gold})",
        f"f1 {o.f1:.2f}",
    ]
    lines += [_line(f"{_short(doc)} ", s) for doc, s in report.per_doc.items()]
    lines += [
        f"kind {k} recall {s.recall:.2f} ({s.found}/{s.n_gold})"
        for k, s in sorted(report.per_kind.items(), key=lambda kv: _kind_order(kv[0]))
    ]
    lines += [
        f"miss {_short(m.doc)} [{m.kind}]{'' if m.located else ' (not located)'} {m.quote}"
        for m in report.misses
    ]
    if verbose:
        lines += [f"false-positive {_short(doc)} {quote}" for doc, quote in report.false_positives]
    return lines


def _short(doc: str) -> str:
    """000_6c8e1f9dd5ba119a.txt → 000: the corpus numbers its seeds."""
    return Path(doc).stem.split("_")[0]


def _kind_order(kind: str) -> int:
    return KINDS.index(kind) if kind in KINDS else len(KINDS)


# --- the concrete tier --------------------------------------------------------------------------

CONCRETE_KINDS = ("quantified", "dated", "named_project")


class TierReport(BaseModel):
    """The concrete tier against the golden set: is each item a pledge, is each concrete
    pledge in it, and does its tier agree with the golden kind."""

    pledges: Scores = Field(description="Precision: concrete-tier items that are pledges.")
    concrete: Scores = Field(
        description="Recall: golden quantified/dated/named pledges in the concrete tier; "
        "precision: concrete-tier items that are such pledges (tier agreement)."
    )


def concrete_detector(text: str) -> list[Candidate]:
    """The rule detector's concrete tier (what the rules_en strategy renders)."""
    return concrete_candidates(text, detect(text))


def evaluate_tier(golden: Sequence[GoldenItem], texts: dict[str, str]) -> TierReport:
    """Score the concrete tier; every document of ``golden`` counts its items."""
    pledges = evaluate(golden, texts, concrete_detector).overall
    kinds = [g for g in golden if g.kind in CONCRETE_KINDS]
    concrete = evaluate(kinds, texts, concrete_detector).overall
    # A document without a concrete golden pledge is not scored above, its items still count.
    every = concrete.model_copy(update={"n_pred": pledges.n_pred})
    return TierReport(pledges=pledges, concrete=every)


def evaluate_tier_files(
    golden_path: Path, settings: Settings, corpus_dir: Path | None = None
) -> TierReport:
    """``evaluate_tier`` on the golden file's documents (``corpus_dir``, default corpus)."""
    golden = load_golden(golden_path)
    base = corpus_dir or settings.corpus_dir
    texts = {doc: load_text(base / doc, settings) for doc in {g.doc for g in golden}}
    return evaluate_tier(golden, texts)


def format_tier(report: TierReport) -> list[str]:
    """Two lines: precision and recall of the concrete tier, then its agreement with kinds."""
    p, c = report.pledges, report.concrete
    return [
        f"concrete tier: precision {p.precision:.2f} ({p.tp_pred}/{p.n_pred}) "
        f"recall {c.recall:.2f} ({c.found}/{c.n_gold})",
        f"concrete tier agreement with the golden kinds {c.precision:.2f} ({c.tp_pred}/{c.n_pred})",
    ]
