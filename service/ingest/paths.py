"""Ingest several paths at once (files or folders), collecting failures instead of stopping."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.config import Settings
from service.errors import ServiceError
from service.ingest import ingest_path
from service.models import Document

SUFFIXES = (".txt", ".html", ".htm")


@dataclass
class BatchResult:
    documents: list[Document] = field(default_factory=list)
    failures: list[tuple[Path, ServiceError]] = field(default_factory=list)


def expand(paths: list[Path]) -> list[Path]:
    """Files as given; a folder stands for its .txt/.html files in name order."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES))
        else:
            files.append(path)
    return files


def ingest_many(paths: list[Path], *, settings: Settings) -> BatchResult:
    """Ingest every file; a bad file is recorded with its error and the others still run."""
    result = BatchResult()
    for path in expand(paths):
        try:
            result.documents.append(ingest_path(path, settings=settings))
        except ServiceError as exc:
            result.failures.append((path, exc))
    return result


def document_json(doc: Document) -> dict[str, Any]:
    """The JSON shape of ``policy-reader ingest --json``: the document plus a size summary."""
    body = doc.model_dump(mode="json")
    body["summary"] = {
        "chars_raw": doc.cleaning.chars_raw,
        "chars_clean": doc.cleaning.chars_clean,
        "paragraphs": len(doc.paragraphs),
        "headings": sum(1 for p in doc.paragraphs if p.is_heading),
        "removed": sum(doc.cleaning.counts.values()),
    }
    return body
