"""Ingest: raw bytes → a cleaned, segmented ``Document`` with metadata and an audit trail.

read by content (PDF text layer, Word .docx, else decode: BOM, UTF-8, GB18030/Big5, and
HTML through the article extractor) → clean (boilerplate rules + pinyin) → script detection
→ metadata (manifest, else what the format and the text say) → segment.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from service.config import Settings
from service.errors import EmptyInput, InputError, InputTooLarge
from service.ingest.clean import clean_text
from service.ingest.fetch import fetch_url, is_url
from service.ingest.formats import extract
from service.ingest.manifest import Manifest, manifest_for
from service.ingest.metadata import extract_meta
from service.ingest.script import detect_script
from service.ingest.segment import segment
from service.models import CleaningReport, Document, RemovedItem

ID_HEX_CHARS = 16


def document_id(clean_text: str) -> str:
    """Short content hash of the cleaned text: same content, same id."""
    return hashlib.sha256(clean_text.encode("utf-8")).hexdigest()[:ID_HEX_CHARS]


def ingest_bytes(
    data: bytes,
    source_name: str,
    *,
    settings: Settings,
    manifest: Manifest | None = None,
    source_url: str | None = None,
) -> Document:
    """Read, clean, classify and segment one input; metadata from ``manifest`` if listed."""
    _check_size(len(data), source_name, settings)
    extracted = extract(data, source_name)
    cleaned = clean_text(extracted.text)
    if not cleaned.text:
        raise EmptyInput(f"{source_name}: nothing left after removing page boilerplate.")
    removed = extracted.removed + cleaned.removed
    report = CleaningReport(
        encoding=extracted.encoding,
        input_format=extracted.input_format,
        chars_raw=len(extracted.text),
        chars_clean=len(cleaned.text),
        removed=removed,
        counts={**_counts(extracted.removed), **cleaned.counts},
    )
    hints = dict(extracted.hints)
    if source_url:
        hints["source_url"] = (source_url, "fetched")
    entry = (manifest or {}).get(source_name)
    return Document(
        id=document_id(cleaned.text),
        source_name=source_name,
        raw_sha256=hashlib.sha256(data).hexdigest(),
        script=detect_script(cleaned.text),
        text=cleaned.text,
        meta=extract_meta(extracted.text, cleaned, entry, hints),
        cleaning=report,
        paragraphs=segment(cleaned.text),
    )


def ingest_path(path: Path, *, settings: Settings) -> Document:
    """Ingest a file; its size is checked before it is read."""
    if not path.is_file():
        raise InputError(f"{path}: no such file.")
    _check_size(path.stat().st_size, path.name, settings)
    manifest = manifest_for(path, settings.corpus_dir)
    return ingest_bytes(path.read_bytes(), path.name, settings=settings, manifest=manifest)


def ingest_source(source: Path | str, *, settings: Settings) -> Document:
    """A file, or an http(s) URL fetched first (the URL is kept as ``meta.source_url``)."""
    if isinstance(source, str) and is_url(source):
        fetched = fetch_url(source, settings=settings)
        return ingest_bytes(fetched.data, fetched.name, settings=settings, source_url=source)
    return ingest_path(Path(source), settings=settings)


def _counts(removed: list[RemovedItem]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in removed:
        counts[item.rule] = counts.get(item.rule, 0) + 1
    return counts


def _check_size(size: int, source_name: str, settings: Settings) -> None:
    if size > settings.max_input_bytes:
        raise InputTooLarge(
            f"{source_name}: {size} bytes is over the limit of {settings.max_input_bytes} "
            "bytes (READER_MAX_INPUT_BYTES)."
        )


__all__ = ["document_id", "ingest_bytes", "ingest_path", "ingest_source"]
