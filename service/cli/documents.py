"""Commands on documents without a model: ingest and the glossary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Column, Table

from service.cli.app import app, err_console, friendly_errors
from service.config import get_settings
from service.errors import InputError
from service.ingest.paths import document_json, ingest_many, sources
from service.models import Document


@app.command("glossary")
@friendly_errors
def glossary_command(
    path: Annotated[
        Path | None, typer.Argument(help="A UTF-8 text file: list the glossary terms it uses.")
    ] = None,
) -> None:
    """Validate the glossary; with PATH, print the prompt lines for the terms found in it."""
    from service.checks.glossary import Glossary

    glossary = Glossary.from_settings(get_settings())
    typer.echo(f"glossary {glossary.version}: {len(glossary)} entries")
    if path is not None:
        typer.echo(Glossary.render_lines(glossary.entries_in(_read_text(path))))


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path} as UTF-8 text: {exc}") from exc


@app.command()
@friendly_errors
def ingest(
    paths: list[str] = typer.Argument(  # noqa: B008
        ..., help="Files, folders (.txt/.html/.pdf/.docx) or http(s) URLs to ingest."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the documents as a JSON list."),
) -> None:
    """Read, clean and segment documents (no model calls); exit 1 if any input failed."""
    result = ingest_many(sources(paths), settings=get_settings())
    for _path, exc in result.failures:
        # The message names the file already (ServiceError messages say which input failed).
        err_console.print(f"[red]error:[/red] {exc.message}", highlight=False)
    if as_json:
        typer.echo(json.dumps([document_json(d) for d in result.documents], ensure_ascii=False))
    else:
        Console().print(_ingest_table(result.documents))
    if result.failures:
        raise typer.Exit(1)


def _ingest_table(documents: list[Document]) -> Table:
    # Narrow terminals wrap names and ids ("fold") instead of cutting them with "…".
    folded = [Column(name, overflow="fold") for name in ("file", "id", "script")]
    table = Table(*folded, "date", "chars raw→clean", "paras", "removed")
    for doc in documents:
        table.add_row(
            doc.source_name,
            doc.id,
            doc.script,
            str(doc.meta.date or ""),
            f"{doc.cleaning.chars_raw}→{doc.cleaning.chars_clean}",
            str(len(doc.paragraphs)),
            str(sum(doc.cleaning.counts.values())),
        )
    return table
