"""Chinese magnitudes in English: hints for the prompt and the deterministic repair."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.checks.magnitudes import english, hint_line, hints, repair
from service.checks.numbers import extract_en, extract_zh, same_value
from service.eval.reference import load_reference_dir
from tests.samples import REF, needs_ref


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (13_610_000, "13.61 million"),
        (1.4e9, "1.4 billion"),
        (1.2e12, "1.2 trillion"),
        (2.38e12, "2.38 trillion"),
        (3e7, "30 million"),
        (5e4, "50,000"),
        (8.5e8, "850 million"),
        (8.3e11, "830 billion"),
        (16_000, "16,000"),
        (5_000, "5,000"),
        (1e15, "1,000 trillion"),
    ],
)
def test_english_of_a_value(value: float, text: str) -> None:
    assert english(value) == text


# --- hints -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zh", "line"),
    [
        ("城镇新增就业1361万人", "Numbers: 1361万 = 13.61 million"),
        ("近14亿人口", "Numbers: 近14亿 = nearly 1.4 billion"),
        ("打造1.2万亿元产业集群", "Numbers: 1.2万亿元 = 1.2 trillion yuan"),
        ("投入3000万元", "Numbers: 3000万元 = 30 million yuan"),
        ("建设5万个基站", "Numbers: 5万 = 50,000"),
        ("覆盖8.5亿人", "Numbers: 8.5亿 = 850 million"),
        ("降低百分之五", "Numbers: 百分之五 = 5 percent"),
        ("新增一千三百六十一万人", "Numbers: 一千三百六十一万 = 13.61 million"),
        (
            "城鎮新增就業1361萬人，近14億人口",
            "Numbers: 1361萬 = 13.61 million; 近14億 = nearly 1.4 billion",
        ),
        ("城镇新增就业１３６１万人", "Numbers: １３６１万 = 13.61 million"),
        ("外汇储备保持在3万亿美元以上", "Numbers: 3万亿美元 = 3 trillion US dollars"),
        ("新增4万多亿元", "Numbers: 4万多亿元 = more than 4 trillion yuan"),
        ("市场主体达到9800多万户", "Numbers: 9800多万 = more than 98 million"),
        (
            "由5千多户增加到1万6千多户",
            "Numbers: 5千多 = more than 5,000; 1万6千多 = more than 16,000",
        ),
        ("减税降费约1.3万亿元", "Numbers: 约1.3万亿元 = about 1.3 trillion yuan"),
        ("累计减税超过2万亿元", "Numbers: 超过2万亿元 = more than 2 trillion yuan"),
        ("建设三千公里", "Numbers: 三千 = 3,000"),
    ],
)
def test_hint_line(zh: str, line: str) -> None:
    assert hint_line(zh) == line


@pytest.mark.parametrize(
    "zh",
    [
        "2021年国内生产总值增长8.1%",  # years and percentages need no hint
        "第十四个五年规划",
        "3月5日召开",
        "提高0.5个百分点",
        "建党一百周年，一百零三项任务",  # 百 in Chinese numerals: the model copes
        "统一部署，千方百计",
    ],
)
def test_no_hint_without_a_magnitude(zh: str) -> None:
    assert hint_line(zh) == ""


def test_hint_spans_and_repeats() -> None:
    zh = "节约1.2万亿元，另有1.2万亿元"
    found = hints(zh)
    assert [zh[h.start : h.end] for h in found] == [h.zh for h in found] == ["1.2万亿元"] * 2
    assert found[0].en == "1.2 trillion yuan"  # 节约 is "save", not the qualifier 约
    assert hint_line(zh) == "Numbers: 1.2万亿元 = 1.2 trillion yuan"  # said once


# --- repair: fixes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zh", "wrong", "right"),
    [
        ("城镇新增就业1361万人", "1361 million", "13.61 million"),
        ("城镇新增就业1361万人", "1,361 million", "13.61 million"),
        ("城镇新增就业1361万人", "13.61 billion", "13.61 million"),
        ("城镇新增就业1361万人", "136.1 million", "13.61 million"),
        ("城镇新增就业1361万人", "1361", "13.61 million"),
        ("近14亿人口", "14 billion", "1.4 billion"),
        ("近14亿人口", "fourteen billion", "1.4 billion"),
        ("打造1.2万亿元产业集群", "1.2 million", "1.2 trillion"),
        ("投入3000万元", "3000 million", "30 million"),
        ("建设5万个基站", "5 million", "50,000"),
        ("覆盖8.5亿人", "8.5 billion", "850 million"),
        ("新增一千三百六十一万人", "1361 million", "13.61 million"),
        ("城鎮新增就業1361萬人", "1361 million", "13.61 million"),
    ],
)
def test_wrong_magnitude_is_repaired(zh: str, wrong: str, right: str) -> None:
    result = repair(zh, f"Up to {wrong} people.")
    assert result.text == f"Up to {right} people."
    [fix] = result.fixes
    assert (fix.wrong, fix.right) == (wrong, right)
    assert zh[fix.source.start : fix.source.end] == fix.source.text
    assert result.missing == []


def test_real_sentence_jobs() -> None:
    zh = "城镇新增就业1361万人，调查失业率降到5.2%。"
    en = "1361 million new urban jobs were created; the surveyed unemployment rate fell to 5.2%."
    result = repair(zh, en)
    assert result.text == (
        "13.61 million new urban jobs were created; the surveyed unemployment rate fell to 5.2%."
    )
    assert [f.source.text for f in result.fixes] == ["1361万"]


def test_real_sentence_population_keeps_the_ordinal() -> None:
    zh = "“十四五”时期，近14亿人口的大国要实现共同富裕。"
    en = "In the 14th Five-Year Plan period, a country of nearly 14 billion people must prosper."
    result = repair(zh, en)
    assert result.text == en.replace("14 billion", "1.4 billion")
    assert "14th" in result.text


def test_real_sentence_deficit_two_fixes_and_the_rest_byte_identical() -> None:
    zh = "今年赤字率拟按2.8%安排，赤字规模2.38万亿元，比去年增加2700亿元。"
    en = (
        "This year’s deficit-to-GDP ratio is projected at 2.8 percent — a deficit of "
        "2.38 billion yuan, 2,700 billion yuan more than last year."
    )
    result = repair(zh, en)
    assert result.text == (
        "This year’s deficit-to-GDP ratio is projected at 2.8 percent — a deficit of "
        "2.38 trillion yuan, 270 billion yuan more than last year."
    )
    assert [(f.wrong, f.right) for f in result.fixes] == [
        ("2.38 billion", "2.38 trillion"),
        ("2,700 billion", "270 billion"),
    ]
    for fix in result.fixes:
        assert en[fix.start : fix.end] == fix.wrong


def test_real_sentence_composite_number() -> None:
    zh = "日均新设企业由5千多户增加到1万6千多户。"
    en = "The number of new businesses opened daily rose from over 5 to more than 16 million."
    result = repair(zh, en)
    assert result.text == (
        "The number of new businesses opened daily rose from over 5,000 to more than 16,000."
    )


# --- repair: what must stay -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zh", "en"),
    [
        ("城镇新增就业1361万人", "13.61 million new urban jobs were created."),
        ("近14亿人口", "nearly 1.4 billion people"),
        (
            "今年赤字率拟按2.8%安排，赤字规模2.38万亿元。",
            "The deficit-to-GDP ratio is projected at 2.8 percent, with a deficit of "
            "2.38 trillion yuan.",
        ),
        ("财政赤字9300亿元", "The deficit will be 0.93 trillion yuan."),
        ("2021年城镇新增就业1269万人", "In 2021, 12.69 million new urban jobs were created."),
        ("3月5日召开，新增5万户", "It opened on March 5; 50,000 new households."),
    ],
)
def test_correct_english_is_left_alone(zh: str, en: str) -> None:
    result = repair(zh, en)
    assert (result.text, result.fixes, result.missing) == (en, [], [])


def test_a_percentage_is_never_repaired() -> None:
    result = repair("每天新设企业6.5万户", "6.5 percent of new firms")
    assert result.text == "6.5 percent of new firms"
    assert [m.text for m in result.missing] == ["6.5万"]  # marked on the page instead


def test_a_year_is_never_repaired() -> None:
    # 2020万 has the digits of the year 2020, which the English adds from context.
    en = "In 2020, 20.2 million people were covered."
    assert repair("新增参保2020万人", en).text == en
    wrong = "In 2020, 2020 million people were covered."
    assert repair("新增参保2020万人", wrong).text == en  # the year stays, the figure is fixed


def test_ambiguous_source_is_not_repaired() -> None:
    zh = "新建高标准农田1亿亩，改造农村危房1000万户。"
    en = "We will build 1 billion mu of farmland and renovate 100,000 rural homes."
    result = repair(zh, en)
    assert result.text == en and result.fixes == []  # both 1亿 and 1000万 are digits "1"
    assert [m.text for m in result.missing] == ["1亿", "1000万"]


def test_english_value_present_in_the_source_is_not_repaired() -> None:
    zh = "投入资金140亿元，惠及14亿人。"
    en = "14 billion yuan was invested, benefiting 14 billion people."
    result = repair(zh, en)
    assert result.text == en  # "14 billion" is 140亿: which one is wrong cannot be told
    assert [m.text for m in result.missing] == ["14亿"]


def test_a_number_already_rendered_is_not_the_wrong_one() -> None:
    # The official English converts 3000万亩 to 2 million hectares; 2万 is rendered already.
    zh = "高速公路里程达到2万公里，节水灌溉面积增加3000万亩。"
    en = "Expressways reached 20,000 km, and water-efficient irrigation grew by 2 million hectares."
    result = repair(zh, en)
    assert result.text == en and result.fixes == []


def test_a_candidate_already_rendered_right_leaves_the_other() -> None:
    # Seen on the 2018 report: 830万 and 8300万 both have the digits of "830,000", but
    # 8300万 is rendered right ("83 million"), so the wrong number can only be 830万.
    zh = "易地扶贫搬迁830万人。出境旅游人次由8300万增加到1亿3千多万。"
    en = "830,000 people were relocated. Outbound trips rose from 83 million to 130 million."
    result = repair(zh, en)
    assert result.text == en.replace("830,000", "8.3 million")
    assert [f.source.text for f in result.fixes] == ["830万"]


def test_a_repeated_number_rendered_once_right_once_wrong() -> None:
    zh = "新增1361万人，其中1361万人为城镇就业。"
    en = "13.61 million added, of whom 1361 million in urban jobs."
    assert repair(zh, en).text == "13.61 million added, of whom 13.61 million in urban jobs."


def test_small_numbers_and_words_are_not_candidates() -> None:
    zh = "六个方面，投资60万亿元"  # 六 has digit 6 but no magnitude to confuse
    result = repair(zh, "six areas, an investment of 60 billion yuan")
    assert result.text == "six areas, an investment of 60 trillion yuan"
    assert repair("一批项目投资1亿元", "one batch, 1 billion yuan").text == (
        "one batch, 100 million yuan"
    )


# --- properties ----------------------------------------------------------------------------------

_MAGNITUDES = {"万": 1e4, "亿": 1e8, "万亿": 1e12}
_WRONG_WORD = {"万": "million", "亿": "billion", "万亿": "billion"}


@st.composite
def scaled(draw: st.DrawFn) -> tuple[str, str]:
    """A Chinese number text such as 1361 or 2.38, and a magnitude."""
    whole = draw(st.integers(min_value=1, max_value=9999))
    decimals = draw(st.sampled_from(["", "5", "05", "25", "61", "38"]))
    text = f"{whole}.{decimals}" if decimals else str(whole)
    return text, draw(st.sampled_from(sorted(_MAGNITUDES)))


@settings(max_examples=200, deadline=None)
@given(scaled())
def test_hint_english_has_the_chinese_value(number: tuple[str, str]) -> None:
    digits, magnitude = number
    zh = f"全年投资{digits}{magnitude}元。"
    [source] = extract_zh(zh)
    [hint] = hints(zh)
    [rendered] = extract_en(hint.en)
    assert same_value(rendered.value, source.value)
    assert same_value(source.value, float(digits) * _MAGNITUDES[magnitude])


@settings(max_examples=200, deadline=None)
@given(scaled())
def test_repair_leaves_the_right_english_and_fixes_the_literal_one(
    number: tuple[str, str],
) -> None:
    digits, magnitude = number
    zh = f"全年投资{digits}{magnitude}元。"
    right = f"Investment reached {english(float(digits) * _MAGNITUDES[magnitude])} yuan."
    assert repair(zh, right).text == right
    literal = f"Investment reached {digits} {_WRONG_WORD[magnitude]} yuan."
    assert repair(zh, literal).text == right


# --- the official translations -------------------------------------------------------------------


@needs_ref
def test_no_repair_on_the_official_english() -> None:
    assert REF is not None
    pairs = [p for doc in load_reference_dir(REF) for p in doc.pairs]
    assert len(pairs) > 800
    assert [(p.index, f.wrong) for p in pairs for f in repair(p.zh, p.en).fixes] == []


@needs_ref
def test_literal_corruptions_of_the_official_english() -> None:
    from bench.measure_magnitudes import corruptions, outcome

    assert REF is not None
    pairs = [p for doc in load_reference_dir(REF) for p in doc.pairs]
    found = [outcome(c) for p in pairs for c in corruptions(p) if c.how == "literal"]
    assert len(found) > 200
    assert found.count("wrong") == 0
    assert found.count("fixed") >= 0.9 * len(found)
