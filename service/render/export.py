"""JSON export: the same data as the Markdown site, one file per document plus an index.

Offsets (paragraphs, commitment quotes) index ``document.text``, the cleaned text included in
the file, so ``text[start:end] == quote`` can be checked from the export alone.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from service.artifacts import KINDS
from service.render.bundle import DocumentBundle
from service.render.markdown import data_path, ordered, page_path

EXPORT_SCHEMA = "policy-reader.export/1"


def document_export(
    b: DocumentBundle, *, generated_at: dt.datetime, reader_version: str
) -> dict[str, Any]:
    """Everything known about one document; a commitment failing its offset check is moved
    to ``unaligned`` here exactly as on the page."""
    return {
        "schema": EXPORT_SCHEMA,
        "generated_at": generated_at.isoformat(),
        "reader_version": reader_version,
        "page": page_path(b.document.id),
        "document": b.document.model_dump(mode="json"),
        "tasks": {k: b.state(k).model_dump(mode="json", exclude={"kind"}) for k in KINDS},
        "summary": b.summary.model_dump(mode="json") if b.summary else None,
        "translation": b.translation.model_dump(mode="json") if b.translation else None,
        "commitments": _commitments(b),
        "failures": [f.model_dump(mode="json") for f in b.failures],
    }


def _commitments(b: DocumentBundle) -> dict[str, Any] | None:
    if b.commitments is None:
        return None
    grounded, review = b.split_commitments()
    return b.commitments.model_copy(
        update={"commitments": grounded, "unaligned": review}
    ).model_dump(mode="json")


def index_export(
    bundles: Sequence[DocumentBundle], *, generated_at: dt.datetime, reader_version: str
) -> dict[str, Any]:
    return {
        "schema": EXPORT_SCHEMA,
        "generated_at": generated_at.isoformat(),
        "reader_version": reader_version,
        "documents": [_index_entry(b) for b in ordered(bundles)],
    }


def _index_entry(b: DocumentBundle) -> dict[str, Any]:
    doc, meta = b.document, b.document.meta
    grounded, review = b.split_commitments()
    summary = b.summary.summary if b.summary else None
    return {
        "id": doc.id,
        "source_name": doc.source_name,
        "title_en": meta.title_en,
        "title_zh": meta.title_zh,
        "date": meta.date.isoformat() if meta.date else None,
        "outlet": meta.outlet,
        "headline": summary.headline if summary else None,
        "page": page_path(doc.id),
        "data": data_path(doc.id),
        "tasks": {k: b.state(k).model_dump(mode="json", exclude={"kind"}) for k in KINDS},
        "commitments": {
            "shown": len(grounded),
            "binding": sum(c.modality == "binding" for c in grounded),
            "aspirational": sum(c.modality == "aspirational" for c in grounded),
            "needs_review": len(review),
        },
        "quality_warnings": b.quality_warnings(),
    }


def dumps(payload: dict[str, Any]) -> str:
    """Stable JSON text: Chinese kept readable, key order as built, trailing newline."""
    return json.dumps(payload, ensure_ascii=False, indent=2) + "\n"
