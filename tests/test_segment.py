"""Segmentation: exact offsets, stable ids, headings and nested section paths."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from service.config import Settings
from service.ingest import ingest_path
from service.ingest.segment import heading_level, segment
from tests.samples import SEEDS


def _exact(text: str) -> None:
    for i, p in enumerate(segment(text)):
        assert text[p.start : p.end] == p.text and p.id == f"p{i + 1}" and p.index == i


def test_nested_sections() -> None:
    text = (
        "标题\n一、总体要求\n正文甲。\n（一）指导思想\n正文乙。\n1.具体任务\n正文丙。\n"
        "(二)基本原则\n正文丁。\n二、重点任务\n正文戊。"
    )
    paras = segment(text)
    by_text = {p.text: p for p in paras}
    assert by_text["标题"].is_heading and by_text["标题"].section == []
    assert by_text["正文甲。"].section == ["一、总体要求"]
    assert by_text["正文丙。"].section == ["一、总体要求", "（一）指导思想", "1.具体任务"]
    assert by_text["(二)基本原则"].section == ["一、总体要求"]
    assert by_text["正文丁。"].section == ["一、总体要求", "(二)基本原则"]
    assert by_text["正文戊。"].section == ["二、重点任务"]
    assert [p.text for p in paras if p.is_heading] == [
        "标题", "一、总体要求", "（一）指导思想", "1.具体任务", "(二)基本原则", "二、重点任务",
    ]  # fmt: skip
    _exact(text)


def test_heading_sentence_split_from_body_with_exact_offsets() -> None:
    text = "前言。\n(二)聚焦建设主阵地,打造创意之都。创新决定未来。我们要充分发挥优势。"
    heading, body = segment(text)[1:]
    assert heading.text == "(二)聚焦建设主阵地,打造创意之都。" and heading.is_heading
    assert body.text == "创新决定未来。我们要充分发挥优势。" and not body.is_heading
    assert body.section == [heading.text] and body.start == heading.end
    _exact(text)


def test_numbers_that_are_not_headings() -> None:
    assert heading_level("1.5亿元用于建设。") is None
    assert heading_level("2021年是重要一年。") is None
    assert heading_level("1.加快建设") == 3
    assert heading_level("关键词3 高质量发展") == 1
    assert heading_level("（十二）完善机制") == 2
    long_item = "1." + "很长的一句正文" * 12 + "。"
    assert not segment("正文。\n" + long_item)[1].is_heading


def test_title_lines_only_before_the_body() -> None:
    paras = segment("孟凡利主持会议\n正文第一段。\n短句没有句号\n正文。")
    assert [p.is_heading for p in paras] == [True, False, False, False]


def test_offsets_survive_stray_whitespace() -> None:
    _exact("  第一段。 \n\n\n 第二段。\n")
    assert [p.text for p in segment("  第一段。 \n\n 第二段。")] == ["第一段。", "第二段。"]


@given(st.text(alphabet="一二、。（）()1.关键词 \n正文甲乙", max_size=80))
def test_offsets_exact_for_any_text(text: str) -> None:
    _exact(text)


def test_seed_structure() -> None:
    settings = Settings()
    docs = {s.name[:3]: ingest_path(s, settings=settings) for s in SEEDS}
    keyword = docs["001"].paragraphs
    assert sum(p.is_heading and p.text.startswith("关键词") for p in keyword) == 9
    last = keyword[-1]
    assert last.section == ["关键词9 生态底色"] and not last.is_heading
    report = docs["004"].paragraphs
    assert report[0].is_heading
    assert report[0].text.startswith("(二)聚焦建设综合性国家科学中心主阵地")
    assert report[1].text.startswith("创新决定未来。")
    level1 = next(p for p in report if p.text.startswith("三、"))
    assert level1.is_heading and level1.section == []
    assert report[-1].section == [level1.text]
    for doc in docs.values():
        assert all(doc.text[p.start : p.end] == p.text for p in doc.paragraphs)
    assert [len(d.paragraphs) for d in docs.values()] == [10, 54, 9, 7, 26]
