"""Documents and their stored artifacts: everything that needs no model.

The CLI and the API share this; it wraps ingestion, chunking and the store.
"""

from __future__ import annotations

import builtins
import datetime as dt
from pathlib import Path

from pydantic import TypeAdapter

from service.artifacts import Artifact, ArtifactKind, CommitmentsArtifact, TranslationArtifact
from service.checks.glossary import Glossary
from service.chunk import chunk_document
from service.config import Settings
from service.errors import NotFound
from service.ingest import ingest_bytes, ingest_path, ingest_source
from service.models import Chunk, Document, DocumentMeta
from service.store.store import Store
from service.tasks.commitments.tracker import Tracker, build_tracker, entity_names

ARTIFACT = TypeAdapter[Artifact](Artifact)
#: The artifacts the tracker is built from.
TRACKER_KINDS = ("commitments", "translation")


class Library:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        # The last tracker built, by what it was built from (the API asks for it per request).
        self._tracker: tuple[tuple[object, ...], Tracker] | None = None

    # --- documents -------------------------------------------------------------------------

    def add_bytes(
        self, data: bytes, source_name: str, meta: DocumentMeta | None = None
    ) -> tuple[Document, bool]:
        """Ingest and store; returns (document, created). Same content → same id."""
        doc = ingest_bytes(data, source_name, settings=self.settings)
        return self._save(_with_meta(doc, meta))

    def add_path(self, path: Path) -> tuple[Document, bool]:
        return self._save(ingest_path(path, settings=self.settings))

    def add_source(self, source: Path | str) -> tuple[Document, bool]:
        """A file, or an http(s) URL fetched first."""
        return self._save(ingest_source(source, settings=self.settings))

    def _save(self, doc: Document) -> tuple[Document, bool]:
        existing = self.find(doc.id)
        if existing is not None:
            return existing, False
        self.store.save_document(doc)
        return doc, True

    def find(self, doc_id: str) -> Document | None:
        try:
            return self.store.get_document(doc_id)
        except NotFound:
            return None

    def get(self, doc_id: str) -> Document:
        return self.store.get_document(doc_id)

    def list(
        self,
        *,
        offset: int = 0,
        limit: int = 50,
        date_from: dt.date | None = None,
        date_to: dt.date | None = None,
        outlet: str | None = None,
    ) -> tuple[builtins.list[Document], int]:
        """A page of documents matching the filters, and how many match in all."""
        docs = [
            d for d in self.store.list_documents() if _matches(d.meta, date_from, date_to, outlet)
        ]
        return docs[offset : offset + limit], len(docs)

    def delete(self, doc_id: str) -> None:
        if not self.store.delete_document(doc_id):
            raise NotFound(f"No document with id {doc_id!r}.")

    def chunks(self, doc: Document, budget: int) -> builtins.list[Chunk]:
        return chunk_document(doc.text, doc.paragraphs, budget)

    # --- artifacts -------------------------------------------------------------------------

    def artifact(
        self, doc_id: str, kind: ArtifactKind, variant: str | None = None
    ) -> Artifact | None:
        """The stored artifact of this variant (or the newest of any variant)."""
        stored = self.store.get_artifact(doc_id, kind, variant)
        return None if stored is None else ARTIFACT.validate_python(stored.payload)

    def commitments_corpus(self) -> builtins.list[tuple[Document, CommitmentsArtifact]]:
        """Every stored document that has commitments, with its newest commitments artifact."""
        found: builtins.list[tuple[Document, CommitmentsArtifact]] = []
        for doc in self.store.list_documents():
            artifact = self.artifact(doc.id, "commitments")
            if isinstance(artifact, CommitmentsArtifact):
                found.append((doc, artifact))
        return found

    def tracker(self, glossary: Glossary | None = None) -> Tracker:
        """The promise tracker of the stored commitments; no model call. Entity names from
        ``glossary`` (default: the settings' glossary file)."""
        glossary = glossary or Glossary.from_settings(self.settings)
        built_from = (glossary.version, *self.store.artifacts_version(TRACKER_KINDS))
        if self._tracker is not None and self._tracker[0] == built_from:
            return self._tracker[1]
        tracker = self._build_tracker(glossary)
        self._tracker = (built_from, tracker)
        return tracker

    def _build_tracker(self, glossary: Glossary) -> Tracker:
        corpus = self.commitments_corpus()
        translations = {}
        for doc, _ in corpus:
            translation = self.artifact(doc.id, "translation")
            if isinstance(translation, TranslationArtifact):
                translations[doc.id] = translation
        return build_tracker(corpus, entity_names(glossary.entries), translations)

    def save_artifact(self, artifact: Artifact, variant: str) -> None:
        payload = artifact.model_dump(mode="json")
        self.store.save_artifact(
            artifact.doc_id,
            artifact.kind,
            variant,
            payload,
            provenance=payload["provenance"],
            status=artifact.status,
        )


def _with_meta(doc: Document, meta: DocumentMeta | None) -> Document:
    """User-supplied metadata wins over what was extracted, field by field."""
    if meta is None:
        return doc
    given = meta.model_dump(exclude_none=True, exclude={"provenance"})
    provenance = {**doc.meta.provenance, **dict.fromkeys(given, "user")}
    merged = doc.meta.model_copy(update={**given, "provenance": provenance})
    return doc.model_copy(update={"meta": merged})


def _matches(
    meta: DocumentMeta, date_from: dt.date | None, date_to: dt.date | None, outlet: str | None
) -> bool:
    if outlet is not None and (meta.outlet is None or outlet.lower() not in meta.outlet.lower()):
        return False
    if date_from is not None and (meta.date is None or meta.date < date_from):
        return False
    return not (date_to is not None and (meta.date is None or meta.date > date_to))
