"""The rule-based pledge detector: finds concrete pledges, skips slogans, keeps offsets exact."""

from __future__ import annotations

from pathlib import Path

import opencc
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from service.config import Settings
from service.errors import ConfigError
from service.eval.commitments import load_text
from service.tasks.commitments.rules import (
    Candidate,
    detect,
    find_targets,
    load_lexicon,
    simplified_view,
    split_clauses,
)
from tests.samples import SEEDS, seed


def _seed(prefix: str, settings: Settings) -> str:
    return load_text(seed(prefix), settings)


def _quotes(candidates: list[Candidate]) -> list[str]:
    return [c.quote for c in candidates]


@pytest.mark.parametrize("number", ["103項", "96項", "54項", "11個"])
def test_finds_the_quantified_pledges_of_the_2021_meeting(number: str, settings: Settings) -> None:
    found = [c for c in detect(_seed("000", settings)) if number in c.quote]
    assert found, f"no candidate mentions {number}"
    assert any(t.text.endswith(number[-1]) for t in found[0].targets)


def test_finds_named_projects(settings: Settings) -> None:
    quotes = "".join(_quotes(detect(_seed("001", settings)) + detect(_seed("004", settings))))
    projects = ("田心生态科技城", "深圳自然博物馆", "坪山能源生态园", "皇岗口岸重建")
    for project in (*projects, "国家超算中心二期"):
        assert project in quotes


@pytest.mark.parametrize(
    "text",
    [
        "增强“四个意识”、坚定“四个自信”、做到“两个维护”。",
        "会议审议通过了《深圳市推进大湾区建设2021年工作要点》；深圳光明科学城总体发展规划等文件。",
        "会议传达学习了习近平总书记在中央全面深化改革委员会第十八次会议上的重要讲话精神。",
        "报告总结了区第一次党代会以来的重大工作，科学提出了未来五年的奋斗目标。",
        "粤港澳大湾区建设是国家重大发展战略。",
        "推进科技攻关项目经理人制改革，对于我市深化科技体制改革具有重要意义。",
        "要深入学习贯彻习近平总书记重要讲话精神。",
        "打造5G创新最活跃、应用场景最丰富的城市。",
    ],
)
def test_skips_slogans_past_events_descriptions_and_study(text: str) -> None:
    assert detect(text) == []


def test_seed_slogans_and_readout_are_not_candidates(settings: Settings) -> None:
    quotes = _quotes(detect(_seed("000", settings)))
    assert not any("四個意識" in q or "傳達學習" in q or "審議通過" in q for q in quotes)


def test_offsets_are_exact_on_every_seed(settings: Settings) -> None:
    for path in SEEDS:
        text = load_text(path, settings)
        for c in detect(text):
            assert text[c.start : c.end] == c.quote


def test_traditional_and_simplified_give_the_same_spans() -> None:
    simplified = (
        "会议强调，要认真做好省政府下放深圳实施的103项行政职权承接工作。年底前开通6号线等7条线路。"
    )
    traditional = opencc.OpenCC("s2t").convert(simplified)
    assert traditional != simplified
    a, b = detect(simplified, doc_year=2020), detect(traditional, doc_year=2020)
    assert [(c.start, c.end, c.score) for c in a] == [(c.start, c.end, c.score) for c in b]
    assert [c.quote for c in b] == [traditional[c.start : c.end] for c in b]
    assert "職權" in b[0].quote


def test_simplified_view_keeps_length() -> None:
    text = "會議審議通過了關于加快推動醫療服務跨境銜接的若干措施"
    assert len(simplified_view(text)) == len(text)
    assert simplified_view(text).startswith("会议审议通过")


def test_targets_carry_value_unit_and_kind() -> None:
    lex = load_lexicon()
    (base,) = find_targets("今年要累计建成基站4.5万个", lex)
    assert (base.value, base.unit, base.kind) == (45000.0, "个", "count")
    (fund,) = find_targets("设立首期规模30亿元的航运基金", lex)
    assert (fund.value, fund.unit, fund.kind) == (3e9, "元", "money")
    (land,) = find_targets("全年整备土地约10平方公里", lex)
    assert land.kind == "area"
    assert find_targets("2021年工作要点、6号线、二期", lex) == []
    (seats,) = find_targets("新增学位21万", lex)
    assert (seats.value, seats.unit) == (210000.0, "")


def test_deadlines_resolve_years() -> None:
    (line,) = detect("年底前开通6号线等7条线路。", doc_year=2020)
    assert line.deadline is not None and line.deadline.year == 2020
    assert line.modality == "binding"
    (plan,) = detect("确保完成“十三五”期间建设筹集40万套的目标。")
    assert plan.deadline is not None and plan.deadline.year == 2020


def test_deadline_carries_over_within_a_sentence() -> None:
    text = "用三年时间新建公办义务教育学校146所，新建公办普通高中30所。"
    second = detect(text, doc_year=2020)[-1]
    assert second.quote == "新建公办普通高中30所"
    assert second.deadline is not None and second.deadline.year == 2023


def test_aspirational_modality_and_trigger() -> None:
    (c,) = detect("力争年底前开工建设自由电子激光科学装置。")
    assert c.modality == "aspirational"
    assert c.trigger == "开工建设"


def test_clauses_split_on_chinese_and_ascii_commas_but_not_numbers() -> None:
    text = "2月20日,会议召开，新增1,000个学位；建成绿道。"
    pieces = [text[c.start : c.end] for c in split_clauses(text)]
    assert pieces == ["2月20日", "会议召开", "新增1,000个学位", "建成绿道"]


def test_broken_lexicon_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "lexicon.toml"
    bad.write_text("[verbs\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="lexicon"):
        load_lexicon(bad)


def test_empty_and_blank_text_give_no_candidates() -> None:
    assert detect("") == []
    assert detect(" \n\u3000\n") == []


_PIECES = ["建成", "新增", "103项", "年底前", "，", "。", "、", "“", "”", "會議", "中心", " ", "\n"]


@hsettings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([*_PIECES, "深圳", "加快", "等", "6号线"]), max_size=30))
def test_offsets_hold_on_arbitrary_text(pieces: list[str]) -> None:
    text = "".join(pieces)
    for c in detect(text, threshold=0):
        assert text[c.start : c.end] == c.quote and c.quote.strip() == c.quote


@pytest.mark.parametrize(
    "text",
    [
        "关键词2 创新驱动\n加快开展高新区全域详规编制和城市设计。",  # title line
        '(三)聚焦做好"六稳"工作，推动经济高质量发展。',  # numbered heading
        "高标准建设光明科学城。加快光明云谷、光明小镇等重大项目建设。",  # section heading
        "要加强党的全面领导，强化统筹协调，层层压实责任。",  # formula and working methods
        "打造国际人才集聚高地。",  # vision
    ],
)
def test_headings_visions_and_methods_are_not_pledges(text: str) -> None:
    quotes = _quotes(detect(text))
    assert not any(q in text.split("\n")[0] for q in quotes if "关键词" in text)
    assert "高标准建设光明科学城" not in quotes
    assert not any("六稳" in q or "全面领导" in q or "统筹协调" in q or "高地" in q for q in quotes)


def test_general_pledges_of_a_meeting_readout_are_found() -> None:
    text = "会议强调，要继续深化工会改革和建设，加强家庭家教家风建设，不断增强基层工会的引领力。"
    assert _quotes(detect(text)) == ["要继续深化工会改革和建设", "加强家庭家教家风建设"]


def test_a_short_sentence_that_continues_a_programme_is_no_heading() -> None:
    assert _quotes(detect("继续办好特殊教育。")) == ["继续办好特殊教育"]


def test_a_state_designation_is_no_vision() -> None:
    text = "完善低保政策措施，创建无障碍城市，打造更有温度的爱心之城。"
    assert _quotes(detect(text)) == ["完善低保政策措施", "创建无障碍城市"]


def test_punctuation_inside_a_quoted_name_does_not_split_the_clause() -> None:
    text = "布局“一廊双环映山水,三轴四主连山城”碧道网络，实施生态廊道建设工程。"
    pieces = [text[c.start : c.end] for c in split_clauses(text)]
    assert pieces[0] == "布局“一廊双环映山水,三轴四主连山城”碧道网络"
