"""The promise tracker's pages: ``tracker.md`` (entities, most-linked first), one page per
entity under ``entities/`` (its commitments by document date, concrete first), and the "also in"
section of a document page. Pure: a ``Tracker`` in, Markdown out.
"""

from __future__ import annotations

from collections.abc import Sequence

from service.render import escape as md
from service.render.markdown import page_path
from service.tasks.commitments.tracker import (
    TrackedCommitment,
    TrackedEntity,
    Tracker,
)

TRACKER_PATH = "tracker.md"
_VIA = {
    "name": "named in the quote",
    "alias": "named in the quote",
    "short_form": "short form in the quote",
    "sentence": "named in the same sentence",
    "section": "heading of its section",
}
_NAME_SOURCE = {
    "glossary": "English name from the glossary",
    "model": "English name from the model (the glossary has none): check it",
    "none": "no English name in the glossary: shown in Chinese",
}


def entity_path(e: TrackedEntity) -> str:
    """The entity's page, relative to the site root."""
    return f"entities/{e.id}.md"


def entity_label(e: TrackedEntity) -> str:
    return f"{e.name_en} ({e.key})" if e.name_en else e.key


def tracker_page(tracker: Tracker) -> str:
    """Every entity a commitment is about, most-linked first, with its counts."""
    parts = [
        "# Promise tracker",
        md.text(
            f"{len(tracker.entities)} named projects, zones, platforms, plans and programmes "
            f"that {sum(bool(c.entities) for c in tracker.commitments)} commitments are about, "
            "across documents and years; "
            "the ones linked from the most documents first. Each page lists every commitment "
            "about its entity by document date, with the Chinese quote beside its English."
        ),
    ]
    rows = [
        [md.link(entity_label(e), entity_path(e)), md.cell(_NAME_SOURCE[e.name_source]),
         str(e.documents), str(e.commitments), str(e.concrete)]
        for e in tracker.entities
    ]  # fmt: skip
    header = ["Entity", "Name", "Documents", "Commitments", "Concrete"]
    parts.append(md.table(header, rows) if rows else "No commitment names an entity.")
    return "\n\n".join(parts) + "\n"


def entity_page(tracker: Tracker, e: TrackedEntity) -> str:
    """One entity: its names, then its commitments by document date (concrete, then general)."""
    about = tracker.about(e.key)
    parts = [
        f"# {md.text(entity_label(e))}",
        md.link("← Promise tracker", f"../{TRACKER_PATH}"),
        md.text(f"{_NAME_SOURCE[e.name_source]}. Written as: {'、'.join(e.forms)}."),
        md.text(f"{e.commitments} commitments in {e.documents} documents."),
    ]
    for tier, title in (("concrete", "Concrete commitments"), ("general", "General statements")):
        rows = [_row(c, e.key) for c in about if c.tier == tier]
        if rows:
            parts += [f"## {title} ({len(rows)})", md.table(_HEADER, rows)]
    return "\n\n".join(parts) + "\n"


_HEADER = ["Date", "Document", "Quote", "English", "Targets", "Deadline", "Link"]


def _row(c: TrackedCommitment, key: str) -> list[str]:
    via = next(link.via for link in c.entities if link.key == key)
    return [
        md.cell(_when(c)), md.cell(c.doc_title), md.cell(c.quote),
        md.cell(c.english_shown()), md.cell("; ".join(c.targets)),
        md.cell(c.deadline), md.link(f"¶{c.paragraph_id or ''} ({_VIA[via]})", "../" + _href(c)),
    ]  # fmt: skip


def _when(c: TrackedCommitment) -> str:
    if c.doc_date is not None:
        return c.doc_date.isoformat()
    return f"{c.year} (year of the title)" if c.year else "undated"


def _href(c: TrackedCommitment) -> str:
    anchor = f"#{md.anchor_id(c.paragraph_id)}" if c.paragraph_id else ""
    return page_path(c.doc_id) + anchor


def also_in_section(doc_id: str, tracker: Tracker | None) -> list[str]:
    """For a document page: its entities that other documents' commitments are about too."""
    if tracker is None:
        return []
    keys = _keys_of(doc_id, tracker.commitments)
    lines = []
    for e in (x for x in tracker.entities if x.key in keys):
        others = {c.doc_id: c for c in tracker.about(e.key) if c.doc_id != doc_id}
        if others:
            where = "; ".join(
                f"{md.link(c.doc_title, '../' + page_path(c.doc_id))} ({md.text(_when(c))})"
                for c in others.values()
            )
            lines.append(f"- {md.link(entity_label(e), '../' + entity_path(e))}: also in {where}")
    return ["## Also in", "\n".join(lines)] if lines else []


def _keys_of(doc_id: str, commitments: Sequence[TrackedCommitment]) -> set[str]:
    return {link.key for c in commitments if c.doc_id == doc_id for link in c.entities}
