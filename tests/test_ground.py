"""Grounding model quotes in real seed text: offsets must always point at the quoted text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import opencc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.models import Paragraph
from service.tasks.commitments.ground import (
    Alignment,
    check_fields,
    commitment_id,
    ground_commitments,
    ground_quotes,
    normalize,
    normalize_with_map,
    numbers_in,
)
from service.tasks.commitments.schema import ExtractedCommitment, Target
from tests.samples import CORPUS, commitment_record, seed

TRAD = seed("000").read_text(encoding="utf-8")  # Traditional
SIMP = seed("001").read_text(encoding="utf-8")  # Simplified
REPORT = seed("004").read_text(encoding="utf-8")  # Simplified, numbers
T2S = opencc.OpenCC("t2s")


def _assert_grounded(text: str, a: Alignment) -> None:
    assert a.aligned and a.start is not None and a.end is not None
    assert text[a.start : a.end] == a.text


def extracted(quote: str, **overrides: Any) -> ExtractedCommitment:
    return ExtractedCommitment(**commitment_record(quote, action_en="", gloss_en="", **overrides))


def test_exact_match() -> None:
    quote = "設立首期規模30億元的航運基金"
    [a] = ground_quotes(REPORT, ["设立首期规模30亿元的航运基金"])
    assert a.status == "exact" and a.score == 100.0
    assert a.start == REPORT.index("设立首期规模30亿元的航运基金")
    _assert_grounded(REPORT, a)
    [b] = ground_quotes(TRAD, ["力爭年底前開工建設自由電子激光科學裝置"])
    assert b.status == "exact" and b.text == "力爭年底前開工建設自由電子激光科學裝置"
    assert quote  # the Traditional form of the first quote is not in REPORT
    assert ground_quotes(REPORT, [quote])[0].status == "normalized"


def test_repeated_phrase_maps_to_successive_occurrences() -> None:
    occurrences = [i for i in range(len(TRAD)) if TRAD.startswith("會議強調", i)]
    assert len(occurrences) >= 5
    found = ground_quotes(TRAD, ["會議強調"] * len(occurrences))
    assert [a.start for a in found] == occurrences
    assert all(a.status == "exact" for a in found)


def test_repeated_phrase_wraps_when_quoted_more_often_than_written() -> None:
    first = TRAD.index("會議強調")
    count = TRAD.count("會議強調")
    found = ground_quotes(TRAD, ["會議強調"] * (count + 1))
    assert found[-1].start == first


def test_simplified_quote_against_traditional_text() -> None:
    original = "力爭年底前開工建設自由電子激光科學裝置"
    [a] = ground_quotes(TRAD, ["力争年底前开工建设自由电子激光科学装置"])
    assert a.status == "normalized"
    assert a.start == TRAD.index(original) and a.end == a.start + len(original)
    assert a.text == original


def test_traditional_quote_against_simplified_text() -> None:
    original = "旗帜鲜明把政治建设摆在首位"
    [a] = ground_quotes(SIMP, ["旗幟鮮明把政治建設擺在首位"])
    assert a.status == "normalized" and a.text == original
    assert a.start == SIMP.index(original)


def test_width_and_quote_mark_variants() -> None:
    # The source uses half-width commas and “ ” marks; the model writes full-width and 「 」.
    original = "舉全市之力推進粵港澳大灣區和深圳先行示范區“雙區”建設、實施深圳綜合改革試點,確保"
    quote = "举全市之力推进粤港澳大湾区和深圳先行示范区「双区」建设、实施深圳综合改革试点，确保"
    [a] = ground_quotes(TRAD, [quote])
    assert a.status == "normalized" and a.text == original
    [b] = ground_quotes(TRAD, ["按照省委＂１＋１＋９＂工作部署"])
    assert b.status == "normalized" and b.text == "按照省委“1+1+9”工作部署"


def test_whitespace_inside_quote_is_ignored() -> None:
    [a] = ground_quotes(REPORT, ["今年要累计建成 基站 4.5万个"])
    assert a.status == "normalized" and a.text == "今年要累计建成基站4.5万个"


def test_zero_width_characters_in_the_source_are_ignored() -> None:
    text = "今年要累计\u200b建成基站\ufeff4.5万个。"
    [a] = ground_quotes(text, ["今年要累计建成基站4.5万个"])
    assert a.status == "normalized" and a.start == 0 and a.text == text[:-1]


def test_paraphrased_quote_is_fuzzy_with_a_score() -> None:
    # The model dropped 科學 and wrote Simplified.
    [a] = ground_quotes(TRAD, ["力争年底前开工建设自由电子激光装置"])
    assert a.status == "fuzzy" and 85.0 <= a.score < 100.0
    _assert_grounded(TRAD, a)
    assert a.text == "力爭年底前開工建設自由電子激光科學裝置"


def test_fuzzy_threshold_is_respected() -> None:
    [a] = ground_quotes(TRAD, ["力争年底前开工建设自由电子激光装置"], fuzzy_threshold=99.0)
    assert a.status == "unaligned" and a.start is None and a.text is None
    assert 85.0 <= a.score < 99.0  # the best score is kept to explain the miss


def test_quote_not_in_text_is_unaligned() -> None:
    found = ground_quotes(TRAD, ["到2030年在月球上建成深圳科学城", "", "   "])
    assert [a.status for a in found] == ["unaligned"] * 3
    assert found[0].score < 85.0


def test_within_restricts_search_but_keeps_document_offsets() -> None:
    second = TRAD.index("會議強調", TRAD.index("會議強調") + 1)
    [a] = ground_quotes(TRAD, ["會議強調"], within=(second, len(TRAD)))
    assert a.start == second and TRAD[a.start : a.end] == "會議強調"


def test_normalize_map_points_at_original_characters() -> None:
    text = "“雙區” 建設，１＋１"
    norm = normalize_with_map(text)
    assert norm.text == '"双区"建设,1+1'
    assert all(
        normalize(text[i]) == "" or norm.text[k] in normalize(text[i])
        for k, i in enumerate(norm.index)
    )
    assert norm.to_original(1, 3) == (1, 3)


@st.composite
def _quoted_substring(draw: st.DrawFn) -> tuple[str, str, str]:
    text = draw(st.sampled_from([TRAD, SIMP]))
    start = draw(st.integers(0, len(text) - 8))
    end = draw(st.integers(start + 4, min(len(text), start + 80)))
    sub = text[start:end].strip()
    quote = sub
    if draw(st.booleans()):
        quote = T2S.convert(quote)
    if draw(st.booleans()):
        quote = quote.replace("“", "「").replace("”", "」").replace(",", "，")
    return text, sub, quote


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_quoted_substring())
def test_random_substrings_ground_to_the_original(case: tuple[str, str, str]) -> None:
    text, sub, quote = case
    [a] = ground_quotes(text, [quote])
    assert a.status in ("exact", "normalized")
    assert a.start is not None and text[a.start : a.end] == a.text
    assert normalize(a.text) == normalize(sub)
    if normalize(text).count(normalize(sub)) == 1:
        assert a.text == sub


def test_value_not_in_quote_is_flagged() -> None:
    quote = "今年要累计建成基站4.5万个"
    good = extracted(
        quote,
        targets=[Target(text="4.5万个", value=45000, unit="个", kind="count")],
        deadline_text="今年",
        trigger="要",
    )
    checks = check_fields(quote, good)
    assert checks.ok and checks.values_in_quote and checks.deadline_in_quote
    bad = good.model_copy(
        update={"targets": [Target(text="5万个", value=50000, unit="个", kind="count")]}
    )
    checks = check_fields(quote, bad)
    assert not checks.values_in_quote and not checks.targets_in_quote
    assert checks.failures == ["target:5万个", "value:50000"]


def test_checks_compare_on_simplified_forms() -> None:
    quote = "力爭年底前開工建設自由電子激光科學裝置"
    item = extracted(quote, deadline_text="年底前", trigger="力争")
    checks = check_fields(quote, item)
    assert checks.deadline_in_quote and checks.trigger_in_quote
    missing = check_fields(quote, item.model_copy(update={"trigger": "确保"}))
    assert missing.trigger_in_quote is False and missing.failures == ["trigger:确保"]
    assert check_fields(quote, extracted(quote)).deadline_in_quote is None


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("全年固定资产投资计划超过8000亿元", 8000e8),
        ("全年固定资产投资计划超过8000亿元", 8000),
        ("增长15%", 15),
        ("增长15%", 0.15),
        ("新增学位一百二十万个", 1_200_000),
        ("新增学位一百二十万个", 120),
        ("完成１，２００套", 1200),
        ("百分之十五", 15),
    ],
)
def test_numbers_in_reads_arabic_and_chinese_forms(text: str, value: float) -> None:
    assert value in numbers_in(text)


def test_ground_commitments_builds_records_with_paragraphs_and_ids() -> None:
    start = REPORT.index("大力发展数字经济")
    end = REPORT.index("\n", start)
    para = Paragraph(id="p15", index=14, start=start, end=end, text=REPORT[start:end])
    items = [
        extracted("今年要累计建成基站4.5万个", deadline_text="今年"),
        extracted("到2030年在月球上建成深圳科学城"),
    ]
    grounded, lost = ground_commitments("doc1", REPORT, [para], items, chunk_id="c3")
    assert grounded.alignment == "exact" and grounded.paragraph_id == "p15"
    assert grounded.quote == REPORT[grounded.start : grounded.end]  # type: ignore[misc]
    assert grounded.id == commitment_id("doc1", grounded.start, grounded.end, "")
    assert grounded.chunk_ids == ["c3"] and len(grounded.mentions) == 1
    assert grounded.checks is not None and grounded.checks.ok
    assert lost.alignment == "unaligned" and lost.start is None and lost.mentions == []
    assert lost.id != grounded.id and lost.id == commitment_id("doc1", None, None, lost.quote_zh)


def test_corpus_files_exist() -> None:
    assert isinstance(CORPUS, Path) and len(TRAD) > 1000 and len(SIMP) > 1000
