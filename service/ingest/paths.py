"""Ingest several sources at once (files, folders, URLs); a failure is recorded, not fatal."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.config import Settings
from service.errors import ServiceError
from service.ingest import ingest_source
from service.ingest.fetch import is_url
from service.models import Document

SUFFIXES = (".txt", ".html", ".htm", ".pdf", ".docx")
Source = Path | str  # a file or folder, or an http(s) URL


@dataclass
class BatchResult:
    documents: list[Document] = field(default_factory=list)
    failures: list[tuple[Source, ServiceError]] = field(default_factory=list)


def sources(args: list[str]) -> list[Source]:
    """Command-line arguments: URLs stay strings (``Path`` would fold their ``//``)."""
    return [arg if is_url(arg) else Path(arg) for arg in args]


def expand(paths: list[Source]) -> list[Source]:
    """Files and URLs as given; a folder stands for its supported files in name order."""
    files: list[Source] = []
    for path in paths:
        if isinstance(path, Path) and path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES))
        else:
            files.append(path)
    return files


def ingest_many(paths: list[Source], *, settings: Settings) -> BatchResult:
    """Ingest every source; a bad one is recorded with its error and the others still run."""
    result = BatchResult()
    for path in expand(paths):
        try:
            result.documents.append(ingest_source(path, settings=settings))
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
