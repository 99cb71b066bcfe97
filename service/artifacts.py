"""What the tasks produce and the renderers, the API and the store consume.

Plain pydantic, no storage or web imports. Every artifact carries its quality report and its
provenance, so a reader can tell how far to trust it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from service.checks.quality import QualityReport
from service.checks.repairs import Repairs
from service.tasks.commitments.schema import Commitment

ArtifactKind = Literal["summary", "translation", "commitments"]
KINDS: tuple[ArtifactKind, ...] = ("summary", "translation", "commitments")
Status = Literal["ok", "partial", "failed"]


class Provenance(BaseModel):
    model: str
    profile: str
    endpoint: str = Field(description="Scheme and host of the model endpoint, never a secret.")
    prompt_versions: dict[str, str] = Field(description="Prompt id -> version used.")
    glossary_version: str | None = None
    reader_version: str
    created_at: dt.datetime
    quality_warning: str | None = Field(None, description="Set when the model is known weak.")
    calls: int = Field(0, description="Model calls made, failed ones included.")
    failed_calls: int = Field(0, description="Calls that ended in an error; tokens counted.")
    cache_hits: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0


class ChunkOutcome(BaseModel):
    chunk_id: str
    status: Literal["ok", "failed", "fallback"]
    error: str | None = Field(None, description="Why the chunk failed (typed error message).")


class Person(BaseModel):
    name_zh: str
    name_en: str
    role: str


class Summary(BaseModel):
    headline: str = Field(description="One line.")
    abstract: str = Field(description="Three sentences.")
    key_points: list[str] = Field(description="3 to 8 points.")
    body: str | None = Field(description="Meeting or body, e.g. CPC Shenzhen Standing Committee.")
    date: str | None = Field(description="ISO date or as precise as the text allows.")
    place: str | None
    people: list[Person]


# --- added by summary: the map step's notes, kept so a reader can audit the reduce ---
class SummaryNotes(BaseModel):
    chunk_id: str = Field(description="Source chunk the notes were taken on (c3, or c3.2).")
    setting: str | None = Field(None, description="Meeting or body, date, place if stated.")
    facts: list[str] = Field(default_factory=list, description="Key facts, numbers as stated.")
    decisions: list[str] = Field(default_factory=list)
    people: list[Person] = Field(default_factory=list)


# Shown with every extractive (method "lead") summary. No strategy makes one any more (it was
# the removed Gemma 3 270M profile's); stored ones still load and render with this note.
LEAD_SUMMARY_NOTE = (
    "Extractive summary: the model's translation of the title, the lead sentence and the first "
    "sentence of the next paragraphs. The embedded model cannot write a summary (it copies its "
    "worked example), so nothing here condenses the rest of the document."
)

# Shown with every summary written from the model's translation (method "sections").
SECTIONS_SUMMARY_NOTE = (
    "Written by the model from its own English translation of the document, not from the "
    "Chinese text: an error in the translation carries over. Numbers are checked against the "
    "Chinese."
)


class SummaryArtifact(BaseModel):
    kind: Literal["summary"] = "summary"
    doc_id: str
    status: Status
    summary: Summary | None
    method: Literal["single", "map_reduce", "lead", "sections"] = Field(
        description="lead: extractive, the model's translation of the title and lead sentences; "
        "sections: written from the model's own English translation of the document."
    )
    chunks: list[ChunkOutcome] = Field(default_factory=list)
    quality: QualityReport
    provenance: Provenance
    # --- added by summary ---
    notes: list[SummaryNotes] = Field(
        default_factory=list, description="Per-chunk notes of the map step (map_reduce only)."
    )
    warnings: list[str] = Field(
        default_factory=list, description="Material cut or dropped to fit the context."
    )


class TranslatedParagraph(BaseModel):
    id: str
    zh: str
    en: str | None = Field(description="None when untranslated (shown, never dropped).")
    is_heading: bool = False
    chunk_id: str
    error: str | None = None
    repairs: Repairs = Field(
        default_factory=Repairs, description="What the deterministic post-edit changed in ``en``."
    )


class TranslationArtifact(BaseModel):
    kind: Literal["translation"] = "translation"
    doc_id: str
    status: Status
    paragraphs: list[TranslatedParagraph]
    chunks: list[ChunkOutcome] = Field(default_factory=list)
    quality: QualityReport
    provenance: Provenance


class GroundingReport(BaseModel):
    extracted: int = Field(description="Model (and rule) records before merging.")
    shown: int = Field(description="Grounded commitments after merging.")
    unaligned: int
    grounding_rate: float = Field(description="Aligned / extracted, 0..1.")
    checks_failed: int = Field(description="Shown commitments whose field checks failed.")
    rule_candidates: int = 0
    second_pass_calls: int = 0


class CommitmentsArtifact(BaseModel):
    kind: Literal["commitments"] = "commitments"
    doc_id: str
    status: Status
    commitments: list[Commitment] = Field(description="Grounded: text[start:end] == quote.")
    unaligned: list[Commitment] = Field(description="Kept for review, never shown as fact.")
    chunks: list[ChunkOutcome] = Field(default_factory=list)
    grounding: GroundingReport
    provenance: Provenance
    entity_names: dict[str, str] = Field(
        default_factory=dict,
        description="English names the model gave for entities the glossary lacks (rules_en).",
    )
    names_checked: bool = Field(
        default=False,
        description="The entity names passed the pinyin check when they were made; the tracker "
        "checks the names of older artifacts itself.",
    )


Artifact = Annotated[
    SummaryArtifact | TranslationArtifact | CommitmentsArtifact, Field(discriminator="kind")
]


def status_of(outcomes: list[ChunkOutcome]) -> Status:
    """ok when every chunk succeeded, failed when none did, partial otherwise."""
    good = sum(o.status == "ok" for o in outcomes)
    if good == len(outcomes):
        return "ok"
    return "failed" if not any(o.status != "failed" for o in outcomes) else "partial"
