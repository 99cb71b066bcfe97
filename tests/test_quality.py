"""Deterministic quality checks: the failures the product must catch, and no false alarms."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from service.checks.quality import (
    LENGTH_RATIO_BAND,
    check_coverage,
    check_glossary,
    check_length_ratio,
    check_no_cjk,
    check_numbers,
    check_summary_numbers,
    summary_report,
    translation_report,
)
from service.checks.repairs import NumberFix, Repairs, TermFix

# Seed 000 (Traditional) and a faithful English rendering.
P1_ZH = (
    "會議強調，2021年是大灣區綜合性國家科學中心建設全面提速、縱深推進的重要一年。"
    "要深入實施2021年六方面、54項工作任務，推動一批重大科技基礎設施落地，"
    "把首批11個“沿途下蛋”項目落到實處。"
)
P1_EN = (
    "The meeting stressed that 2021 is an important year for accelerating and deepening the "
    "comprehensive national science center in the Greater Bay Area. The 54 tasks in six areas "
    "for 2021 must be carried out, a batch of major science and technology infrastructure "
    "projects must land, and the first 11 'laying eggs along the way' projects must deliver."
)
P2_ZH = "市委深改委第十六次會議召開，慶祝深圳經濟特區建立40周年，以新業績慶祝建黨一百周年。"
P2_EN = (
    "The 16th meeting of the municipal deep reform commission was held, celebrating the 40th "
    "anniversary of the Shenzhen SEZ and greeting the centenary of the Party with new results."
)
# Seed 004 (Simplified): numbers in the work report.
P3_ZH = "固定资产投资计划超过8000亿元、增长15%，累计建成5G基站4.5万个，拆除消化违建2600万平方米。"
P3_EN = (
    "Planned fixed-asset investment exceeds 800 billion yuan, up 15%; 45,000 5G base stations "
    "have been built in total, and 26 million square meters of illegal buildings demolished."
)
LASER_ZH = "力争年底前开工建设自由电子激光科学装置。"


@dataclass
class Term:
    zh: str
    en: str
    alternates: list[str] = field(default_factory=list)


GLOSSARY = [
    Term("大湾区", "Greater Bay Area", ["GBA"]),
    Term("先行示范区", "Pilot Demonstration Zone"),
    Term("深改委", "Commission for Deepening Reform", ["deep reform commission"]),
]


def terms_for(text: str) -> list[Term]:
    # The real glossary matches on the Simplified form; the one spelling needed here.
    simplified = text.replace("灣區", "湾区")
    return [t for t in GLOSSARY if t.zh in simplified]


def test_faithful_translation_preserves_all_numbers() -> None:
    for zh, en in [(P1_ZH, P1_EN), (P2_ZH, P2_EN), (P3_ZH, P3_EN)]:
        check = check_numbers(zh, en)
        assert check.ok, check
        assert check.total == check.preserved > 0


def test_changed_number_is_missing_and_extra() -> None:
    check = check_numbers(P1_ZH, P1_EN.replace("54", "45"))
    assert [m.value for m in check.missing] == [54]
    assert [m.value for m in check.extra] == [45]
    assert P1_ZH[check.missing[0].start : check.missing[0].end] == "54"


def test_dropped_number_is_missing() -> None:
    check = check_numbers(P1_ZH, P1_EN.replace("the first 11 ", "the first "))
    assert [(m.text, m.value) for m in check.missing] == [("11", 11)]
    assert check.extra == []


def test_invented_year_is_extra() -> None:
    # What the local model produced for 力争年底前开工建设自由电子激光科学装置.
    check = check_numbers(LASER_ZH, "Strive to start building the free electron laser by 2018.")
    assert check.total == 0
    assert [(m.text, m.value) for m in check.extra] == [("2018", 2018)]
    assert check_numbers(LASER_ZH, "Strive to start building it before the end of the year.").ok


def test_idioms_raise_no_number_alarms() -> None:
    zh = "建设国际一流湾区，统一部署，推动一批项目，形成一系列成果。"
    en = "Build a world-class bay area under unified plans, advancing a number of projects."
    assert check_numbers(zh, en).ok
    assert check_numbers(zh, en).total == 0


def test_number_words_and_dates_count_as_equivalents() -> None:
    zh = "2月20日，会议审议了十一个文件，增长百分之五。"
    assert check_numbers(zh, "On February 20 it reviewed eleven documents, up five percent.").ok
    assert check_numbers(zh, "On 20 February it reviewed 11 documents, up 5%.").ok
    wrong = check_numbers(zh, "On February 21 it reviewed 11 documents, up 5%.")
    assert [m.kind for m in wrong.missing] == ["date"]


@pytest.mark.parametrize(
    ("zh", "en", "extra"),
    [
        # A size class (…级) may be stated, as a number or not at all; a wrong one is extra.
        (
            "打造百平方公里级的高科技园区",
            "A park of a hundred square kilometres will be built.",
            [],
        ),
        (
            "打造百平方公里级的高科技园区",
            "A hundred-square-kilometre-level park will be built.",
            [],
        ),
        ("打造千亿级产业集群", "Clusters worth 100 billion yuan will be built.", []),
        ("打造千亿级产业集群", "Clusters worth 200 billion yuan will be built.", ["200 billion"]),
        (
            "千方百计保障就业",
            "Jobs will be secured by every means, for a hundred people.",
            ["hundred"],
        ),
    ],
)
def test_a_size_class_may_be_stated(zh: str, en: str, extra: list[str]) -> None:
    check = check_numbers(zh, en)
    assert check.missing == [] and [m.text for m in check.extra] == extra


def test_a_phase_in_roman_numerals_keeps_its_number() -> None:
    zh = "推进国家超算中心二期建设"
    assert check_numbers(zh, "Phase II of the National Supercomputing Centre will advance.").ok
    assert not check_numbers(zh, "Phase III of the National Supercomputing Centre.").ok


def test_summary_inventing_a_number() -> None:
    source = P1_ZH + P2_ZH
    good = check_summary_numbers(source, "Shenzhen set 54 tasks for 2021 at its 16th meeting.")
    assert good.ok and good.total == 3
    bad = check_summary_numbers(source, "Shenzhen set 60 tasks for 2021 and 3 trillion yuan.")
    assert [m.value for m in bad.extra] == [60, 3e12]
    assert bad.preserved == 1


def test_no_cjk() -> None:
    assert check_no_cjk(P1_EN) == []
    assert check_no_cjk("Promote the 雙區 construction，and “Two Zones”") == ["雙區", "，"]


def test_glossary_hits_and_misses() -> None:
    pairs = [
        ("p1", P1_ZH, P1_EN),
        ("p2", "推进粤港澳大湾区和先行示范区建设", "advance the greater-bay  area and the zone"),
    ]
    check = check_glossary(pairs, terms_for)
    found = {(h.paragraph_id, h.zh): h.found for h in check.hits}
    assert found == {
        ("p1", "大湾区"): True,
        ("p2", "大湾区"): True,
        ("p2", "先行示范区"): False,
    }
    assert [h.paragraph_id for h in check.misses] == ["p2"]


def test_glossary_accepts_plain_pairs() -> None:
    check = check_glossary([(P2_ZH, "The 16th meeting of the Party's reform body")], terms_for)
    assert [(h.paragraph_id, h.found) for h in check.misses] == [("p1", False)]


def test_coverage() -> None:
    check = check_coverage(["p1", "p2", "p3", "p4"], {"p1": "ok", "p2": None, "p3": "  "})
    assert (check.missing, check.untranslated, check.empty) == (["p4"], ["p2"], ["p3"])
    assert check.translated == 1 and not check.ok


def test_length_ratio_band() -> None:
    assert check_length_ratio(P1_ZH, P1_EN).ok
    short = check_length_ratio(P1_ZH, "The meeting stressed 2021.")
    assert not short.ok and short.ratio is not None and short.ratio < LENGTH_RATIO_BAND[0]
    assert check_length_ratio("第十六次會議", "x").ratio is None  # too short to judge


def test_translation_report_clean() -> None:
    rows = [("p1", P1_ZH, P1_EN), ("p2", P2_ZH, P2_EN), ("p3", P3_ZH, P3_EN)]
    report = translation_report(rows, terms_for)
    assert report.ok, report.issues
    assert report.numbers_total == report.numbers_preserved >= 12
    assert (report.paragraphs_total, report.paragraphs_translated) == (3, 3)
    assert report.glossary_terms == report.glossary_adhered == 2


def test_translation_report_catches_every_failure() -> None:
    rows = [
        ("p1", P1_ZH, P1_EN.replace("54", "45").replace("Greater Bay Area", "大灣區")),
        ("p2", P2_ZH, None),
        ("p3", P3_ZH, P3_EN + " Completion is due by 2018."),
    ]
    report = translation_report(rows, terms_for, expected_ids=["p1", "p2", "p3", "p4"])
    kinds = sorted((i.kind, i.paragraph_id) for i in report.issues)
    assert kinds == [
        ("cjk_left", "p1"),
        ("glossary_miss", "p1"),
        ("number_extra", "p1"),
        ("number_extra", "p3"),
        ("number_missing", "p1"),
        ("paragraph_missing", "p4"),
        ("untranslated", "p2"),
    ]
    assert not report.ok
    assert (report.paragraphs_total, report.paragraphs_translated) == (4, 2)


def test_length_warning_does_not_fail_report() -> None:
    report = translation_report(
        [("p1", P1_ZH, "GBA 2021: 54 tasks in six areas; first 11.")], terms_for
    )
    assert [(i.kind, i.severity) for i in report.issues] == [("length_ratio", "warning")]
    assert report.ok


def test_repairs_are_warnings_with_counts_and_punctuation_is_one_issue() -> None:
    repairs = Repairs(
        numbers=[NumberFix(wrong="540", right="54", zh="54項")],
        terms=[
            TermFix(was="大灣區", zh="大湾区", en="Greater Bay Area", source="glossary"),
            TermFix(was="沿途", zh="沿途", en="along the way", source="dictionary"),
            TermFix(was="“", zh="“", en='"', source="punctuation"),
            TermFix(was="”", zh="”", en='"', source="punctuation"),
        ],
    )
    report = translation_report([("p1", P1_ZH, P1_EN)], terms_for, repairs={"p1": repairs})
    assert report.ok  # repairs are on record, not failures
    found = [(i.kind, i.severity, i.paragraph_id) for i in report.issues]
    assert found == [
        ("number_repaired", "warning", "p1"),
        ("term_replaced", "warning", "p1"),
        ("term_replaced", "warning", "p1"),
        ("punctuation_replaced", "warning", "p1"),
    ]
    assert (report.numbers_repaired, report.terms_replaced) == (1, 2)
    assert (
        "dictionary gloss (not an official rendering) 'along the way'" in report.issues[2].message
    )
    assert report.issues[3].message == "Chinese punctuation made ASCII: “”"


def test_summary_report_fields() -> None:
    source = P1_ZH + P2_ZH + P3_ZH
    report = summary_report(
        source,
        {
            "headline": "Shenzhen sets 54 tasks for 2021",
            "key_points": ["Investment over 800 billion yuan", "Invented 7 new zones 深圳"],
        },
    )
    assert sorted((i.kind, i.paragraph_id) for i in report.issues) == [
        ("cjk_left", "key_points[1]"),
        ("number_extra", "key_points[1]"),
    ]
    assert (report.numbers_total, report.numbers_preserved) == (4, 3)
