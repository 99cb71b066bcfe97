"""``targets.md``: targets over time, one overview per series and the quotes per indicator."""

from __future__ import annotations

from collections.abc import Sequence

from service.render import escape as md
from service.targets.series import IndicatorRow, SeriesDocument, SeriesTable, TargetCell

TARGETS_INTRO = (
    "When documents of one series (the same report, year after year) set a target for the "
    "same indicator, the targets stand side by side. Found by rules from the Chinese text, "
    "not by a model; each target links to the paragraph it is quoted from. A dash means no "
    "target for that indicator was found in that year's document."
)


def targets_page(tables: Sequence[SeriesTable]) -> str:
    """The page: per series an indicator × year overview, then each indicator's quotes."""
    parts = ["# Targets over time", "[← All documents](index.md)", md.text(TARGETS_INTRO)]
    for table in tables:
        parts += series_section(table)
    return "\n\n".join(parts) + "\n"


def series_section(table: SeriesTable) -> list[str]:
    years = ", ".join(column_label(d) for d in table.documents)
    parts = [f"## {md.text(table.series)}", md.text(f"{len(table.documents)} documents: {years}.")]
    header = ["Indicator", *(column_label(d) for d in table.documents)]
    parts.append(md.table(header, [_overview_row(row, table.documents) for row in table.rows]))
    for row in table.rows:
        parts += _indicator_section(table, row)
    return parts


def column_label(doc: SeriesDocument) -> str:
    return str(doc.year) if doc.year is not None else doc.title


def _overview_row(row: IndicatorRow, docs: Sequence[SeriesDocument]) -> list[str]:
    by_doc = {c.doc_id: c for c in row.cells}
    cells = [_target_link(by_doc[d.id]) if d.id in by_doc else "–" for d in docs]
    return [md.link(row.en, f"#{_anchor(row)}"), *cells]


def _target_link(cell: TargetCell) -> str:
    return md.link(cell.target.value, cell.link) if cell.link else md.text(cell.target.value)


def _anchor(row: IndicatorRow) -> str:
    return md.anchor_id(f"target-{row.key}")


def _indicator_section(table: SeriesTable, row: IndicatorRow) -> list[str]:
    with_english = any(c.en for c in row.cells)
    header = ["Year", "Target", "Chinese quote", *(["Official English"] if with_english else [])]
    rows = []
    for cell in row.cells:
        source = md.text(f"“{cell.target.excerpt}”")
        if cell.link:
            source = f"{source} {md.link('¶' + cell.paragraph_id, cell.link)}"
        english = [md.cell(cell.en)] if with_english else []
        rows.append([md.cell(str(cell.year or "")), _target_link(cell), source, *english])
    return [f"### {md.anchor(_anchor(row))}{md.text(row.en)}", md.table(header, rows)]
