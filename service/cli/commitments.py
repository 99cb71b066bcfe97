"""`commitments` and `eval commitments`: the rule detector or the model pipeline."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from service.cli.app import app, err_console, eval_app, friendly_errors
from service.config import get_settings
from service.tasks.commitments.rules import DEFAULT_THRESHOLD

if TYPE_CHECKING:
    from service.artifacts import CommitmentsArtifact
    from service.config import Settings
    from service.eval.commitments import Detector
    from service.tasks.context import ProgressEvent


@app.command()
@friendly_errors
def commitments(
    paths: Annotated[list[Path], typer.Argument(help="Documents to scan.")],
    rules_only: Annotated[
        bool, typer.Option("--rules-only", help="Rule-based detector, no model.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of lines.")] = False,
    min_score: Annotated[
        float, typer.Option("--min-score", help="Drop rule candidates scoring below this.")
    ] = DEFAULT_THRESHOLD,
) -> None:
    """List the pledges a document makes."""
    from service.eval.commitments import load_text
    from service.tasks.commitments.rules import detect

    if not rules_only:
        _print_artifacts(_extract_with_model(paths), as_json=as_json)
        return
    settings = get_settings()
    found = {str(p): detect(load_text(p, settings), threshold=min_score) for p in paths}
    if as_json:
        payload = {k: [c.model_dump() for c in v] for k, v in found.items()}
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    for name, candidates in found.items():
        for c in candidates:
            typer.echo(f"{name}\t{c.start}-{c.end}\t{c.modality}\t{c.score}\t{c.quote}")


@eval_app.command("commitments")
@friendly_errors
def eval_commitments(
    golden: Annotated[Path, typer.Option("--golden", help="JSON list of {doc, quote, kind}.")],
    rules_only: Annotated[
        bool, typer.Option("--rules-only", help="Score the rule-based detector.")
    ] = False,
    corpus: Annotated[
        Path | None, typer.Option("--corpus", help="Folder of the golden documents.")
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also list false positives.")
    ] = False,
    min_score: Annotated[
        float, typer.Option("--min-score", help="Drop rule candidates scoring below this.")
    ] = DEFAULT_THRESHOLD,
    tiers: Annotated[
        bool, typer.Option("--tiers", help="Score the rule detector's concrete tier.")
    ] = False,
) -> None:
    """Precision, recall and F1 of pledge detection against a golden set."""
    from service.eval.commitments import (
        evaluate_files,
        evaluate_tier_files,
        format_report,
        format_tier,
    )

    if tiers:
        for line in format_tier(evaluate_tier_files(golden, get_settings(), corpus_dir=corpus)):
            typer.echo(line)
        return
    detector = None if rules_only else _model_detector(golden, corpus)
    report = evaluate_files(
        golden, get_settings(), corpus_dir=corpus, threshold=min_score, detector=detector
    )
    for line in format_report(report, verbose=verbose):
        typer.echo(line)


def _extract_with_model(paths: list[Path]) -> dict[str, CommitmentsArtifact]:
    """Ingest, chunk at the profile's budget and run the commitments task; keyed by path."""
    return asyncio.run(_extract_all(paths, get_settings()))


async def _extract_all(paths: list[Path], settings: Settings) -> dict[str, CommitmentsArtifact]:
    from service.artifacts import CommitmentsArtifact
    from service.ingest import ingest_path
    from service.reader import Reader

    found: dict[str, CommitmentsArtifact] = {}
    async with Reader.open(settings) as reader:
        for path in paths:
            doc = ingest_path(path, settings=settings)
            artifact = await reader.run_task(doc, "commitments", progress=_progress)
            assert isinstance(artifact, CommitmentsArtifact)
            found[str(path)] = artifact
    return found


def _progress(event: ProgressEvent) -> None:
    mark = " (failed)" if event.failed else ""
    err_console.print(f"{event.doc_id} {event.task} {event.done}/{event.total}{mark}")


def _print_artifacts(found: dict[str, CommitmentsArtifact], *, as_json: bool) -> None:
    if as_json:
        payload = {k: a.model_dump(mode="json") for k, a in found.items()}
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    for name, art in found.items():
        for c in art.commitments:
            typer.echo(f"{name}\t{c.start}-{c.end}\t{c.modality}\t{c.source}\t{c.quote}")
        g = art.grounding
        err_console.print(
            f"{name}: {art.status}, {g.shown} shown, {g.unaligned} unaligned, "
            f"{g.checks_failed} failed checks, {g.second_pass_calls} recall calls"
        )


def _model_detector(golden: Path, corpus: Path | None) -> Detector:
    """Run the pipeline on the golden documents; the scorer then looks predictions up by text."""
    from service.eval.commitments import Prediction, load_golden, load_text

    base = corpus or get_settings().corpus_dir
    paths = [base / doc for doc in sorted({g.doc for g in load_golden(golden)})]
    found = _extract_with_model(paths)
    by_text: dict[str, list[Prediction]] = {}
    for path, art in zip(paths, found.values(), strict=True):
        text = load_text(path, get_settings())
        by_text[text] = [
            Prediction(c.start, c.end, c.quote)
            for c in art.commitments
            if c.start is not None and c.end is not None and c.quote is not None
        ]
    return lambda text: by_text[text]
