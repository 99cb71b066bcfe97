"""The summary artifact from what a strategy produced: the summary, its quality report (numbers
checked against the source), the chunk outcomes, the notes and the warnings."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

from service.artifacts import ChunkOutcome, Summary, SummaryArtifact, SummaryNotes, status_of
from service.checks.quality import QualityReport, summary_report
from service.errors import ConfigError
from service.models import Document
from service.tasks.summary.run import SummaryRun
from service.tasks.summary.schema import ISO_DATE, SummaryOut


def to_summary(parsed: BaseModel) -> Summary:
    """The model's answer as the artifact's ``Summary``."""
    if isinstance(parsed, SummaryOut):
        return Summary.model_validate(parsed.model_dump())
    raise ConfigError(f"Summary prompts must declare 'summary', not {type(parsed).__name__}.")


def quality_source(doc: Document) -> str:
    """The text numbers are checked against: the document plus its human-checked date."""
    date = doc.meta.date
    return doc.text if date is None else f"{doc.text}\n{date.year}年{date.month}月{date.day}日"


def quality_fields(summary: Summary) -> dict[str, str | list[str]]:
    """The summary's English fields, with an ISO date spelled out so it reads as a date."""
    fields: dict[str, str | list[str]] = {
        "headline": summary.headline,
        "abstract": summary.abstract,
        "key_points": summary.key_points,
        "people": [f"{p.name_en}, {p.role}" for p in summary.people],
    }
    for name, value in (("body", summary.body), ("place", summary.place)):
        if value:
            fields[name] = value
    if summary.date:
        fields["date"] = _spell_date(summary.date)
    return fields


def _spell_date(iso: str) -> str:
    parts = [int(p) for p in iso.split("-")] if ISO_DATE.match(iso) else []
    if len(parts) == 3:
        return dt.date(*parts).strftime("%B %-d, %Y")
    if len(parts) == 2:
        return dt.date(parts[0], parts[1], 1).strftime("%B %Y")
    return iso


def artifact(
    run: SummaryRun,
    summary: Summary | None,
    method: str,
    outcomes: list[ChunkOutcome],
    notes: list[SummaryNotes],
    *,
    status: str | None = None,
) -> SummaryArtifact:
    """The artifact; failed without a summary, partial when material was cut or dropped."""
    quality = (
        summary_report(quality_source(run.doc), quality_fields(summary))
        if summary is not None
        else QualityReport()
    )
    final = status or status_of(outcomes)
    if summary is None:
        final = "failed"
    elif final == "ok" and run.warnings:
        final = "partial"  # material was cut or dropped to fit the context
    return SummaryArtifact.model_validate(
        {
            "doc_id": run.doc.id,
            "status": final,
            "summary": summary,
            "method": method,
            "chunks": outcomes,
            "quality": quality,
            "provenance": run.ctx.provenance(),
            "notes": notes,
            "warnings": run.warnings,
        }
    )
