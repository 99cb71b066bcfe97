"""Word (.docx) → text: body paragraphs and table cells in document order, one per line.

python-docx (MIT) reads the document body only, so page headers and footers, which Word
keeps in parts of their own, never reach the text.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

import docx
from docx.document import Document as DocxDocument
from docx.opc.exceptions import PackageNotFoundError
from docx.table import Table
from docx.text.paragraph import Paragraph
from lxml import etree

from service.errors import InputError

MAIN_PART = "word/document.xml"


def docx_to_text(data: bytes, source_name: str) -> str:
    """The document's paragraphs (tables row by row), one per line; errors name the file."""
    document = _open(data, source_name)
    try:
        return "\n".join(text for text in _blocks(document) if text.strip())
    except (etree.XMLSyntaxError, KeyError, ValueError) as exc:
        raise InputError(f"{source_name}: not a readable .docx ({exc}).") from None


def _open(data: bytes, source_name: str) -> DocxDocument:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except zipfile.BadZipFile:
        raise InputError(f"{source_name}: not a readable .docx (damaged ZIP archive).") from None
    if MAIN_PART not in names:
        raise InputError(
            f"{source_name}: a ZIP archive but not a Word document (no {MAIN_PART}); "
            "give a .docx saved by Word, WPS or LibreOffice."
        )
    try:
        return docx.Document(io.BytesIO(data))
    except (
        PackageNotFoundError,
        etree.XMLSyntaxError,
        KeyError,
        ValueError,
        zipfile.BadZipFile,
    ) as exc:
        raise InputError(f"{source_name}: not a readable .docx ({exc}).") from None


def _blocks(document: DocxDocument) -> Iterator[str]:
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            yield block.text.strip()
        elif isinstance(block, Table):
            yield from _table_rows(block)


def _table_rows(table: Table) -> Iterator[str]:
    for row in table.rows:
        cells = list(dict.fromkeys(cell.text.strip() for cell in row.cells))  # merged cells repeat
        yield " ".join(cell for cell in cells if cell)
