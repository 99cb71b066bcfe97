"""Commitment extraction models: what the model returns per chunk, and what we store.

The extraction models are shaped for strict structured output (``json_schema`` profiles:
OpenAI strict mode, vLLM): every key is required, absent values are ``null`` rather than missing,
enums are ``Literal``, and objects nest at most one level (``targets``). The gateway adds
``additionalProperties: false``. The model never gives offsets; ``Commitment`` adds the
grounding we compute in ``ground.py``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

TargetKind = Literal[
    "count",
    "money",
    "percentage",
    "growth_rate",
    "area",
    "length",
    "capacity",
    "ranking",
    "other",
]
DeadlinePrecision = Literal["day", "month", "quarter", "year", "multi_year", "none"]
Sector = Literal[
    "science_technology",
    "industry",
    "economy_finance",
    "reform_governance",
    "party_building",
    "infrastructure_transport",
    "urban_development",
    "environment",
    "social_welfare",
    "health",
    "education",
    "culture",
    "hong_kong_macao_cooperation",
    "agriculture",
    "other",
]
Modality = Literal["binding", "aspirational"]
Milestone = Literal[
    "start_construction",  # 开工
    "completion",  # 建成 / 竣工
    "operation",  # 投产 / 投用 / 开通 / 运营
    "task_completion",  # 完成
    "launch",  # 启动 / 上线 / 挂牌
    "other",
]
AlignmentStatus = Literal["exact", "normalized", "fuzzy", "unaligned"]
Source = Literal["model", "rules", "model+rules"]

# What the rules_en strategy stores as a commitment's English when there is none of its own.
NOT_RENDERED = "(general statement; not rendered)"
MISSING = "(English missing: {reason})"


class Target(BaseModel):
    """A measurable target inside a commitment, e.g. 120万人 or 3.5亿元."""

    text: str = Field(description="The target exactly as written in the quote, e.g. 120万人.")
    value: float | None = Field(description="The number in plain units (120万 -> 1200000).")
    unit: str | None = Field(description="The unit as written, e.g. 人, 亿元, %, 平方公里.")
    kind: TargetKind


class ExtractedCommitment(BaseModel):
    """One commitment as the model reports it for one chunk."""

    quote_zh: str = Field(description="The sentence or clause, copied verbatim from the text.")
    actor_zh: str | None = Field(description="Who commits, as written; null if implicit.")
    actor_en: str | None
    action_zh: str = Field(description="What will be done, as written (verb phrase).")
    action_en: str
    targets: list[Target]
    deadline_text: str | None = Field(description="The deadline as written, e.g. 年底前.")
    deadline_start: str | None = Field(description="ISO date YYYY-MM-DD, or null.")
    deadline_end: str | None = Field(description="ISO date YYYY-MM-DD, or null.")
    deadline_precision: DeadlinePrecision
    sector: Sector
    modality: Modality = Field(description="binding (确保/必须/要) or aspirational (力争/争取).")
    trigger: str | None = Field(description="The modality word as written, e.g. 确保, 力争.")
    milestone: Milestone | None = Field(description="开工/建成/投产/完成 stage, if named.")
    gloss_en: str = Field(description="One faithful English sentence.")


class ExtractionOutput(BaseModel):
    """The model's whole answer for one chunk."""

    commitments: list[ExtractedCommitment]


# --- stored records (ours, not the model's) ---


class Span(BaseModel):
    """A place in Document.text where a commitment is stated: text[start:end] == text."""

    start: int
    end: int
    text: str
    paragraph_id: str | None = None


class FieldChecks(BaseModel):
    """Whether the extracted fields are backed by the grounded quote (Simplified comparison)."""

    targets_in_quote: bool
    values_in_quote: bool
    deadline_in_quote: bool | None = Field(description="None when there is no deadline_text.")
    trigger_in_quote: bool | None = Field(description="None when there is no trigger.")
    failures: list[str] = Field(
        default_factory=list, description="What is missing, e.g. 'value:1200000', 'trigger:确保'."
    )

    @property
    def ok(self) -> bool:
        return not self.failures


class Commitment(ExtractedCommitment):
    """A grounded commitment of one document (our output record)."""

    id: str = Field(description="Stable: hash of doc id and span (or quote when unaligned).")
    doc_id: str
    start: int | None = Field(None, description="Offset into Document.text; None if unaligned.")
    end: int | None = None
    quote: str | None = Field(None, description="text[start:end]; may differ from quote_zh.")
    alignment: AlignmentStatus = "unaligned"
    score: float = Field(0.0, description="Match score 0-100 (100 for exact/normalized).")
    paragraph_id: str | None = None
    checks: FieldChecks | None = None
    source: Source = "model"
    mentions: list[Span] = Field(
        default_factory=list, description="Every grounded place stating it, sorted by start."
    )
    chunk_ids: list[str] = Field(default_factory=list)

    @property
    def aligned(self) -> bool:
        return self.alignment != "unaligned"
