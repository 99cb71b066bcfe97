"""Request and response bodies of the REST API (what the OpenAPI schema shows)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from service.artifacts import KINDS
from service.models import Document, DocumentMeta, Paragraph, Script
from service.store.store import CacheStats, StoredJob

CJK = re.compile(r"[\u3400-\u9fff]")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# An absolute http(s) URL: a host of DNS labels (or an IPv4 address), an optional port, then
# any path, query or fragment without whitespace.
HTTP_URL = (
    r"^https?://[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*(?::[0-9]{1,5})?(?:[/?#]\S*)?$"
)
# Text that ingest can take: no NUL (a binary file's mark) and something besides whitespace
# and control characters. (Text that cleans down to nothing is still a 422 ``empty``.)
SOME_TEXT = r"^[^\x00]*[^\s\x00-\x1f\x7f][^\x00]*$"


def _iso_date(value: object) -> object:
    """Only ``YYYY-MM-DD`` (pydantic alone also takes timestamps and datetimes)."""
    if isinstance(value, dt.date) or (isinstance(value, str) and ISO_DATE.fullmatch(value)):
        return value
    raise ValueError("must be a date written YYYY-MM-DD")


IsoDate = Annotated[
    dt.date, BeforeValidator(_iso_date), Field(description="A date written YYYY-MM-DD.")
]
HttpUrlText = Annotated[
    str,
    Field(max_length=2000, pattern=HTTP_URL, description="An absolute http(s) URL, kept as given."),
]
DocumentText = Annotated[
    str, Field(min_length=1, pattern=SOME_TEXT, description="Plain text or HTML (reduced to text).")
]


class ValidationIssue(BaseModel):
    loc: str = Field(description="Where: body.<field>, query.<name>, form.<field>, path.<name>.")
    msg: str
    type: str = Field(description="Pydantic's error type, e.g. string_too_long.")


class ErrorOut(BaseModel):
    """The one error body of the API."""

    code: str = Field(description="Stable machine-readable code, e.g. not_found, too_large.")
    message: str = Field(description="What went wrong and how to fix it.")
    detail: list[ValidationIssue] | list[str] | dict[str, Any] | None = Field(
        None,
        description="With code invalid_request (422): one entry per problem. With a 404 "
        "not_computed or a 409: {job} of the job concerned. With a 502: the reasons.",
    )


class DocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: DocumentText
    title: str | None = Field(None, max_length=500, description="Chinese or English title.")
    source_url: HttpUrlText | None = None
    published: IsoDate | None = None

    def meta(self) -> DocumentMeta | None:
        return user_meta(self.title, self.source_url, self.published)


def user_meta(
    title: str | None, source_url: str | None, published: dt.date | None
) -> DocumentMeta | None:
    """Metadata the caller gave; a title with Chinese characters is the Chinese title."""
    if title is None and source_url is None and published is None:
        return None
    chinese = title is not None and CJK.search(title) is not None
    return DocumentMeta(
        title_zh=title if chinese else None,
        title_en=None if chinese else title,
        source_url=source_url,
        date=published,
    )


class CleaningOut(BaseModel):
    encoding: str
    input_format: Literal["text", "html", "pdf", "docx"]
    chars_raw: int
    chars_clean: int
    removed: dict[str, int] = Field(description="Removals per cleaning rule.")


class DocumentOut(BaseModel):
    id: str
    source_name: str = Field(description="Display name of the upload (never used as a path).")
    meta: DocumentMeta
    script: Script
    paragraph_count: int
    chars: int
    chunk_count: int | None = Field(None, description="Chunks at the reader's token budget.")
    chunk_budget: int | None = None
    cleaning: CleaningOut
    links: dict[str, str] = Field(default_factory=dict)
    text: str | None = Field(None, description="With ?include=text.")
    paragraphs: list[Paragraph] | None = Field(None, description="With ?include=paragraphs.")

    @classmethod
    def of(
        cls, doc: Document, *, budget: int | None = None, chunks: int | None = None
    ) -> DocumentOut:
        c = doc.cleaning
        cleaning = CleaningOut(
            encoding=c.encoding,
            input_format=c.input_format,
            chars_raw=c.chars_raw,
            chars_clean=c.chars_clean,
            removed=c.counts,
        )
        base = f"/v1/documents/{doc.id}"
        links = {"self": base} | {kind: f"{base}/{kind}" for kind in KINDS}
        return cls(
            id=doc.id,
            source_name=doc.source_name,
            meta=doc.meta,
            script=doc.script,
            paragraph_count=len(doc.paragraphs),
            chars=len(doc.text),
            chunk_count=chunks,
            chunk_budget=budget,
            cleaning=cleaning,
            links=links,
        )


class DocumentPage(BaseModel):
    items: list[DocumentOut]
    total: int
    offset: int
    limit: int


class JobProgress(BaseModel):
    done: int = Field(0, description="Chunks/calls finished.")
    total: int = 0
    cached: int = Field(0, description="Units served from the call cache.")
    failed: int = Field(0, description="Units that failed (kept as failed chunk outcomes).")
    step: str | None = Field(None, description="Prompt task of the last unit.")
    attempt: int = Field(
        0, description="Queue workers that took the job (over 1: a worker died; 0 in-process)."
    )


JobStatus = Literal["queued", "running", "done", "failed"]


class JobOut(BaseModel):
    id: str
    kind: str
    doc_id: str | None
    status: JobStatus
    progress: JobProgress
    force: bool = False
    versions: dict[str, str] = Field(default_factory=dict)
    error: ErrorOut | None = None
    artifact: str | None = Field(None, description="Where to GET the artifact once done.")
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, row: StoredJob) -> JobOut:
        p = row.progress
        error = None
        if row.error is not None:
            error = ErrorOut(code=str(p.get("error_code", "job_failed")), message=row.error)
        return cls(
            id=row.id,
            kind=row.kind,
            doc_id=row.doc_id,
            status=row.status,
            progress=JobProgress.model_validate(p),
            force=bool(p.get("force", False)),
            versions=p.get("versions", {}),
            error=error,
            artifact=p.get("artifact") if row.status == "done" else None,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class SummaryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: DocumentText
    title: str | None = Field(None, max_length=500)


class UsageOut(CacheStats):
    cost_spent_usd: float = Field(description="Estimated spend of the calls that hit the model.")
    cost_saved_usd: float = Field(description="Estimated cost the cache avoided.")
    tokens_saved: int

    @classmethod
    def of(cls, stats: CacheStats) -> UsageOut:
        rows = stats.by_prompt_model
        return cls(
            **stats.model_dump(),
            cost_spent_usd=round(sum(r.cost_spent_usd for r in rows), 6),
            cost_saved_usd=round(sum(r.cost_saved_usd for r in rows), 6),
            tokens_saved=sum(r.tokens_saved for r in rows),
        )


class CheckOut(BaseModel):
    ok: bool
    detail: str | None = None
    latency_ms: float | None = None


class ModelCheckOut(CheckOut):
    endpoint: str = Field(description="Scheme and host only.")
    model: str
    profile: str


class ReadyOut(BaseModel):
    ready: bool
    database: CheckOut
    model: ModelCheckOut


class HealthOut(BaseModel):
    status: Literal["ok"] = "ok"
    version: str
