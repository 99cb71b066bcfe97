"""Pages written for readers: content first, problems in plain words, reasons folded away."""

from __future__ import annotations

import re

from service.artifacts import ChunkOutcome
from service.render import render_site
from service.render.bundle import DocumentBundle, TaskFailure
from service.render.escape import details
from service.render.problems import NO_ENGLISH, problems
from service.tasks.commitments.english import MISSING
from tests.samples import (
    GENERATED_AT,
    GLOSSARY_TERMS,
    READER_VERSION,
    bundle_a,
    headings,
    plain_text,
    raw_html,
    tables_after,
)

A = "docs/a1b2c3d4e5f6.md"
TECHNICAL = "output hit max_tokens=296 (finish_reason=length); shorten the input chunk"


def _site(*bundles: DocumentBundle) -> dict[str, str]:
    return render_site(
        list(bundles),
        glossary_terms=GLOSSARY_TERMS,
        generated_at=GENERATED_AT,
        reader_version=READER_VERSION,
    )


def _a_with_a_sentence_left_and_no_english() -> DocumentBundle:
    """Document A with every paragraph translated but one sentence left, and one commitment
    whose English failed its checks (the states of the real corpus run)."""
    b = bundle_a()
    assert b.translation is not None and b.commitments is not None
    for tp in b.translation.paragraphs:
        tp.en, tp.error = tp.en or "[sentence 1 not translated] The rest.", None
    b.translation.chunks[1] = ChunkOutcome(chunk_id="c1", status="fallback", error=TECHNICAL)
    b.translation.status = "partial"
    b.translation.quality.paragraphs_translated = b.translation.quality.paragraphs_total
    b.commitments.commitments[0].action_en = MISSING.format(reason="the answer states 2027")
    b.commitments.chunks[0] = ChunkOutcome(
        chunk_id="c0", status="fallback", error="English missing for 1 of 2: the answer states 2027"
    )
    b.commitments.status = "partial"
    return b


def test_summary_and_commitments_come_before_the_metadata() -> None:
    order = headings(_site(bundle_a())[A])
    wanted = ["Summary", "Commitments", "Document", "Translation (English)", "Quality report"]
    assert [h for h in order if h in wanted] == wanted


def test_problems_are_plain_on_the_page_and_technical_only_when_unfolded() -> None:
    page = _site(_a_with_a_sentence_left_and_no_english())[A]
    top = plain_text(page.split("## Summary")[0])
    assert "⚠ 1 sentence could not be translated;" in top
    assert "⚠ 1 commitment without English: the model's wording did not match" in top
    (folded,) = re.findall(r"<details>.*</details>", page)
    assert TECHNICAL in folded and "commitments: English missing for 1 of 2" in folded
    assert TECHNICAL not in page.replace(folded, "").split("## Quality report")[0]
    (table,) = tables_after(page, "Commitments")
    assert table[0][0] == NO_ENGLISH
    assert raw_html(page) == []


def test_index_problems_column_is_a_few_plain_words() -> None:
    index = _site(_a_with_a_sentence_left_and_no_english())["index.md"]
    (rows,) = tables_after(index, "Policy Reader — documents")
    assert rows[0][-1] == "⚠ 1 sentence not translated; 1 commitment without English"
    assert "max_tokens" not in index and "English missing" not in index


def test_untranslated_paragraphs_are_counted_for_the_reader() -> None:
    [problem, *_] = problems(bundle_a())
    assert problem.plain == "1 of 6 paragraphs could not be translated and are shown in Chinese."
    assert problem.short == "1 of 6 paragraphs not translated"


def test_a_task_not_run_is_said_plainly() -> None:
    b = bundle_a()
    b.translation = None
    b.failures = []
    assert [p.short for p in problems(b)] == ["no translation (not run)"]
    index = _site(b)["index.md"]
    assert "⚠ no translation (not run)" in plain_text(index)


def test_index_summary_skips_a_headline_that_repeats_the_title() -> None:
    b = bundle_a()
    assert b.summary is not None and b.summary.summary is not None
    b.summary.summary.headline = "Shenzhen Greater Bay Area Leading Group Meets"
    site = _site(b)
    (rows,) = tables_after(site["index.md"], "Policy Reader — documents")
    assert rows[0][3] == "The leading group met on 20 February 2021."
    assert "Shenzhen Greater Bay Area Leading Group Meets" not in site[A]


def test_details_escape_their_text() -> None:
    folded = details("Why <b>", ["a <script>alert(1)</script> & b\nnext line"])
    assert folded == (
        "<details><summary>Why &lt;b&gt;</summary><ul>"
        "<li>a &lt;script&gt;alert(1)&lt;/script&gt; &amp; b next line</li></ul></details>"
    )


def test_a_failed_task_says_what_is_missing_not_why() -> None:
    b = bundle_a()
    b.summary = None
    b.failures = [TaskFailure(kind="summary", message="ModelUnavailable: refused")]
    page = _site(b)[A]
    assert "⚠ The summary could not be made; try again later or with another model." in page
    (folded,) = re.findall(r"<details>.*</details>", page)
    assert "summary: ModelUnavailable: refused" in folded
