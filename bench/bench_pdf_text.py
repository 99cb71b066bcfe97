"""Which PDF library reads Chinese text best: pypdf, pdfminer.six and pypdfium2 on the five
seeds rendered to multi-page PDFs (tests/documents.py: Noto Sans CJK embedded, a running
header and a ``— n —`` page number on every page).

Per library, over all five PDFs:
  missing   source characters (whitespace aside) not in the extraction (multiset difference)
  punct     full-width punctuation kept, as a share of the source's (。，、；：？！“”《》（）—)
  broken    U+FFFD, "(cid:N)", private-use, Kangxi-radical or compatibility ideographs
  order     source paragraphs found verbatim, in order, in the extraction with its line
            breaks and the page furniture lines taken out (reading order across lines/pages)
  furniture pages whose header and page number come out as lines of their own (removable)
  ms        extraction time

Run: PYTHONPATH=. python bench/bench_pdf_text.py   (needs the dev extra: reportlab, fonttools,
noto-cjk-sans-otc; and pypdf, pdfminer.six besides pypdfium2)
"""

from __future__ import annotations

import io
import logging
import re
import time
from collections import Counter
from collections.abc import Callable

import pdfminer.high_level
import pypdf
import pypdfium2

from service.config import Settings
from service.ingest import ingest_path
from tests.documents import ISSUER, render_pdf
from tests.samples import SEEDS

FULL_WIDTH = "。，、；：？！“”《》（）—"
BROKEN = re.compile(r"\ufffd|\(cid:\d+\)|[\ue000-\uf8ff\u2f00-\u2fdf\uf900-\ufaff\x00-\x08]")
PAGE_NUMBER = re.compile(r"^\s*—\s*\d+\s*—\s*$")
EDGE = 4  # furniture is looked for among a page's first and last four lines


def pypdf_pages(data: bytes) -> list[str]:
    return [page.extract_text() or "" for page in pypdf.PdfReader(io.BytesIO(data)).pages]


def pdfminer_pages(data: bytes) -> list[str]:
    text = pdfminer.high_level.extract_text(io.BytesIO(data))
    return [page for page in text.split("\f") if page.strip()]


def pdfium_pages(data: bytes) -> list[str]:
    doc = pypdfium2.PdfDocument(data)
    pages = [doc[i].get_textpage().get_text_range().replace("\r\n", "\n") for i in range(len(doc))]
    doc.close()
    return pages


LIBRARIES: dict[str, Callable[[bytes], list[str]]] = {
    "pypdf 7": pypdf_pages,
    "pdfminer.six": pdfminer_pages,
    "pypdfium2": pdfium_pages,
}


def body_lines(pages: list[str]) -> list[str]:
    """Lines without the page furniture: page numbers, and lines near a page's top or bottom
    that recur on most pages (the issuer and the title; some libraries split them in two),
    once per page, so a title that is also the first paragraph stays on page 1."""
    split = [[line.strip() for line in page.split("\n") if line.strip()] for page in pages]
    seen = Counter(line for page in split for line in set(page[:EDGE] + page[-EDGE:]))
    recurring = {line for line, n in seen.items() if n >= max(2, len(pages) / 2)}
    kept = []
    for page in split:
        edges = set(range(EDGE)) | set(range(len(page) - EDGE, len(page)))
        removed: set[str] = set()
        for i, line in enumerate(page):
            if PAGE_NUMBER.match(line) or (i in edges and line in recurring - removed):
                removed.add(line)
            else:
                kept.append(line)
    return kept


def score(pages: list[str], paragraphs: list[str]) -> dict[str, float]:
    text = "\n".join(pages)
    source = Counter(c for c in "".join(paragraphs) if not c.isspace())
    got = Counter(c for c in text if not c.isspace())
    body = re.sub(r"\s+", "", "".join(body_lines(pages)))
    found, cursor = 0, 0
    for paragraph in paragraphs:
        at = body.find(re.sub(r"\s+", "", paragraph), cursor)
        if at >= 0:
            found, cursor = found + 1, at
    lines = [[line.strip() for line in page.split("\n")] for page in pages]
    separable = sum(
        any(line.startswith(ISSUER) and len(line) < len(ISSUER) + 32 for line in page)
        and any(PAGE_NUMBER.match(line) for line in page)
        for page in lines
    )
    punct_src = sum(source[c] for c in FULL_WIDTH)
    return {
        "missing": sum((source - got).values()),
        "punct": sum(min(source[c], got[c]) for c in FULL_WIDTH) / max(punct_src, 1),
        "broken": len(BROKEN.findall(text)),
        "order": found / len(paragraphs),
        "furniture": separable / len(pages),
        "pages": len(pages),
    }


def truncated(read: Callable[[bytes], list[str]], pdfs: list[bytes]) -> str:
    """What the library does with the first 60 % of each file: errors, or characters read."""
    errors, chars = 0, 0
    for pdf in pdfs:
        try:
            chars += sum(len(page) for page in read(pdf[: len(pdf) * 6 // 10]))
        except Exception:  # any failure counts as a refusal here
            errors += 1
    return f"{errors} err, {chars} ch"


def main() -> None:
    logging.disable(logging.WARNING)  # pypdf and pdfminer log every damaged file they meet
    settings = Settings()
    paragraphs = [ingest_path(seed, settings=settings).text.split("\n") for seed in SEEDS]
    pdfs = [
        (p, render_pdf(p, p[0][:20], justify=justify))
        for justify in (False, True)
        for p in paragraphs
    ]
    print(f"{len(pdfs)} PDFs: the five seeds, left-aligned and justified")
    print(f"{'library':14} {'missing':>8} {'punct':>7} {'broken':>7} {'order':>7} "
          f"{'furniture':>10} {'pages':>6} {'ms':>6}  truncated to 60 %")  # fmt: skip
    for name, read in LIBRARIES.items():
        totals: Counter[str] = Counter()
        started = time.perf_counter()
        results = [(read(pdf), paragraphs) for paragraphs, pdf in pdfs]
        elapsed = (time.perf_counter() - started) * 1000
        scores = [score(pages, paragraphs) for pages, paragraphs in results]
        for s in scores:
            totals.update({k: v for k, v in s.items() if k in ("missing", "broken", "pages")})
        mean = {k: sum(s[k] for s in scores) / len(scores) for k in ("punct", "order", "furniture")}
        cut = truncated(read, [pdf for _p, pdf in pdfs])
        print(f"{name:14} {totals['missing']:>8} {mean['punct']:>7.1%} {totals['broken']:>7} "
              f"{mean['order']:>7.1%} {mean['furniture']:>10.1%} {totals['pages']:>6} "
              f"{elapsed:>6.0f}  {cut}")  # fmt: skip


if __name__ == "__main__":
    main()
