"""`eval translation`: chrF, numbers and glossary against official translations."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from service.cli.app import eval_app, friendly_errors
from service.config import get_settings


@eval_app.command("translation")
@friendly_errors
def eval_translation(
    reference: Annotated[
        Path,
        typer.Option(
            "--reference", help="A bilingual reference file or folder (Chinese<br/>English)."
        ),
    ],
    limit: Annotated[int, typer.Option("--limit", help="Paragraphs per document.")] = 5,
    offset: Annotated[int, typer.Option("--offset", help="Skip this many paragraphs.")] = 0,
    docs: Annotated[
        list[str] | None,
        typer.Option("--docs", help="Only documents whose name contains this (comma list)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON with every paragraph.")] = False,
) -> None:
    """chrF, number preservation and glossary adherence against official translations."""

    from service.eval.translation import (
        HEADER,
        load_references,
        run_translation_eval,
        table_rows,
    )

    names = [n.strip() for d in docs or [] for n in d.split(",")]
    refs = load_references(reference, names)
    settings = get_settings()
    result = asyncio.run(run_translation_eval(settings, refs, limit=limit, offset=offset))
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        return
    table = Table(
        *HEADER, title=f"{result.model} ({result.profile}), prompt {result.prompt_version}"
    )
    for row in table_rows(result):
        table.add_row(*row)
    Console().print(table)
