"""Documents for a series table: bilingual reference files, or any input Policy Reader reads."""

from __future__ import annotations

from pathlib import Path

from service.config import Settings
from service.errors import InputError
from service.eval.reference import ReferenceDoc, load_reference
from service.ingest import ingest_path
from service.ingest.paths import SUFFIXES
from service.targets.series import SeriesDocument, SourceParagraph, from_document, year_of


def from_reference(doc: ReferenceDoc) -> SeriesDocument:
    """A bilingual reference file: its pairs are the paragraphs (p0, p1, …), English kept."""
    paragraphs = [SourceParagraph(id=f"p{p.index}", zh=p.zh, en=p.en) for p in doc.pairs]
    return SeriesDocument(
        id=doc.name, title=doc.name, year=year_of(doc.name), paragraphs=paragraphs
    )


def load_folder(folder: Path, settings: Settings) -> list[SeriesDocument]:
    """Every document in ``folder``: ``.md`` reference files keep their official English."""
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder; give the folder holding the series")
    docs = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() == ".md":
            docs.append(from_reference(load_reference(path)))
        elif path.suffix.lower() in SUFFIXES:
            docs.append(from_document(ingest_path(path, settings=settings)))
    if not docs:
        raise InputError(f"{folder}: no .md, .txt or .html documents in it")
    return docs
