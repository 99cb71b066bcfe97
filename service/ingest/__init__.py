"""Ingest: raw bytes → a cleaned, segmented ``Document`` with metadata and an audit trail.

decode (BOM, UTF-8, GB18030/Big5) → HTML to text when the content is HTML → clean
(boilerplate rules + pinyin) → script detection → metadata (manifest, else text) → segment.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from service.config import Settings
from service.errors import EmptyInput, InputError, InputTooLarge
from service.ingest.clean import clean_text
from service.ingest.decode import decode_bytes
from service.ingest.html import html_to_text, looks_like_html
from service.ingest.manifest import Manifest, manifest_for
from service.ingest.metadata import extract_meta
from service.ingest.script import detect_script
from service.ingest.segment import segment
from service.models import CleaningReport, Document

ID_HEX_CHARS = 16


def document_id(clean_text: str) -> str:
    """Short content hash of the cleaned text: same content, same id."""
    return hashlib.sha256(clean_text.encode("utf-8")).hexdigest()[:ID_HEX_CHARS]


def ingest_bytes(
    data: bytes, source_name: str, *, settings: Settings, manifest: Manifest | None = None
) -> Document:
    """Decode, clean, classify and segment one input; metadata from ``manifest`` if listed."""
    _check_size(len(data), source_name, settings)
    decoded, encoding = decode_bytes(data, source_name)
    is_html = looks_like_html(decoded)
    source_text = html_to_text(decoded) if is_html else decoded
    cleaned = clean_text(source_text)
    if not cleaned.text:
        raise EmptyInput(f"{source_name}: nothing left after removing page boilerplate.")
    report = CleaningReport(
        encoding=encoding,
        input_format="html" if is_html else "text",
        chars_raw=len(decoded),
        chars_clean=len(cleaned.text),
        removed=cleaned.removed,
        counts=cleaned.counts,
    )
    entry = (manifest or {}).get(source_name)
    return Document(
        id=document_id(cleaned.text),
        source_name=source_name,
        raw_sha256=hashlib.sha256(data).hexdigest(),
        script=detect_script(cleaned.text),
        text=cleaned.text,
        meta=extract_meta(source_text, cleaned, entry),
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


def _check_size(size: int, source_name: str, settings: Settings) -> None:
    if size > settings.max_input_bytes:
        raise InputTooLarge(
            f"{source_name}: {size} bytes is over the limit of {settings.max_input_bytes} "
            "bytes (READER_MAX_INPUT_BYTES)."
        )


__all__ = ["document_id", "ingest_bytes", "ingest_path"]
