"""One document's page: what it says first (summary, commitments), then how we know it.

Sections in reading order: summary, commitments, the document's metadata, the English and
bilingual texts, the quality report, provenance (``_sections``; a new section is one entry
there). Problems come at the top in plain words ("3 of 106 paragraphs could not be translated
and are shown in Chinese"), their technical reasons folded away in a ``<details>`` block.

Source paragraphs carry ``<a id="p12"></a>`` anchors in the bilingual rendering (always
present, even without a translation) so that commitment links land on the quoted paragraph;
the English-only rendering uses ``en-p12``. In both renderings a translated paragraph is
followed by a note when its checks still fail (a number missing or not in the source, Chinese
left) or when the post-edit repaired it (numbers corrected, terms replaced).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from service.artifacts import (
    LEAD_SUMMARY_NOTE,
    SECTIONS_SUMMARY_NOTE,
    ArtifactKind,
    Provenance,
    TranslatedParagraph,
    TranslationArtifact,
)
from service.checks.magnitudes import english
from service.checks.quality import Issue
from service.checks.repairs import Repairs
from service.render import escape as md
from service.render.bundle import DocumentBundle
from service.render.markdown import (
    SECTOR_LABELS,
    actor_cell,
    data_path,
    deadline_cell,
    modality_cell,
    same_as_title,
    stamp,
    targets_cell,
    warning_block,
)
from service.render.problems import (
    NO_ENGLISH,
    english_missing,
    problems,
    task_problems,
    technical_details,
)
from service.tasks.commitments.schema import Commitment

ISSUE_GROUPS: list[tuple[str, tuple[str, ...]]] = [
    ("Numbers not preserved", ("number_missing", "number_extra")),
    ("Glossary misses", ("glossary_miss",)),
    ("Untranslated paragraphs", ("untranslated", "paragraph_missing", "translation_empty")),
    ("Other checks", ("cjk_left", "length_ratio")),
    ("Repairs made", ("number_repaired", "term_replaced", "punctuation_replaced")),
]
# Per-paragraph notes: the issues still open, and the repairs named by where they came from.
_OPEN_KINDS = ("number_missing", "number_extra", "cjk_left")
_TERM_NOTES = (
    ("glossary", "glossary terms"),
    ("name", "names"),
    ("dictionary", "dictionary gloss"),
    ("pinyin", "left in pinyin"),
)


def document_page(b: DocumentBundle, *, generated_at: dt.datetime, reader_version: str) -> str:
    parts = [f"# {md.text(b.title())}", "[← All documents](../index.md)"]
    if warnings := b.quality_warnings():
        parts.append(warning_block(warnings))
    parts += problems_block(b)
    for section in _sections(b, generated_at, reader_version):
        parts += section
    return "\n\n".join(parts) + "\n"


def _sections(b: DocumentBundle, generated_at: dt.datetime, reader_version: str) -> list[list[str]]:
    """The page's sections in reading order: what the document says, then how we know it."""
    return [
        summary_section(b),
        commitments_section(b),
        _metadata(b),
        english_section(b),
        bilingual_section(b),
        quality_section(b),
        provenance_section(b, generated_at, reader_version),
    ]


def problems_block(b: DocumentBundle) -> list[str]:
    """What is missing or doubtful on this page, in plain words; the reasons folded away."""
    found = problems(b)
    if not found:
        return []
    # A list, not a blockquote: two blockquotes in a row (the model warning) merge into one.
    items = "\n".join(f"- ⚠ {md.text(p.plain)}" for p in found)
    parts = ["**Missing or doubtful on this page:**", items]
    if technical := technical_details(b):
        parts.append(md.details("Technical details (for whoever re-runs this document)", technical))
    return parts


def _metadata(b: DocumentBundle) -> list[str]:
    doc, meta = b.document, b.document.meta
    removed = ", ".join(f"{rule}: {n}" for rule, n in sorted(doc.cleaning.counts.items()))
    rows = [
        ("English title", md.cell(meta.title_en)),
        ("Chinese title", md.cell(meta.title_zh)),
        ("Date", md.cell(meta.date.isoformat() if meta.date else None)),
        ("Outlet", md.cell(meta.outlet)),
        ("Place", md.cell(meta.place)),
        ("Type", md.cell(meta.doc_type)),
        ("Source URL", md.cell(meta.source_url)),
        ("Source file", md.cell(doc.source_name)),
        ("Document id", md.cell(doc.id)),
        ("Script", md.cell(doc.script)),
        ("Text", md.cell(f"{len(doc.paragraphs)} paragraphs, {len(doc.text)} characters")),
        ("Cleaning", md.cell(f"{doc.cleaning.encoding}; removed {removed or 'nothing'}")),
        ("Data", md.link(data_path(doc.id).removeprefix("data/"), "../" + data_path(doc.id))),
    ]
    return ["## Document", md.table(["Field", "Value"], [[k, v] for k, v in rows])]


# --- summary ---------------------------------------------------------------------------------


def summary_section(b: DocumentBundle) -> list[str]:
    parts = ["## Summary", *_state(b, "summary")]
    s = b.summary.summary if b.summary else None
    if s is None:
        return parts if len(parts) > 1 else [*parts, "Summary not available."]
    if b.summary is not None and b.summary.method == "lead":
        parts.append(f"*{md.text(LEAD_SUMMARY_NOTE)}*")
    if b.summary is not None and b.summary.method == "sections":
        parts.append(f"*{md.text(SECTIONS_SUMMARY_NOTE)}*")
    if not same_as_title(s.headline, b.title()):
        parts.append(f"**{md.text(s.headline)}**")
    parts += [md.text(s.abstract), "### Key points"]
    parts.append("\n".join(f"- {md.text(p)}" for p in s.key_points) or "None given.")
    parts.append("### Who, when, where")
    where = [[md.cell(s.body), md.cell(s.date), md.cell(s.place)]]
    parts.append(md.table(["Body", "Date", "Place"], where))
    if s.people:
        people = [[md.cell(p.name_en), md.cell(p.name_zh), md.cell(p.role)] for p in s.people]
        parts.append(md.table(["Name", "Chinese", "Role"], people))
    return parts


def _state(b: DocumentBundle, kind: ArtifactKind) -> list[str]:
    """The task's problems in plain words, at the top of its section."""
    return [md.text(f"⚠ {p.plain}") for p in task_problems(b, kind)]


# --- commitments -----------------------------------------------------------------------------


def commitments_section(b: DocumentBundle) -> list[str]:
    parts = ["## Commitments", *_state(b, "commitments")]
    if b.commitments is None:
        return parts if len(parts) > 1 else [*parts, "Commitments not available."]
    grounded, review = b.split_commitments()
    if grounded:
        # The English first: a reader scans what is promised, then checks it in the quote.
        header = ["Commitment", "Targets", "Deadline", "Source", "Actor", "Modality", "Sector"]
        parts.append(md.table([*header, "Checks"], [_row(b, c) for c in grounded]))
    else:
        parts.append("No grounded commitments.")
    if review:
        parts += ["### Needs review — not grounded", _review_intro(len(review))]
        parts.append("\n".join(f"- {_review_item(c)}" for c in review))
    return parts


def _row(b: DocumentBundle, c: Commitment) -> list[str]:
    pid = b.paragraph_of(c)
    source = md.text(f"“{c.quote}”") if c.quote else "–"
    if pid:
        source = f"[¶{md.text(pid)}](#{md.anchor_id(pid)}) {source}"
    return [
        md.cell(NO_ENGLISH if english_missing(c) else c.action_en),
        targets_cell(c.targets),
        deadline_cell(c),
        source,
        actor_cell(c),
        modality_cell(c),
        md.cell(SECTOR_LABELS.get(c.sector, c.sector)),
        md.cell(_checks(c)),
    ]


def _checks(c: Commitment) -> str:
    match = c.alignment if c.alignment in ("exact", "normalized") else f"{c.alignment} {c.score:g}"
    if c.checks is not None and c.checks.failures:
        return f"{match}; ⚠ not in quote: {', '.join(c.checks.failures)}"
    return match


def _review_intro(n: int) -> str:
    return (
        f"{md.anchor('needs-review')}{n} extracted commitments could not be found in the "
        "source text. They are listed for review and must not be read as what the document says."
    )


def _review_item(c: Commitment) -> str:
    who = c.actor_en or c.actor_zh or "unnamed actor"
    sector = SECTOR_LABELS.get(c.sector, c.sector)
    return md.text(f"“{c.quote_zh}” — {who}: {c.gloss_en} ({c.modality}, {sector})")


# --- translation -----------------------------------------------------------------------------


def english_section(b: DocumentBundle) -> list[str]:
    parts = ["## Translation (English)", *_state(b, "translation")]
    if b.translation is None:
        return parts if len(parts) > 1 else [*parts, "Translation not available."]
    rows, issues = _translated(b.translation), _open_issues(b.translation)
    for p in b.document.paragraphs:
        tp = rows.get(p.id)
        body = _english_text(tp, p.is_heading) if tp and tp.en else _untranslated(p.text)
        parts.append(f"{md.anchor('en-' + p.id)}{body} [¶{md.text(p.id)}](#{md.anchor_id(p.id)})")
        parts += _notes(tp, issues.get(p.id, []))
    return parts


def bilingual_section(b: DocumentBundle) -> list[str]:
    parts = ["## Bilingual text"]
    parts.append("Paragraph by paragraph: the Chinese source, then the English translation.")
    rows = _translated(b.translation) if b.translation is not None else None
    issues = _open_issues(b.translation) if b.translation is not None else {}
    for p in b.document.paragraphs:
        zh = f"**{md.text(p.text)}**" if p.is_heading else md.text(p.text)
        parts.append(f"{md.anchor(p.id)}`{md.anchor_id(p.id)}` {zh}")
        if rows is not None:
            tp = rows.get(p.id)
            parts.append(_english_text(tp, p.is_heading) if tp and tp.en else _untranslated())
            parts += _notes(tp, issues.get(p.id, []))
    return parts


def _translated(t: TranslationArtifact) -> dict[str, TranslatedParagraph]:
    return {tp.id: tp for tp in t.paragraphs}


def _english_text(tp: TranslatedParagraph, heading: bool) -> str:
    text = md.text(tp.en or "")
    return f"**{text}**" if heading else text


def _open_issues(t: TranslationArtifact) -> dict[str, list[Issue]]:
    """Paragraph id → the issues a reader must see next to its English."""
    found: dict[str, list[Issue]] = {}
    for issue in t.quality.issues:
        if issue.kind in _OPEN_KINDS and issue.paragraph_id is not None:
            found.setdefault(issue.paragraph_id, []).append(issue)
    return found


def _notes(tp: TranslatedParagraph | None, issues: list[Issue]) -> list[str]:
    """The note under a translated paragraph: what is still wrong, then what was repaired."""
    if tp is None or not tp.en:
        return []
    notes = [_open_note(i) for i in issues] + _repair_notes(tp.repairs)
    return [f"*{md.text(' · '.join(notes))}*"] if notes else []


def _open_note(issue: Issue) -> str:
    """``⚠ number 1361万 (13.61 million) not found in this translation`` and the like."""
    detail = issue.detail
    if issue.kind == "cjk_left":
        runs = detail.get("runs")
        return "⚠ untranslated Chinese: " + " ".join(
            map(str, runs if isinstance(runs, list) else [])
        )
    text = str(detail.get("text", ""))
    if issue.kind == "number_extra":
        return f"⚠ number {text} is not in the source"
    return f"⚠ number {text}{_in_english(text, detail)} not found in this translation"


def _in_english(text: str, number: dict[str, object]) -> str:
    """`` (13.61 million)`` for a count the English should state so, when that differs."""
    value = number.get("value")
    if number.get("kind") != "number" or not isinstance(value, int | float):
        return ""
    expected = english(value)
    return f" ({expected})" if expected != text else ""


def _repair_notes(repairs: Repairs) -> list[str]:
    """``numbers corrected: 1361 million → 13.61 million (1361万)``, terms by their source."""
    notes = []
    if repairs.numbers:
        fixed = ", ".join(f"{n.wrong} → {n.right} ({n.zh})" for n in repairs.numbers)
        notes.append(f"numbers corrected: {fixed}")
    for source, label in _TERM_NOTES:
        terms = dict.fromkeys(f"{t.was} → {t.en}" for t in repairs.terms if t.source == source)
        if terms:
            notes.append(f"{label}: {', '.join(terms)}")
    return notes


def _untranslated(zh: str = "") -> str:
    """The visible marker for a paragraph without English, with the Chinese.

    The reason is technical: it is in the folded details at the top and the quality report.
    """
    return md.text("⚠ not translated" + (f" — shown in Chinese: {zh}" if zh else ""))


# --- quality ---------------------------------------------------------------------------------


def quality_section(b: DocumentBundle) -> list[str]:
    parts = ["## Quality report", md.table(["Check", "Result"], _quality_rows(b))]
    issues = [(kind, i) for kind, a in _reports(b) for i in a]
    pids = {p.id for p in b.document.paragraphs}
    for title, kinds in ISSUE_GROUPS:
        rows = [_issue_row(kind, i, pids) for kind, i in issues if i.kind in kinds]
        parts += [f"### {title}", _table_or(["Task", "Where", "Severity", "Problem"], rows)]
    _, review = b.split_commitments()
    parts += ["### Unaligned commitments", _unaligned_note(len(review))]
    failed = [(a.kind, o) for a in b.artifacts() for o in a.chunks if o.status != "ok"]
    rows = [[a, md.cell(o.chunk_id), o.status, md.cell(o.error)] for a, o in failed]
    parts += ["### Failed chunks", _table_or(["Task", "Chunk", "Status", "Reason"], rows)]
    return parts


def _reports(b: DocumentBundle) -> list[tuple[str, list[Issue]]]:
    found = [("summary", b.summary), ("translation", b.translation)]
    return [(kind, a.quality.issues) for kind, a in found if a is not None]


def _quality_rows(b: DocumentBundle) -> list[list[str]]:
    rows: list[list[str]] = []
    if (t := b.translation) is not None:
        q = t.quality
        rows.append(["Paragraphs translated", f"{q.paragraphs_translated} of {q.paragraphs_total}"])
        rows.append(["Numbers preserved", f"{q.numbers_preserved} of {q.numbers_total}"])
        rows.append(["Glossary terms as prescribed", f"{q.glossary_adhered} of {q.glossary_terms}"])
        rows.append(["Numbers repaired", str(q.numbers_repaired)])
        rows.append(["Chinese replaced by a term, name or gloss", str(q.terms_replaced)])
    if (s := b.summary) is not None:
        q = s.quality
        rows.append(
            ["Summary numbers found in source", f"{q.numbers_preserved} of {q.numbers_total}"]
        )
    if (c := b.commitments) is not None:
        g = c.grounding
        rows.append(["Commitments grounded", f"{g.shown} shown, {g.unaligned} unaligned"])
        rows.append(["Grounding rate", f"{g.grounding_rate:.0%} of {g.extracted} extracted"])
        rows.append(["Commitments with failed field checks", str(g.checks_failed)])
    return rows or [["Checks", "no task output to check"]]


def _issue_row(kind: str, issue: Issue, pids: set[str]) -> list[str]:
    pid = issue.paragraph_id
    where = f"[{md.text(pid)}](#{md.anchor_id(pid)})" if pid in pids and pid else md.cell(pid)
    return [kind, where, issue.severity, md.cell(issue.message)]


def _unaligned_note(n: int) -> str:
    if not n:
        return "None."
    return f"{n} — see [needs review](#needs-review)."


def _table_or(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    return md.table(header, rows) if rows else "None."


# --- provenance ------------------------------------------------------------------------------


def provenance_section(
    b: DocumentBundle, generated_at: dt.datetime, reader_version: str
) -> list[str]:
    parts = ["## Provenance", stamp(generated_at, reader_version)]
    rows = [_provenance_row(a.kind, a.provenance) for a in b.artifacts()]
    header = ["Task", "Model", "Prompts", "Glossary", "Created", "Policy Reader", "Calls"]
    parts.append(_table_or(header, rows))
    if warnings := b.quality_warnings():
        parts.append(warning_block(warnings))
    return parts


def _provenance_row(kind: str, p: Provenance) -> list[str]:
    prompts = ", ".join(f"{k} {v}" for k, v in sorted(p.prompt_versions.items()))
    failed = f" ({p.failed_calls} failed)" if p.failed_calls else ""
    calls = (
        f"{p.calls} calls{failed}, {p.cache_hits} cached, {p.tokens_in} tokens in, "
        f"{p.tokens_out} out, ${p.cost_usd:.4f}"
    )
    return [
        kind,
        md.cell(f"{p.model} ({p.profile}, {p.endpoint})"),
        md.cell(prompts),
        md.cell(p.glossary_version),
        md.cell(p.created_at.isoformat(timespec="seconds")),
        md.cell(p.reader_version),
        md.cell(calls),
    ]
