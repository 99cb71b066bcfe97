from __future__ import annotations

import itertools
import re
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service import chunk
from service.chunk import DEFAULT_LOCAL_BUDGET, DEFAULT_REMOTE_BUDGET, chunk_document
from service.errors import InputError
from service.models import Chunk, Paragraph
from service.tokens import count_tokens
from tests.samples import SEEDS

# Independent of service.chunk on purpose: the tests restate the separator rules.
SENTENCE = re.compile(r"(?:[。｡！？；!?;]+[”’」』）)]*|\n)\s*")
CLAUSE = re.compile(r"(?:[，、､]|,(?!\d))[”’」』）)]*\s*")
DECIMAL = re.compile(r"\d+\.\d+")
HEADING = re.compile(r"^(?:[一二三四五六七八九十]+、|（[一二三四五六七八九十]+）|关键词\d)")


def paragraphs_of(text: str) -> list[Paragraph]:
    """Stand-in for the real segmenter: one paragraph per non-blank line."""
    out: list[Paragraph] = []
    pos = 0
    for line in text.split("\n"):
        if line.strip():
            out.append(
                Paragraph(
                    id=f"p{len(out) + 1}",
                    index=len(out),
                    start=pos,
                    end=pos + len(line),
                    text=line,
                    is_heading=bool(HEADING.match(line)),
                )
            )
        pos += len(line) + 1
    return out


def seams(chunks: list[Chunk]) -> list[int]:
    return [c.end for c in chunks[:-1]]


def pieces(pattern: re.Pattern[str], text: str, start: int, end: int) -> list[tuple[int, int]]:
    cuts = [m.end() for m in pattern.finditer(text, start, end) if start < m.end() < end]
    bounds = [start, *cuts, end]
    return list(itertools.pairwise(bounds))


def containing(spans: list[tuple[int, int]], pos: int) -> tuple[int, int]:
    return next((s, e) for s, e in spans if s <= pos < e)


def paragraph_spans(text: str, paragraphs: list[Paragraph]) -> list[tuple[int, int]]:
    if not paragraphs:
        return [(0, len(text))]
    bounds = [0] + [p.start for p in paragraphs[1:]] + [len(text)]
    return list(itertools.pairwise(bounds))


def assert_well_formed(text: str, paragraphs: list[Paragraph], chunks: list[Chunk]) -> None:
    for i, c in enumerate(chunks):
        assert (c.id, c.index) == (f"c{i}", i)
        assert 0 <= c.start < c.end <= len(text)
        assert c.text == text[c.start : c.end]
        assert c.tokens == count_tokens(c.text)
        assert c.paragraph_ids == [p.id for p in paragraphs if p.start < c.end and p.end > c.start]
    for prev, c in itertools.pairwise(chunks):
        assert prev.start < c.start <= prev.end < c.end  # in order, no gap
    if text:
        assert chunks[0].start == 0 and chunks[-1].end == len(text)
    covered = {pid for c in chunks for pid in c.paragraph_ids}
    assert covered == {p.id for p in paragraphs if p.end > p.start}


def assert_within_budget(chunks: list[Chunk], budget: int) -> None:
    """The only excess allowed: one character that alone costs more than the budget."""
    for c in chunks:
        assert c.tokens <= budget or len(c.text) == 1, (c.tokens, c.text)


def assert_seams_structural(text: str, paragraphs: list[Paragraph], budget: int) -> None:
    """Each seam is at the coarsest boundary the budget allows (tiled chunks only)."""
    chunks = chunk_document(text, paragraphs, budget)
    for seam in seams(chunks):
        para = containing(paragraph_spans(text, paragraphs), seam)
        if seam == para[0]:
            continue
        assert count_tokens(text[para[0] : para[1]]) > budget
        sentence = containing(pieces(SENTENCE, text, *para), seam)
        if seam == sentence[0]:
            continue
        assert count_tokens(text[sentence[0] : sentence[1]]) > budget
        clause = containing(pieces(CLAUSE, text, *sentence), seam)
        if seam != clause[0]:
            assert count_tokens(text[clause[0] : clause[1]]) > budget


# --- unit examples ------------------------------------------------------------------------


def test_default_budgets() -> None:
    assert DEFAULT_LOCAL_BUDGET == 700
    assert DEFAULT_REMOTE_BUDGET == 3000


def test_small_document_is_one_chunk_including_newlines() -> None:
    text = "第一段。\n\n第二段，有21.56%。\n"
    paragraphs = paragraphs_of(text)
    chunks = chunk_document(text, paragraphs, 100)
    assert [c.text for c in chunks] == [text]
    assert chunks[0].paragraph_ids == ["p1", "p2"]


def test_paragraphs_are_packed_whole_and_gaps_kept() -> None:
    lines = ["这是第一段文字。" * 3, "这是第二段文字。" * 3, "这是第三段文字。" * 3]
    text = "\n".join(lines) + "\n"
    one = count_tokens(lines[0] + "\n")
    chunks = chunk_document(text, paragraphs_of(text), one * 2 + 1)
    assert [c.text for c in chunks] == [lines[0] + "\n" + lines[1] + "\n", lines[2] + "\n"]


def test_no_paragraphs_means_the_whole_text_is_one_unit() -> None:
    text = "没有段落信息。但有两句。"
    assert [c.text for c in chunk_document(text, [], 100)] == [text]
    assert chunk_document("", [], 100) == []


def test_heading_opens_a_new_chunk_once_the_chunk_is_half_full() -> None:
    body = "推进科技创新。" * 10
    text = f"一、总体要求\n{body}\n二、重点任务\n落实。\n"
    chunks = chunk_document(text, paragraphs_of(text), count_tokens(text))  # all would fit
    assert [c.paragraph_ids for c in chunks] == [["p1", "p2"], ["p3", "p4"]]


def test_small_sections_share_a_chunk() -> None:
    text = "一、总体要求\n推进。\n二、重点任务\n落实。\n"
    chunks = chunk_document(text, paragraphs_of(text), 500)
    assert len(chunks) == 1


def test_heading_is_kept_with_the_paragraph_after_it() -> None:
    body = "这是标题下面的正文。" * 4
    text = f"前言很短。\n一、标题\n{body}\n"
    # Preface + heading is under half the budget (no section break), and the heading with its
    # body fills the budget exactly: the heading must move to the body's chunk.
    budget = count_tokens(f"一、标题\n{body}\n")
    chunks = chunk_document(text, paragraphs_of(text), budget)
    assert [c.paragraph_ids for c in chunks] == [["p1"], ["p2", "p3"]]


def test_heading_before_an_oversized_paragraph_joins_its_first_sentences() -> None:
    body = "".join(f"第{i}项任务要落实。" for i in range(30))
    text = f"前言。\n二、重点任务\n{body}\n"
    chunks = chunk_document(text, paragraphs_of(text), 60)
    assert chunks[0].paragraph_ids == ["p1"]
    assert chunks[1].text.startswith("二、重点任务\n第0项任务要落实。")
    assert chunks[1].paragraph_ids == ["p2", "p3"]


def test_oversized_paragraph_splits_after_sentence_and_closing_quote() -> None:
    text = "他说：“要加快建设。”然后补充道：“要落实到位！”最后强调，务必抓紧；大家表示同意。"
    budget = max(count_tokens(s) for s in ["他说：“要加快建设。”", "然后补充道：“要落实到位！”"])
    chunks = chunk_document(text, paragraphs_of(text), budget)
    assert chunks[0].text == "他说：“要加快建设。”"
    assert chunks[1].text.startswith("然后补充道：“要落实到位！”")
    assert "".join(c.text for c in chunks) == text
    assert_within_budget(chunks, budget)


def test_decimals_and_thousands_separators_are_not_seams() -> None:
    sentence = "全市生产总值增长21.56%，达到1,234.5亿元，居民收入增长3.5%。"
    text = sentence * 6
    chunks = chunk_document(text, paragraphs_of(text), count_tokens(sentence))
    assert [c.text for c in chunks] == [sentence] * 6
    # Below one sentence: clause seams only, never inside 21.56 or 1,234.5.
    clauses = ["全市生产总值增长21.56%，", "达到1,234.5亿元，", "居民收入增长3.5%。"]
    budget = max(count_tokens(c) for c in clauses)
    chunks = chunk_document(text, paragraphs_of(text), budget)
    assert "".join(c.text for c in chunks) == text
    assert all(c.text[-1] in "，。" for c in chunks)


def test_pieces_are_merged_by_counting_the_merged_text() -> None:
    """Two sentences of seed 003 cost one token more together than apart (the space after the
    closing quote joins the next word): a packer that adds piece counts would emit one chunk
    over budget here, as LangChain's splitters do (see service/chunk.py)."""
    first = (
        "跟随林叔的脚步,我们看见梅林的温度,看见深圳的包容,"
        "也听见那句熟悉的承诺——“来了,就是深圳人。” "
    )
    second = "而在这里,老了,也能幸福地留下。\n"
    budget = count_tokens(first) + count_tokens(second)
    assert count_tokens(first + second) > budget  # the premise: counts are not additive
    chunks = chunk_document(first + second, [], budget)
    assert [c.text for c in chunks] == [first, second]


def test_clause_split_when_a_sentence_is_over_budget() -> None:
    text = "坚持创新驱动，推进产业升级，加快数字转型、绿色发展，建设现代化城市。"
    budget = count_tokens("坚持创新驱动，推进产业升级，")
    chunks = chunk_document(text, paragraphs_of(text), budget)
    assert chunks[0].text == "坚持创新驱动，推进产业升级，"
    assert all(c.text[-1] in "，、。" for c in chunks)
    assert_seams_structural(text, paragraphs_of(text), budget)


def test_token_fallback_never_cuts_a_character() -> None:
    text = "深圳𠀀𠀁😀👍🏽前海河套" * 20  # no punctuation at all
    chunks = chunk_document(text, paragraphs_of(text), 7)
    assert "".join(c.text for c in chunks) == text
    assert len(chunks) > 1
    assert_within_budget(chunks, 7)
    assert all(c.tokens <= 7 for c in chunks)


def test_single_character_over_budget_is_its_own_chunk() -> None:
    chunks = chunk_document("a𠀀b", [], 2)  # cl100k spends 3 tokens on 𠀀
    assert [(c.text, c.tokens) for c in chunks] == [("a", 1), ("𠀀", 3), ("b", 1)]


def test_overlap_starts_at_a_sentence_and_stays_in_budget() -> None:
    text = "".join(f"第{i}句话讲一件事。" for i in range(40))
    budget, overlap = 60, 15
    chunks = chunk_document(text, paragraphs_of(text), budget, overlap)
    assert_well_formed(text, paragraphs_of(text), chunks)
    assert len(chunks) > 2
    for prev, c in itertools.pairwise(chunks):
        assert c.start < prev.end  # real overlap: one sentence of ~8 tokens fits in 15
        assert text[c.start - 1] == "。"
        assert count_tokens(text[c.start : prev.end]) <= overlap
    assert_within_budget(chunks, budget)


@pytest.mark.parametrize(
    ("budget", "overlap", "paragraphs"),
    [
        (0, 0, []),
        (10, 10, []),
        (10, -1, []),
        (10, 0, [Paragraph(id="p1", index=0, start=0, end=3, text="xyz")]),
        (10, 0, [Paragraph(id="p1", index=0, start=0, end=99, text="abc")]),
    ],
)
def test_bad_arguments_are_input_errors(
    budget: int, overlap: int, paragraphs: list[Paragraph]
) -> None:
    with pytest.raises(InputError):
        chunk_document("abcdef", paragraphs, budget, overlap)


def test_unsorted_paragraphs_are_rejected() -> None:
    text = "ab\ncd"
    p1, p2 = paragraphs_of(text)
    with pytest.raises(InputError, match="sorted"):
        chunk_document(text, [p2, p1], 10)


# --- the real seeds -----------------------------------------------------------------------


@pytest.mark.parametrize("budget", [300, 1500])
@pytest.mark.parametrize("seed", SEEDS, ids=lambda p: p.name)
def test_seeds_tile_within_budget_at_structural_seams(seed: Path, budget: int) -> None:
    text = seed.read_text(encoding="utf-8")
    paragraphs = paragraphs_of(text)
    chunks = chunk_document(text, paragraphs, budget)
    assert "".join(c.text for c in chunks) == text
    assert_well_formed(text, paragraphs, chunks)
    assert all(c.tokens <= budget for c in chunks)
    for m in DECIMAL.finditer(text):
        assert not any(m.start() < s < m.end() for s in seams(chunks)), m.group()
    assert_seams_structural(text, paragraphs, budget)


@pytest.mark.parametrize("seed", SEEDS, ids=lambda p: p.name)
def test_seeds_with_overlap_start_at_sentence_or_clause(seed: Path) -> None:
    text = seed.read_text(encoding="utf-8")
    paragraphs = paragraphs_of(text)
    chunks = chunk_document(text, paragraphs, 700, overlap=100)
    assert_well_formed(text, paragraphs, chunks)
    assert all(c.tokens <= 700 for c in chunks)
    boundaries = {m.end() for pattern in (SENTENCE, CLAUSE) for m in pattern.finditer(text)}
    for prev, c in itertools.pairwise(chunks):
        assert c.start < prev.end and c.start in boundaries
        assert count_tokens(text[c.start : prev.end]) <= 100


def test_seed_decimals_exist() -> None:
    """Guard for the test above: the seeds really contain decimals such as 4.5 and PM2.5."""
    assert len(DECIMAL.findall("".join(p.read_text(encoding="utf-8") for p in SEEDS))) >= 2


# --- counting from seams changes no chunk -----------------------------------------------------


class RecountingCounter:
    """The chunker's counter before seams: every span re-encoded from scratch."""

    def __init__(self, text: str) -> None:
        self.text = text

    def count(self, start: int, end: int) -> int:
        return count_tokens(self.text[start:end])


def chunks_both_ways(
    text: str, paragraphs: list[Paragraph], budget: int, overlap: int = 0
) -> tuple[list[Chunk], list[Chunk]]:
    """Chunks with every span recounted, and as shipped."""
    with mock.patch.object(chunk, "SpanCounter", RecountingCounter):
        recounted = chunk_document(text, paragraphs, budget, overlap)
    return recounted, chunk_document(text, paragraphs, budget, overlap)


@pytest.mark.parametrize(("budget", "overlap"), [(60, 0), (150, 30), (700, 0), (3000, 100)])
@pytest.mark.parametrize("seed", SEEDS, ids=lambda p: p.name)
def test_seed_chunks_are_those_of_recounting(seed: Path, budget: int, overlap: int) -> None:
    text = seed.read_text(encoding="utf-8")
    recounted, shipped = chunks_both_ways(text, paragraphs_of(text), budget, overlap)
    assert [(c.start, c.end, c.tokens) for c in shipped] == [
        (c.start, c.end, c.tokens) for c in recounted
    ]
    assert shipped == recounted


def large_synthetic() -> str:
    """~250 KB: the seeds repeated, every third seed with its line breaks removed, so that
    the packing inside oversized paragraphs (sentences, clauses) runs at scale too."""
    texts = [p.read_text(encoding="utf-8") for p in SEEDS]
    parts = [t.replace("\n", "") if i % 3 == 2 else t for i, t in enumerate(texts * 6)]
    return "\n\n".join(parts)


@pytest.mark.parametrize("budget", [300, 3000])
def test_large_input_chunks_are_those_of_recounting(budget: int) -> None:
    text = large_synthetic()
    assert len(text.encode()) > 200_000
    recounted, shipped = chunks_both_ways(text, paragraphs_of(text), budget)
    assert len(shipped) > 10
    assert shipped == recounted


# --- properties ---------------------------------------------------------------------------

# One flat list of atoms per document keeps generation cheap; newline atoms end paragraphs.
ATOMS = st.sampled_from(
    ["深圳", "推进", "建设", "高质量", "发展", "前海", "河套", "𠀀𠀁", "😀", "👍🏽", "AI", "5G",
     "GDP ", "21.56%", "1,234", "3.5", "二〇二五年", " ", "”", "（试行）", "科技创新", "产业",
     "，", ",", "、", "。", "！", "？", "；", "!", "?", ";", "。”", "！」", "\n", "\n\n", "\n \n"]
)  # fmt: skip


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, list[Paragraph]]:
    text = "".join(draw(st.lists(ATOMS, max_size=200)))
    headings = draw(st.sets(st.integers(min_value=1, max_value=12), max_size=4))
    paragraphs = [
        p.model_copy(update={"is_heading": p.index in headings}) for p in paragraphs_of(text)
    ]
    return text, paragraphs


PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(documents(), st.integers(min_value=1, max_value=80))
def test_property_tiles_within_budget_at_structural_seams(
    doc: tuple[str, list[Paragraph]], budget: int
) -> None:
    text, paragraphs = doc
    chunks = chunk_document(text, paragraphs, budget)
    assert "".join(c.text for c in chunks) == text
    assert_well_formed(text, paragraphs, chunks)
    assert_within_budget(chunks, budget)
    assert_seams_structural(text, paragraphs, budget)


@PROPERTY
@given(documents(), st.integers(min_value=2, max_value=80), st.data())
def test_property_overlap_covers_and_stays_in_budget(
    doc: tuple[str, list[Paragraph]], budget: int, data: st.DataObject
) -> None:
    text, paragraphs = doc
    overlap = data.draw(st.integers(min_value=1, max_value=budget - 1))
    chunks = chunk_document(text, paragraphs, budget, overlap)
    assert_well_formed(text, paragraphs, chunks)  # includes: no gaps, first at 0, last at end
    assert_within_budget(chunks, budget)
    for prev, c in itertools.pairwise(chunks):
        assert count_tokens(text[c.start : prev.end]) <= overlap


def test_long_run_without_punctuation_is_cut_in_windows() -> None:
    text = "深圳前海河套科技创新合作区" * 400 + "AI" * 300
    chunks = chunk_document(text, [], 50)
    assert "".join(c.text for c in chunks) == text
    assert all(0 < c.tokens <= 50 for c in chunks)
    assert len(chunks) <= count_tokens(text) / 50 * 1.2 + 2  # windows do not starve pieces
