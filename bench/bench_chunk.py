"""Chunking a 5 MB input: every span recounted (before) vs counted from seams (after), one run.

Run: PYTHONPATH=. python bench/bench_chunk.py [--bytes 5238784] [--budget 3000]

Inputs: the Chinese text of the largest reference report repeated to just under the 5 MB
input limit (as bench/bench_memory.py), ingested once; and the same text with its paragraphs
joined into paragraphs of ~60 KB each, so that the sentence-level packing inside an oversized
paragraph is timed too. "before" is today's ``chunk_document`` with its counter swapped for
one that re-encodes every span it is asked about (what the chunker did until this change);
"after" is ``chunk_document`` as shipped. Both must return identical chunks (asserted).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any
from unittest import mock

from bench.bench_memory import _chinese_text
from bench.common import emit, largest_reference
from service import chunk
from service.config import Settings
from service.ingest import ingest_bytes
from service.models import Chunk, Paragraph
from service.tokens import count_tokens


class RecountingCounter:
    """The chunker's counter as it was: every span re-encoded from scratch."""

    def __init__(self, text: str) -> None:
        self.text = text

    def count(self, start: int, end: int) -> int:
        return count_tokens(self.text[start:end])


def timed(work: Callable[[], list[Chunk]]) -> tuple[float, list[Chunk]]:
    t0 = time.perf_counter()
    out = work()
    return time.perf_counter() - t0, out


def compare(text: str, paragraphs: list[Paragraph], budget: int) -> dict[str, Any]:
    """Chunk twice (recounting, then seams) and check that the chunks are identical."""

    def after() -> list[Chunk]:
        return chunk.chunk_document(text, paragraphs, budget)

    def before() -> list[Chunk]:
        with mock.patch.object(chunk, "SpanCounter", RecountingCounter):
            return chunk.chunk_document(text, paragraphs, budget)

    before_s, old = timed(before)
    after_s, new = timed(after)
    if old != new:
        raise SystemExit("chunks differ between the recounting and the seam counter")
    return {
        "input_bytes": len(text.encode()),
        "paragraphs": len(paragraphs),
        "chunks": len(new),
        "before_s": round(before_s, 2),
        "after_s": round(after_s, 2),
        "speedup": round(before_s / after_s, 1),
    }


def inputs(size: int) -> dict[str, str]:
    """The reference text repeated to ``size`` bytes, and the same in ~60 KB paragraphs."""
    unit = _chinese_text(largest_reference())
    copies = max(1, size // (len(unit.encode()) + 2))
    long_unit = unit.replace("\n", "")
    return {"paragraphs": "\n\n".join([unit] * copies), "long": "\n\n".join([long_unit] * copies)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bytes", type=int, default=5 * 1024 * 1024 - 4096)
    parser.add_argument("--budget", type=int, default=3000)
    args = parser.parse_args()
    count_tokens("预热")  # load the encoder first: both sides share it
    result: dict[str, Any] = {"budget": args.budget}
    for name, text in inputs(args.bytes).items():
        t0 = time.perf_counter()
        doc = ingest_bytes(text.encode(), "bench.txt", settings=Settings())
        result[name] = {"ingest_s": round(time.perf_counter() - t0, 2)}
        result[name] |= compare(doc.text, doc.paragraphs, args.budget)
    emit("chunk", result)


if __name__ == "__main__":
    main()
