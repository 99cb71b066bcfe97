"""`tracker`: the promise tracker of the stored commitments, with no model call."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from service.cli.app import app, friendly_errors
from service.config import get_settings
from service.errors import NotFound

if TYPE_CHECKING:
    from service.tasks.commitments.tracker import Tracker


@app.command("tracker")
@friendly_errors
def tracker_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the tracker as JSON.")] = False,
    entity: Annotated[
        str | None,
        typer.Option("--entity", help="Only this entity (key in either script, or its id)."),
    ] = None,
) -> None:
    """Entities the stored commitments are about, most-linked first (no model call)."""
    tracker = _load()
    if entity is not None:
        _print_entity(tracker, entity, as_json=as_json)
    elif as_json:
        typer.echo(tracker.model_dump_json(indent=2))
    else:
        for e in tracker.entities:
            name = e.name_en or "(no English name in the glossary)"
            typer.echo(f"{e.documents}\t{e.commitments}\t{e.concrete}\t{e.key}\t{name}")


def _load() -> Tracker:
    from service.library import Library
    from service.store.store import Store

    settings = get_settings()
    store = Store(settings.db_url)
    try:
        return Library(settings, store).tracker()
    finally:
        store.close()


def _print_entity(tracker: Tracker, key: str, *, as_json: bool) -> None:
    found = tracker.entity(key)
    if found is None:
        raise NotFound(
            f"No stored commitment is about {key!r}; `policy-reader tracker` lists them."
        )
    about = tracker.about(found.key)
    if as_json:
        payload = {"entity": found.model_dump(mode="json"),
                   "commitments": [c.model_dump(mode="json") for c in about]}  # fmt: skip
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    typer.echo(f"{found.key}\t{found.name_en or ''}")
    for c in about:
        when = c.doc_date.isoformat() if c.doc_date else str(c.year or "undated")
        english = c.english_shown()
        typer.echo(f"{when}\t{c.tier}\t{c.doc_id}#{c.paragraph_id or ''}\t{c.quote}\t{english}")
