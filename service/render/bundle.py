"""What the renderers consume: one document with whatever its tasks produced (or why not)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from service.artifacts import (
    ArtifactKind,
    CommitmentsArtifact,
    SummaryArtifact,
    TranslationArtifact,
)
from service.models import Document
from service.tasks.commitments.schema import Commitment

TaskStatus = Literal["ok", "partial", "failed", "not_run"]
AnyArtifact = SummaryArtifact | TranslationArtifact | CommitmentsArtifact


class TaskFailure(BaseModel):
    """A task that produced no artifact at all for a document (e.g. the model was down)."""

    kind: ArtifactKind
    message: str


class TaskState(BaseModel):
    """How far a task got for one document, with a reason a reader can act on."""

    kind: ArtifactKind
    status: TaskStatus
    reason: str | None = None


class DocumentBundle(BaseModel):
    """One document and its artifacts; a missing artifact means the task was not run or failed."""

    document: Document
    summary: SummaryArtifact | None = None
    translation: TranslationArtifact | None = None
    commitments: CommitmentsArtifact | None = None
    failures: list[TaskFailure] = Field(default_factory=list)

    @model_validator(mode="after")
    def _artifacts_belong_to_document(self) -> DocumentBundle:
        for artifact in self.artifacts():
            if artifact.doc_id != self.document.id:
                raise ValueError(
                    f"{artifact.kind} artifact is for document {artifact.doc_id!r}, "
                    f"not {self.document.id!r}: bundle the artifacts of one document only"
                )
        return self

    def artifacts(self) -> list[AnyArtifact]:
        found = [self.summary, self.translation, self.commitments]
        return [a for a in found if a is not None]

    def artifact(self, kind: ArtifactKind) -> AnyArtifact | None:
        if kind == "summary":
            return self.summary
        return self.translation if kind == "translation" else self.commitments

    def state(self, kind: ArtifactKind) -> TaskState:
        """ok/partial/failed from the artifact, failed from a failure record, else not_run."""
        messages = [f.message for f in self.failures if f.kind == kind]
        artifact = self.artifact(kind)
        if artifact is None:
            status: TaskStatus = "failed" if messages else "not_run"
            return TaskState(kind=kind, status=status, reason="; ".join(messages) or None)
        failed = [o for o in artifact.chunks if o.status != "ok"]
        if failed:
            errors = sorted({o.error or o.status for o in failed})
            messages.append(
                f"{len(failed)} of {len(artifact.chunks)} chunks failed: {'; '.join(errors)}"
            )
        if isinstance(artifact, SummaryArtifact):  # partial for material cut or dropped
            messages += artifact.warnings
        return TaskState(kind=kind, status=artifact.status, reason="; ".join(messages) or None)

    def title(self) -> str:
        """English title, else the Chinese title, else the source file name."""
        meta = self.document.meta
        return meta.title_en or meta.title_zh or self.document.source_name

    def quality_warnings(self) -> list[str]:
        """Distinct model-quality warnings of this document's artifacts, in task order."""
        warnings = [a.provenance.quality_warning for a in self.artifacts()]
        return list(dict.fromkeys(w for w in warnings if w))

    def split_commitments(self) -> tuple[list[Commitment], list[Commitment]]:
        """(grounded, needs review); a 'grounded' record whose offsets miss its quote is demoted.

        The renderer states grounded commitments as fact, so it checks ``text[start:end] ==
        quote`` itself rather than trusting the upstream flag.
        """
        if self.commitments is None:
            return [], []
        text = self.document.text
        grounded, review = [], list(self.commitments.unaligned)
        for c in self.commitments.commitments:
            if c.start is not None and c.end is not None and text[c.start : c.end] == c.quote:
                grounded.append(c)
            else:
                review.append(_demote(c))
        return grounded, review

    def paragraph_of(self, commitment: Commitment) -> str | None:
        """The paragraph of a grounded commitment: the record's id when the document has it,
        else the paragraph holding its start offset (so links always find their anchor)."""
        ids = [p.id for p in self.document.paragraphs]
        if commitment.paragraph_id in ids:
            return commitment.paragraph_id
        start = commitment.start
        if start is None:
            return None
        return next((p.id for p in self.document.paragraphs if p.start <= start < p.end), None)


def _demote(c: Commitment) -> Commitment:
    update = {"alignment": "unaligned", "start": None, "end": None, "quote": None}
    return c.model_copy(update={**update, "paragraph_id": None, "mentions": []})
