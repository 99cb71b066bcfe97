"""Which reader a file needs, by its content: PDF, Word (.docx), HTML or plain text.

Every reader gives text with one paragraph per line, the page furniture it removed itself
(PDF running headers and page numbers) and the metadata the format carries (an HTML page's
title and publication date); cleaning, metadata and segmentation are shared after that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from service.ingest.decode import decode_bytes
from service.ingest.docx import docx_to_text
from service.ingest.html import looks_like_html, read_html
from service.ingest.pdf import pdf_to_text
from service.models import RemovedItem

InputFormat = Literal["text", "html", "pdf", "docx"]
HAN = re.compile(r"[\u4e00-\u9fff]")
PDF_MAGIC = b"%PDF-"
ZIP_MAGIC = b"PK\x03\x04"
# Readers skip junk before the PDF header (some mail gateways add a line); so do we.
PDF_HEADER_WINDOW = 1024


@dataclass
class Extracted:
    text: str
    input_format: InputFormat
    encoding: str
    removed: list[RemovedItem] = field(default_factory=list)
    hints: dict[str, tuple[object, str]] = field(default_factory=dict)


def sniff(data: bytes) -> InputFormat | None:
    """``pdf`` or ``docx`` from the first bytes; None for text (HTML is told after decoding)."""
    if PDF_MAGIC in data[:PDF_HEADER_WINDOW]:
        return "pdf"
    if data.startswith(ZIP_MAGIC):
        return "docx"
    return None


def extract(data: bytes, source_name: str) -> Extracted:
    """Text of any supported input, one paragraph per line; errors name the file."""
    kind = sniff(data)
    if kind == "pdf":
        pdf = pdf_to_text(data, source_name)
        return Extracted(pdf.text, "pdf", "pdf text layer", removed=pdf.removed)
    if kind == "docx":
        return Extracted(docx_to_text(data, source_name), "docx", "docx (UTF-8 XML)")
    decoded, encoding = decode_bytes(data, source_name)
    if not looks_like_html(decoded):
        return Extracted(decoded, "text", encoding)
    page = read_html(decoded)
    hints: dict[str, tuple[object, str]] = {}
    if page.title:
        chinese = HAN.search(page.title) is not None
        hints["title_zh" if chinese else "title_en"] = (page.title, "html:title")
    if page.date:
        hints["date"] = page.date
    return Extracted(page.text, "html", encoding, hints=hints)
