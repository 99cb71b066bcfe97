"""Number extraction and normalisation for Chinese (both scripts) and English."""

from __future__ import annotations

import pytest

from service.checks.numbers import NumberMention, contains_value, extract_en, extract_zh
from tests.samples import seed


def values(mentions: list[NumberMention]) -> list[tuple[float, str]]:
    return [(m.value, m.kind) for m in mentions]


def one(text: str) -> NumberMention:
    found = extract_zh(text)
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize(
    ("text", "value", "kind"),
    [
        ("增长21.56亿", 21.56e8, "number"),
        ("打造1.2万亿元产业", 1.2e12, "number"),
        ("投入3000万元", 3e7, "number"),
        ("共计21,207个字", 21207, "number"),
        ("首批１１個項目", 11, "number"),
        ("基站4.5万个", 45000, "number"),
        ("1700多万人", 1.7e7, "number"),
        ("一百零三项", 103, "number"),
        ("十一个", 11, "number"),
        ("三千万元", 3e7, "number"),
        ("兩個維護", 2, "number"),
        ("二〇二一年", 2021, "year"),
        ("2021年工作要点", 2021, "year"),
        ("2月20日召开", 220, "date"),
        ("十一月十六日", 1116, "date"),
        ("截至8月", 8, "month"),
        ("第十六次會議", 16, "ordinal"),
        ("第二批", 2, "ordinal"),
        ("确保“十四五”开好局", 14, "plan"),
        ("“十三五”规划", 13, "plan"),
        ("百分之五", 5, "percent"),
        ("百分之五點五", 5.5, "percent"),
        ("增长15%", 15, "percent"),
        ("增长１５％", 15, "percent"),
        ("提高0.5个百分点", 0.5, "points"),
        ("下降两个百分點", 2, "points"),
        ("建党一百周年", 100, "number"),
        ("建立40周年", 40, "number"),
        # Composite magnitudes and 千/百 after digits.
        ("新增4万多亿元", 4e12, "number"),
        ("增加到1万6千多户", 16_000, "number"),
        ("增加到1亿3千多万", 1.3e8, "number"),
        ("增加到2万5千公里", 25_000, "number"),
        ("由5千多户增加", 5_000, "number"),
        ("3千多万人", 3e7, "number"),
        ("5百万元", 5e6, "number"),
        ("3百多人", 300, "number"),
        ("煤电产能5000万千瓦", 5e7, "number"),
        ("功率5千瓦", 5, "number"),
        ("长5千米", 5, "number"),
    ],
)
def test_zh_values(text: str, value: float, kind: str) -> None:
    m = one(text)
    assert (m.value, m.kind) == (pytest.approx(value), kind)
    assert text[m.start : m.end] == m.text


@pytest.mark.parametrize(
    "text",
    [
        "建设国际一流湾区",
        "统一部署",
        "加快形成一批可复制可推广的经验",
        "一些地方",
        "万物互联",
        "一系列重要讲话",
        "改革开放的一面旗帜",
        "扎实做好“一河两岸”",
        "“三化三型三最”干部",
        "一体推进不敢腐、不能腐、不想腐",
        "打造万亿级先进制造业",
        "千方百计",
        "一五一十",
        "“一事三地”“一策三地”",
        "“一区两核多支点”",
        "新一轮技术改造",
        "核心承载区之一",
    ],
)
def test_zh_idioms_are_not_numbers(text: str) -> None:
    assert extract_zh(text) == []


def test_zh_range_gives_both_years() -> None:
    found = extract_zh("实施方案（2020-2025年）")
    assert [(m.value, m.kind) for m in found] == [(2020, "year"), (2025, "year")]


def test_zh_composite_needs_a_whole_number() -> None:
    assert [m.value for m in extract_zh("1.5亿5千万")] == [1.5e8, 5e7]


def test_zh_comma_needs_three_digits() -> None:
    assert [m.value for m in extract_zh("2020,2021两年")] == [2020, 2021, 2]
    assert [m.value for m in extract_zh("共1,234,567元")] == [1234567]


def test_zh_spans_on_traditional_seed() -> None:
    text = seed("000").read_text(encoding="utf-8")
    found = extract_zh(text)
    for m in found:
        assert text[m.start : m.end] == m.text
    got = {(m.value, m.kind) for m in found}
    assert {(220, "date"), (16, "ordinal"), (40, "number"), (14, "plan"), (100, "number")} <= got
    assert {(2021, "year"), (54, "number"), (11, "number"), (103, "number"), (6, "number")} <= got
    assert (1, "number") not in {(m.value, m.kind) for m in found if m.text == "一"}


def test_zh_simplified_work_report_seed() -> None:
    text = seed("004").read_text(encoding="utf-8")
    got = {m.value for m in extract_zh(text)}
    assert {8e11, 15, 4.5e4, 2.6e7, 3e9, 400} <= got


@pytest.mark.parametrize(
    ("text", "value", "kind", "strong"),
    [
        ("1.2 trillion yuan", 1.2e12, "number", True),
        ("12 million people", 1.2e7, "number", True),
        ("30,000,000", 3e7, "number", True),
        ("103 items", 103, "number", True),
        ("one hundred and three items", 103, "number", True),
        ("twenty-one", 21, "number", True),
        ("eleven projects", 11, "number", True),
        ("six areas", 6, "number", False),
        ("the 16th meeting", 16, "ordinal", True),
        ("the sixteenth meeting", 16, "ordinal", True),
        ("grew 5%", 5, "percent", True),
        ("five percent", 5, "percent", False),
        ("5 per cent", 5, "percent", True),
        ("0.5 percentage points", 0.5, "points", True),
        ("21.56", 21.56, "number", True),
        ("the centenary of the Party", 100, "ordinal", False),
        ("a million people", 1e6, "number", True),
        ("the one hundredth day", 100, "ordinal", True),
    ],
)
def test_en_values(text: str, value: float, kind: str, strong: bool) -> None:
    found = extract_en(text)
    assert len(found) == 1, found
    m = found[0]
    assert (m.value, m.kind, m.strong) == (pytest.approx(value), kind, strong)
    assert text[m.start : m.end] == m.text


@pytest.mark.parametrize("text", ["February 20", "20 February", "Feb. 20", "February 20th"])
def test_en_dates(text: str) -> None:
    dates = [m for m in extract_en(text) if m.kind == "date"]
    assert [m.value for m in dates] == [220]


def test_en_ignores_names_list_markers_and_vague_scales() -> None:
    text = "1. Fight COVID-19\n(2) millions of people and hundreds of firms"
    assert extract_en(text) == []


def test_en_range_and_years() -> None:
    assert [m.value for m in extract_en("in 2020-2025, by 2021")] == [2020, 2025, 2021]


def test_values_compare_within_family() -> None:
    date = one("2月20日")
    assert not contains_value(extract_en("220 tasks"), date)
    assert contains_value(extract_en("on 20 February"), date)
    assert contains_value(extract_en("30 million"), one("3000万"))
    assert contains_value(extract_en("1.2 trillion"), one("1.2万亿"))
