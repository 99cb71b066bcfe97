"""Which PDF library reads Chinese text best: pypdf, pdfminer.six and pypdfium2 on the five
seeds rendered to multi-page PDFs (tests/documents.py: Noto Sans CJK embedded, a running
header and a ``— n —`` page number on every page).

Per library, over all five PDFs:
  missing   source characters (whitespace aside) not in the extraction (multiset difference)
  punct     full-width punctuation kept, as a share of the source's (。，、；：？！“”《》（）—)
  broken    U+FFFD, "(cid:N)", private-use, Kangxi-radical or compatibility ideographs
  order     source paragraphs found verbatim, in order, in the extraction with its line
            breaks and the page furniture lines taken out (reading order across lines/pages)
  furniture pages whose running header and footer/page number come out as lines of their own
            (so they can be removed); Chromium's header is its date and title, its footer
            the page's URL and "n/N"
  ms        extraction time

Measured 2026-12-05 (2 shared cores; ms are the whole set of five):

  reportlab (embedded TrueType subsets; left-aligned, and again justified: same numbers)
  library       missing  punct  broken  order  furniture  pages    ms  truncated to 60 %
  pypdf 7             0  100 %       0  100 %      100 %     20   790  5 refused
  pdfminer.six        0  100 %       0  100 %      100 %     20  1262  5 refused
  pypdfium2           0  100 %       0  100 %      100 %     20    55  5 refused

  chromium --print-to-pdf (Skia: CID fonts, Identity-H; header date+title, footer URL+n/N)
  pypdf 7          1812  100 %    1836   11 %       80 %     14  4429  5 refused
  pdfminer.six     1812  100 %    1836   11 %       80 %     14  3235  5 refused
  pypdfium2           0  100 %       0  100 %       80 %     14   162  5 refused

  (the "broken" characters are Kangxi radicals such as ⼤ ⼒ ⽀ ⺠ read for 大 力 支 民; furniture
  80 %: one seed prints on a single page, where nothing can recur)

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
from tests.documents import CHROMIUM, render_pdf, render_pdf_chromium
from tests.samples import SEEDS

FULL_WIDTH = "。，、；：？！“”《》（）—"
# Kangxi radicals (U+2F00-2FDF) and the radicals supplement (U+2E80-2EFF) look like 大, 力, 民
# but are other characters: a reader that maps glyphs to them breaks search and translation.
BROKEN = re.compile(r"\ufffd|\(cid:\d+\)|[\ue000-\uf8ff\u2e80-\u2fdf\uf900-\ufaff\x00-\x08]")
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


def body_lines(pages: list[str]) -> tuple[list[str], list[int]]:
    """Lines without the page furniture, and how many furniture lines each page had: page
    numbers, and lines near a page's top or bottom that recur (digits aside) on most pages
    (issuer and title, date, URL; some libraries split a header in two), once per page, so
    a title that is also the first paragraph stays on page 1."""
    split = [[line.strip() for line in page.split("\n") if line.strip()] for page in pages]
    seen = Counter(key(line) for page in split for line in set(page[:EDGE] + page[-EDGE:]))
    recurring = {line for line, n in seen.items() if n >= max(2, len(pages) / 2)}
    kept, furniture = [], []
    for page in split:
        edges = set(range(EDGE)) | set(range(len(page) - EDGE, len(page)))
        removed: set[str] = set()
        for i, line in enumerate(page):
            if PAGE_NUMBER.match(line) or (i in edges and key(line) in recurring - removed):
                removed.add(key(line))
            else:
                kept.append(line)
        furniture.append(len(removed))
    return kept, furniture


def key(line: str) -> str:
    return re.sub(r"\d+", "#", line)


def score(pages: list[str], paragraphs: list[str]) -> dict[str, float]:
    text = "\n".join(pages)
    source = Counter(c for c in "".join(paragraphs) if not c.isspace())
    got = Counter(c for c in text if not c.isspace())
    lines, furniture = body_lines(pages)
    body = re.sub(r"\s+", "", "".join(lines))
    found, cursor = 0, 0
    for paragraph in paragraphs:
        at = body.find(re.sub(r"\s+", "", paragraph), cursor)
        if at >= 0:
            found, cursor = found + 1, at
    separable = sum(n >= 2 for n in furniture)  # a header and a footer (or page number)
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
    made = {
        "reportlab": [(p, render_pdf(p, p[0][:20])) for p in paragraphs],
        "reportlab, justified": [(p, render_pdf(p, p[0][:20], justify=True)) for p in paragraphs],
    }
    if CHROMIUM:
        made["chromium"] = [(p, render_pdf_chromium(p, p[0][:20])) for p in paragraphs]
    for producer, pdfs in made.items():
        print(f"\nthe five seeds, {producer}:")
        compare(pdfs)


def compare(pdfs: list[tuple[list[str], bytes]]) -> None:
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
