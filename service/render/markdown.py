"""Corpus-level pages (index, commitments, glossary) as pure functions returning Markdown.

Every string that comes from a document or a model goes through ``escape``; links and anchors
are built here from ids. Layout: ``index.md``, ``commitments.md``, ``glossary.md`` at the root,
one ``docs/<doc-id>.md`` per document, ``data/<doc-id>.json`` beside them.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Sequence
from typing import get_args

from service.render import escape as md
from service.render.bundle import DocumentBundle, TaskState
from service.render.problems import problems
from service.tasks.commitments.schema import Commitment, Sector, Target

SECTOR_LABELS: dict[str, str] = {
    "science_technology": "Science and technology",
    "industry": "Industry",
    "economy_finance": "Economy and finance",
    "reform_governance": "Reform and governance",
    "party_building": "Party building",
    "infrastructure_transport": "Infrastructure and transport",
    "urban_development": "Urban development",
    "environment": "Environment",
    "social_welfare": "Social welfare",
    "health": "Health",
    "education": "Education",
    "culture": "Culture",
    "hong_kong_macao_cooperation": "Hong Kong and Macao cooperation",
    "agriculture": "Agriculture",
    "other": "Other",
}
_FIRST_SENTENCE = re.compile(r".+?[.!?](?=\s|$)|.+")
_SAME_TITLE = 0.8  # a headline this close to the title tells the reader nothing new
WARNING_LEAD = "**⚠ Machine output from a weak model — check before you rely on it.**"


def page_path(doc_id: str) -> str:
    """The document page, relative to the site root; the id is a content hash, so stable."""
    return f"docs/{md.anchor_id(doc_id)}.md"


def data_path(doc_id: str) -> str:
    return f"data/{md.anchor_id(doc_id)}.json"


def ordered(bundles: Sequence[DocumentBundle]) -> list[DocumentBundle]:
    """Chronological, undated documents last, ties by id: the order of every listing."""
    return sorted(bundles, key=lambda b: (b.document.meta.date or dt.date.max, b.document.id))


def stamp(generated_at: dt.datetime, reader_version: str) -> str:
    when = generated_at.isoformat(timespec="seconds")
    return f"Generated {when} by Policy Reader {md.text(reader_version)}."


def warning_block(warnings: Sequence[str]) -> str:
    """The model-quality warning as a blockquote (valid CommonMark, visible in any renderer)."""
    return md.quote_block([WARNING_LEAD, *(md.text(w) for w in warnings)])


def state_note(state: TaskState) -> str:
    """'⚠ translation failed: reason' style note; empty for a task that fully succeeded.

    A task that was not run is noted without the warning sign: nothing went wrong.
    """
    if state.status == "ok":
        return ""
    if state.status == "not_run":
        return f"{state.kind} not run"
    reason = f": {state.reason}" if state.reason else ""
    return f"⚠ {state.kind} {state.status}{reason}"


# --- index.md --------------------------------------------------------------------------------


def index_page(
    bundles: Sequence[DocumentBundle],
    *,
    generated_at: dt.datetime,
    reader_version: str,
    pages: Sequence[tuple[str, str]] = (),
) -> str:
    """The document list; ``pages`` are (label, path) of corpus pages beyond the fixed ones."""
    docs = ordered(bundles)
    links = [("All commitments", "commitments.md"), *pages, ("Glossary", "glossary.md")]
    links.append(("Data export (JSON)", "data/index.json"))
    parts = [
        "# Policy Reader — documents",
        f"{stamp(generated_at, reader_version)} {len(docs)} documents.",
        " · ".join(md.link(label, path) for label, path in links),
    ]
    warnings = list(dict.fromkeys(w for b in docs for w in b.quality_warnings()))
    if warnings:
        parts.append(warning_block(warnings))
    header = ["Date", "Document", "Outlet", "Summary", "Commitments", "Problems"]
    parts.append(md.table(header, [_index_row(b) for b in docs]) if docs else "No documents.")
    return _join(parts)


def _index_row(b: DocumentBundle) -> list[str]:
    meta = b.document.meta
    return [
        md.cell(meta.date.isoformat() if meta.date else None),
        md.link(b.title(), page_path(b.document.id)),
        md.cell(meta.outlet),
        one_line_summary(b),
        commitment_count(b),
        problems_cell(b),
    ]


def problems_cell(b: DocumentBundle) -> str:
    """What a reader misses on the page, in a few plain words; the reasons are on the page."""
    found = [p.short for p in problems(b)]
    return md.cell(f"⚠ {'; '.join(found)}" if found else None)


def one_line_summary(b: DocumentBundle) -> str:
    """The headline; its abstract's first sentence when the headline only repeats the title."""
    if b.summary is None or b.summary.summary is None:
        return md.cell("(no summary)")
    s = b.summary.summary
    if same_as_title(s.headline, b.title()) and s.abstract.strip():
        return md.cell(_first_sentence(s.abstract))
    return md.cell(s.headline)


def _first_sentence(text: str) -> str:
    found = _FIRST_SENTENCE.match(text.strip())
    return found[0] if found else text


def same_as_title(headline: str, title: str) -> bool:
    """A headline that only repeats the title (case and small wording aside)."""
    a, b = headline, title
    return difflib.SequenceMatcher(None, a.lower(), b.lower()).ratio() >= _SAME_TITLE


def commitment_count(b: DocumentBundle) -> str:
    state = b.state("commitments")
    if b.commitments is None:
        return md.cell("failed" if state.status == "failed" else "not run")
    grounded, review = b.split_commitments()
    binding = sum(c.modality == "binding" for c in grounded)
    text = f"{len(grounded)} ({binding} binding / {len(grounded) - binding} aspirational)"
    return md.cell(text + (f", {len(review)} need review" if review else ""))


# --- commitments.md --------------------------------------------------------------------------


def commitments_page(bundles: Sequence[DocumentBundle]) -> str:
    """Every grounded commitment by sector, then deadline (undated last), linked to its source."""
    rows: dict[str, list[tuple[DocumentBundle, Commitment]]] = {}
    review = 0
    for b in ordered(bundles):
        grounded, unaligned = b.split_commitments()
        review += len(unaligned)
        for c in grounded:
            rows.setdefault(c.sector, []).append((b, c))
    parts = ["# Commitments", _commitments_intro(sum(map(len, rows.values())), review)]
    for sector in get_args(Sector):
        if sector in rows:
            entries = sorted(rows[sector], key=_deadline_key)
            parts.append(f"## {md.text(SECTOR_LABELS[sector])} ({len(entries)})")
            parts.append(md.table(_CORPUS_HEADER, [_corpus_row(b, c) for b, c in entries]))
    return _join(parts)


_CORPUS_HEADER = ["Deadline", "Commitment", "Actor", "Targets", "Modality", "Source"]


def _commitments_intro(shown: int, review: int) -> str:
    text = (
        f"{shown} commitments grounded in the source text, grouped by sector and sorted by "
        "deadline (undated last). Each links to the paragraph that states it."
    )
    if review:
        text += (
            f" {review} more could not be matched to the text and are listed only on their "
            "document pages, under “needs review”."
        )
    return text


def _deadline_key(entry: tuple[DocumentBundle, Commitment]) -> tuple[dt.date, str, int]:
    b, c = entry
    due = iso_date(c.deadline_end) or iso_date(c.deadline_start) or dt.date.max
    return due, b.document.id, c.start or 0


def _corpus_row(b: DocumentBundle, c: Commitment) -> list[str]:
    pid = b.paragraph_of(c)
    href = page_path(b.document.id) + (f"#{md.anchor_id(pid)}" if pid else "")
    label = f"{b.title()} ¶{pid}" if pid else b.title()
    return [
        deadline_cell(c),
        md.cell(c.gloss_en),
        actor_cell(c),
        targets_cell(c.targets),
        modality_cell(c),
        md.link(label, href),
    ]


def iso_date(value: str | None) -> dt.date | None:
    """A model-given ISO date, or None when absent or malformed."""
    try:
        return dt.date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def deadline_cell(c: Commitment) -> str:
    start, end = iso_date(c.deadline_start), iso_date(c.deadline_end)
    if start and end and start != end:
        when = f"{start.isoformat()} – {end.isoformat()}"
    elif end or start:
        when = f"by {(end or start or dt.date.max).isoformat()}"
    else:
        when = ""
    written = c.deadline_text or ""
    text = f"{when} ({written})" if when and written else when or written
    return md.cell(text or None)


def actor_cell(c: Commitment) -> str:
    names = [n for n in (c.actor_en, c.actor_zh) if n]
    return md.cell(f"{names[0]} ({names[1]})" if len(names) == 2 else "".join(names) or None)


def targets_cell(targets: Sequence[Target]) -> str:
    return md.cell("; ".join(_target(t) for t in targets) or None)


def _target(t: Target) -> str:
    if t.value is None:
        return t.text
    value = f"{t.value:,.0f}" if t.value.is_integer() else f"{t.value:,g}"
    return f"{t.text} (= {value}{' ' + t.unit if t.unit else ''})"


def modality_cell(c: Commitment) -> str:
    return md.cell(f"{c.modality} ({c.trigger})" if c.trigger else c.modality)


# --- glossary.md -----------------------------------------------------------------------------


def glossary_page(terms: Sequence[tuple[str, str, str]] | None) -> str:
    parts = ["# Glossary"]
    if terms is None:
        parts.append("No glossary was supplied when this site was generated.")
    elif not terms:
        parts.append("No glossary term occurs in these documents.")
    else:
        unique = sorted(set(terms), key=lambda t: (t[1].casefold(), t[0], t[2]))
        parts.append(
            f"{len(unique)} terms that occur in these documents, with the official English "
            "rendering the translations are checked against."
        )
        rows = [[md.cell(zh), md.cell(en), md.cell(source)] for zh, en, source in unique]
        parts.append(md.table(["Chinese", "Official English", "Source"], rows))
    return _join(parts)


def _join(parts: Sequence[str]) -> str:
    """Blocks separated by one blank line; the file ends with exactly one newline."""
    return "\n\n".join(p for p in parts if p) + "\n"
