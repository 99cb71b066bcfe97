"""`targets DIR`: what documents of one series set for the same indicator, year by year."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from service.cli.app import app, friendly_errors
from service.config import get_settings

if TYPE_CHECKING:
    from service.targets.series import IndicatorRow, SeriesTable


@app.command("targets")
@friendly_errors
def targets_command(
    folder: Annotated[Path, typer.Argument(help="A folder of documents, e.g. yearly reports.")],
    indicator: Annotated[
        list[str] | None,
        typer.Option("--indicator", "-i", help="Only these indicator keys (e.g. gdp-growth)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Targets over time: per indicator, each year's target with its quote (no model)."""
    from service.targets.inputs import load_folder
    from service.targets.series import series_tables

    tables = series_tables(load_folder(folder, get_settings()))
    if indicator:
        tables = [_only(t, set(indicator)) for t in tables]
    if as_json:
        skip = {"documents": {"__all__": {"paragraphs"}}}  # the text itself is not the answer
        payload = [t.model_dump(mode="json", exclude=skip) for t in tables]
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    if not tables:
        typer.echo(
            f"No series with targets in {folder}: documents form a series when their titles "
            "differ only by the year, and at least one of them must set a target."
        )
    for table in tables:
        typer.echo("\n".join(table_lines(table)))


def _only(table: SeriesTable, keys: set[str]) -> SeriesTable:
    return table.model_copy(update={"rows": [r for r in table.rows if r.key in keys]})


def table_lines(table: SeriesTable) -> list[str]:
    """The series as text: per indicator, year → target → Chinese quote (→ official English)."""
    years = " ".join(str(d.year or d.title) for d in table.documents)
    lines = [f"{table.series} — {len(table.documents)} documents: {years}"]
    for row in table.rows:
        lines += ["", f"{row.en} [{row.key}]", *_row_lines(table, row)]
    return lines


def _row_lines(table: SeriesTable, row: IndicatorRow) -> list[str]:
    by_doc = {c.doc_id: c for c in row.cells}
    lines = []
    for doc in table.documents:
        cell = by_doc.get(doc.id)
        year = str(doc.year or "?")
        if cell is None:
            lines.append(f"  {year}  –  (no target found)")
            continue
        lines.append(f"  {year}  {cell.target.value}  ({doc.id} ¶{cell.paragraph_id})")
        lines.append(f"        zh: {cell.target.excerpt}")
        if cell.en:
            lines.append(f"        en: {cell.en}")
    return lines
