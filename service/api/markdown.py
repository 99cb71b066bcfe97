"""One artifact as Markdown, built from the site renderer's section functions (no copy).

The sections are the ones the site's document page uses (``service.render.document``), so an
artifact reads the same over the API as on its page.
"""

from __future__ import annotations

import datetime as dt

from service import __version__
from service.artifacts import Artifact
from service.models import Document
from service.render import escape as md
from service.render.bundle import DocumentBundle
from service.render.document import (
    bilingual_section,
    commitments_section,
    english_section,
    provenance_section,
    quality_section,
    summary_section,
)
from service.render.markdown import warning_block

MEDIA_TYPE = "text/markdown; charset=utf-8"


def artifact_markdown(doc: Document, artifact: Artifact, *, bilingual: bool = False) -> str:
    """Title, model warning, the artifact's section, its quality report and provenance."""
    b = DocumentBundle(document=doc).model_copy(update={artifact.kind: artifact})
    parts = [f"# {md.text(b.title())}"]
    if warnings := b.quality_warnings():
        parts.append(warning_block(warnings))
    if artifact.kind == "summary":
        parts += summary_section(b)
    elif artifact.kind == "commitments":
        parts += commitments_section(b)
    else:
        parts += bilingual_section(b) if bilingual else english_section(b)
    now = dt.datetime.now(dt.UTC)
    parts += quality_section(b) + provenance_section(b, now, __version__)
    return "\n\n".join(parts) + "\n"
