"""Domain records shared by every stage: plain pydantic, no storage or web imports.

Offsets are ``[start, end)`` indexes into ``Document.text`` (the cleaned text), counted in
Python characters (code points), so ``doc.text[p.start:p.end] == p.text`` always holds.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

Script = Literal["traditional", "simplified", "mixed", "unknown"]


class Paragraph(BaseModel):
    id: str = Field(description="Stable id within the document: p1, p2, ...")
    index: int
    start: int
    end: int
    text: str
    is_heading: bool = False
    section: list[str] = Field(
        default_factory=list, description="Heading texts above this paragraph, outermost first."
    )


class Chunk(BaseModel):
    id: str = Field(description="c0, c1, ... within the document at a given budget.")
    index: int
    start: int
    end: int
    text: str
    tokens: int
    paragraph_ids: list[str] = Field(description="Paragraphs this chunk overlaps, in order.")


class RemovedItem(BaseModel):
    rule: str = Field(description="Name of the cleaning rule that removed it.")
    text: str
    line: int | None = Field(None, description="1-based line number in the decoded input.")


class CleaningReport(BaseModel):
    encoding: str
    chars_raw: int = Field(description="Characters of the decoded input.")
    chars_clean: int
    removed: list[RemovedItem] = Field(default_factory=list)
    counts: dict[str, int] = Field(default_factory=dict, description="Removals per rule.")
    # --- added by ingest: how the input was read ---
    input_format: Literal["text", "html", "pdf", "docx"] = Field(
        "text", description="HTML, PDF and DOCX are reduced to text."
    )


class DocumentMeta(BaseModel):
    title_zh: str | None = None
    title_en: str | None = None
    date: dt.date | None = None
    outlet: str | None = None
    place: str | None = None
    doc_type: str | None = None
    source_url: str | None = None
    notes: str | None = None
    provenance: dict[str, str] = Field(
        default_factory=dict, description="Where each field came from: manifest | text | user."
    )


class Document(BaseModel):
    id: str = Field(description="Short hash of the cleaned text: same content, same id.")
    source_name: str = Field(description="File name (or 'upload'/'text') the content came from.")
    raw_sha256: str
    script: Script
    text: str = Field(description="Cleaned text in its original script; offsets refer to it.")
    meta: DocumentMeta
    cleaning: CleaningReport
    paragraphs: list[Paragraph]
