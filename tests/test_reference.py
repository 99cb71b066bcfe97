"""The bilingual reference parser: synthetic files always, the real set when it is present."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from service.errors import InputError
from service.eval.reference import (
    ReferenceDoc,
    ReferencePair,
    align,
    clean_markup,
    is_chinese,
    load_reference,
    load_reference_dir,
    rendering_evidence,
)
from tests.samples import REF, needs_ref

SYNTHETIC = """---
layout: post
title: "双语全文"
---

> 学习一下。

来源：[某报](https://example.com/a.html)

---

新华社 2016-03-18 13:13

<strong style="x">政府工作报告</strong><strong style="x">REPORT ON THE WORK</strong>

各位代表：<br/>Esteemed Deputies,

**一、回顾**<br/>**I. Review**

经济运行保持在合理区间。<br/>The economy operated within an appropriate range.
A second English line continues the same paragraph.

祝大家新年快乐！<br/>I wish you all a happy new year!
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "2020-02-06-2016-report-on-the-work-of-the-government.md"
    path.write_text(text, encoding="utf-8")
    return path


def test_synthetic_file_pairs_without_preface(tmp_path: Path) -> None:
    doc = load_reference(_write(tmp_path, SYNTHETIC))
    assert [(p.zh, p.en) for p in doc.pairs] == [
        ("政府工作报告", "REPORT ON THE WORK"),
        ("各位代表：", "Esteemed Deputies,"),
        ("一、回顾", "I. Review"),
        (
            "经济运行保持在合理区间。",
            "The economy operated within an appropriate range. "
            "A second English line continues the same paragraph.",
        ),
        ("祝大家新年快乐！", "I wish you all a happy new year!"),
    ]
    assert [p.index for p in doc.pairs] == list(range(5))


def test_missing_front_matter_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="front matter"):
        load_reference(_write(tmp_path, "中文<br/>English\n"))


def test_clean_markup_strips_tags_links_emphasis() -> None:
    raw = "&nbsp;&nbsp;<strong>一、**回顾**</strong> [链接](http://x.cn) &amp;"
    assert clean_markup(raw) == "一、回顾 链接 &"


def test_is_chinese_tolerates_acronyms() -> None:
    assert is_chinese("国内生产总值(GDP)增长5G")
    assert not is_chinese("GDP grew 8.1 percent, the 14th Five-Year Plan")


def test_align_one_to_many_by_length_and_numbers() -> None:
    zh = ["一是保持宏观政策连续性。" * 4, "二是优化政策。" * 3]
    en = [
        "1. We kept macro policy consistent and targeted.",
        "We kept the major economic indicators within the appropriate range all year round.",
        "2. We refined and implemented policies for easing the difficulties of businesses.",
    ]
    pairs = align(zh, en)
    assert len(pairs) == 2
    assert pairs[0][1].startswith("1. ") and "major economic indicators" in pairs[0][1]
    assert pairs[1][1].startswith("2. ")


def test_align_drops_unmatched_sides() -> None:
    assert align([], ["English only"]) == []
    assert align(["中文"], []) == []


# --- the real reference set ------------------------------------------------------------------


@pytest.fixture(scope="module")
def docs() -> dict[str, ReferenceDoc]:
    assert REF is not None
    return {d.name: d for d in load_reference_dir(REF)}


def _doc(docs: dict[str, ReferenceDoc], fragment: str) -> ReferenceDoc:
    (name,) = [n for n in docs if fragment in n]
    return docs[name]


@needs_ref
def test_every_file_has_sane_pair_counts_and_ratios(docs: dict[str, ReferenceDoc]) -> None:
    assert len(docs) == 12
    for name, doc in docs.items():
        minimum = 80 if "report" in name else 10
        assert len(doc.pairs) >= minimum, name
        ratio = statistics.median(len(p.en) / len(p.zh) for p in doc.pairs)
        assert 3.5 < ratio < 6.5, (name, ratio)  # official English ≈ 5 chars per Chinese char
        assert all(p.zh and p.en for p in doc.pairs)


@needs_ref
def test_no_preface_or_markup_in_pairs(docs: dict[str, ReferenceDoc]) -> None:
    banned = ("学习一下", "来源", "layout:", "http", "<", "&nbsp", "**", "全文如下", "新华网")
    for doc in docs.values():
        for pair in doc.pairs:
            text = pair.zh + pair.en
            assert not any(b in text for b in banned), (doc.name, pair.index, text[:80])
            assert is_chinese(pair.zh) and not is_chinese(pair.en)


@needs_ref
def test_first_and_last_pairs(docs: dict[str, ReferenceDoc]) -> None:
    speech = _doc(docs, "2020-new-year").pairs
    assert speech[0].zh.startswith("2020年就要到了")
    assert speech[0].en.startswith("The year 2020 is arriving.")
    assert (speech[-1].zh, speech[-1].en) == (
        "祝大家新年快乐！",
        "I wish you all a happy new year!",
    )
    report = _doc(docs, "2016-report").pairs
    assert (report[0].zh, report[0].en) == ("政府工作报告", "REPORT ON THE WORK OF THE GOVERNMENT")
    assert report[-1].zh.startswith("奋斗才能赢得未来")
    assert report[-1].en.startswith("Our future can be secured only through hard work.")
    lead_2021 = _doc(docs, "2021-report").pairs[0]
    assert lead_2021.zh == "政府工作报告"  # the news lead before "以下为报告双语全文" is dropped
    address_2023 = _doc(docs, "2023-new-year").pairs[0]
    assert address_2023.en.startswith("Greetings to you all.")


@needs_ref
def test_2022_block_alignment_by_paragraph_numbers(docs: dict[str, ReferenceDoc]) -> None:
    pairs = _doc(docs, "2022-report").pairs
    numerals = "一二三四五六七八九"
    numbered = {p.zh[0]: p for p in pairs if len(p.zh) > 2 and p.zh[1] == "是"}
    assert set(numbered) == set(numerals[:8])
    for i, ch in enumerate(numerals[:8], start=1):
        assert numbered[ch].en.startswith(f"{i}."), (ch, numbered[ch].en[:40])
    tasks = [p for p in pairs if p.zh.startswith("（") and p.zh[1] in numerals]
    assert len(tasks) == 9
    for i, pair in enumerate(tasks, start=1):
        assert pair.en.startswith(f"{i}."), pair.en[:40]
    gdp = next(p for p in pairs if p.zh.startswith("——经济保持恢复发展"))
    assert gdp.en.startswith("—The economy continued to recover and grow.")
    assert "114 trillion yuan" in gdp.en


@needs_ref
def test_glossary_sources_claiming_the_reference_are_backed_by_it(
    docs: dict[str, ReferenceDoc],
) -> None:
    from service.checks.glossary import Glossary
    from service.config import ROOT

    glossary = Glossary.load(ROOT / "prompts" / "glossary.tsv")
    claimed = [e for e in glossary.entries if e.source.startswith("gwr-bilingual")]
    assert len(claimed) >= 150
    for entry in claimed:
        evidence = rendering_evidence(entry.zh, entry.renderings, list(docs.values()))
        assert evidence.pairs_with_rendering >= 1, entry.zh


def test_rendering_evidence_normalises_english() -> None:
    doc = ReferenceDoc(
        name="x",
        pairs=[
            ReferencePair(
                zh="推进粤港澳大湾区建设",
                en="the Guangdong–Hong Kong–Macao".replace("–", "-") + " Greater  Bay Area",
                index=0,
            ),
            ReferencePair(zh="大湾区", en="GBA", index=1),
        ],
    )
    evidence = rendering_evidence("大湾区", ["guangdong-hong kong-macao greater bay area"], [doc])
    assert (evidence.pairs_with_term, evidence.pairs_with_rendering) == (2, 1)
    assert evidence.docs == ["x"]
