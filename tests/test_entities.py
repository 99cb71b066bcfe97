"""Entity recognition: names by pattern and alias, in either script, folded to one key."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.errors import ConfigError
from service.ingest.script import to_traditional
from service.tasks.commitments.entities import (
    DocumentEntities,
    find_mentions,
    load_entity_lexicon,
)

# Names no issue or lexicon lists: only the patterns can find them.
OTHER_CITY = (
    "要加快建设张江科学城，高标准推进横琴粤澳深度合作区建设。"
    "实施城市更新三年行动计划，支持苏州工业园区打造开放创新平台。"
    "积极推进科学城建设。"
)


def keys(text: str) -> list[str]:
    return [m.key for m in find_mentions(text)]


def test_patterns_find_names_no_list_holds() -> None:
    found = keys(OTHER_CITY)
    assert found[:2] == ["张江科学城", "横琴粤澳深度合作区"]
    assert "城市更新三年行动计划" in found
    assert "开放创新平台" not in found  # generic words only: a kind of thing, no name
    assert found[-1] == "张江科学城"  # 科学城 alone stands for the last science city named


def test_traditional_text_gives_the_same_keys_and_offsets_into_it() -> None:
    traditional = to_traditional(OTHER_CITY)
    assert traditional != OTHER_CITY
    mentions = find_mentions(traditional)
    assert [m.key for m in mentions] == keys(OTHER_CITY)
    for m in mentions:
        assert traditional[m.start : m.end] == m.surface
    assert mentions[0].surface == "張江科學城"


def test_aliases_fold_to_one_key() -> None:
    text = "推进河套深港科技创新合作区建设，发展河套，深港科技创新合作区要先行先试。"
    assert set(keys(text)) == {"深港科技创新合作区"}
    assert keys(to_traditional("高水平打造深港科技创新合作区。")) == ["深港科技创新合作区"]


def test_a_place_word_folds_only_when_the_bare_name_occurs() -> None:
    assert keys("审议深圳光明科学城总体发展规划，高标准建设光明科学城。") == ["光明科学城"] * 2
    assert keys("加快深圳湾超级总部基地开发建设。") == ["深圳湾超级总部基地"]


def test_a_short_form_with_no_full_name_before_it_is_dropped() -> None:
    assert keys("推进合作区建设。") == []


def test_a_heading_sentence_gives_its_section_an_entity() -> None:
    text = (
        "高标准建设光明科学城。坚持规划引领，加快光明云谷、光明小镇等重大项目建设。"
        "推进材料基因组、精准医学影像等重大科技基础设施建设。\n坚持规划引领，推进道路建设。"
    )
    doc = DocumentEntities(text)
    start = text.index("推进材料")
    about = doc.about(start, text.index("。", start))
    assert [(m.key, m.via) for m in about] == [("光明科学城", "section")]
    start = text.index("加快")
    about = doc.about(start, text.index("。", start))
    assert [(m.key, m.via) for m in about] == [
        ("光明云谷", "name"),
        ("光明小镇", "name"),
        ("光明科学城", "section"),
    ]
    assert doc.about(text.index("推进道路"), len(text)) == []  # a new paragraph ends it


def test_a_name_outside_every_commitment_of_the_sentence_is_its_commitments_too() -> None:
    text = "要强化区域联动，推动设施互联，联动香港园区、光明科学城等节点，加快建设鹏城实验室。"
    pledge = (text.index("推动"), text.index("互联") + 2)
    lab = (text.index("加快"), text.index("。"))
    doc = DocumentEntities(text, [pledge, lab])
    assert [(m.key, m.via) for m in doc.about(*pledge)] == [("光明科学城", "sentence")]
    # 鹏城实验室 is a commitment's own: it is not lent to its neighbours.
    assert [(m.key, m.via) for m in doc.about(*lab)] == [
        ("鹏城实验室", "name"),
        ("光明科学城", "sentence"),
    ]


def test_a_broken_lexicon_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "entities.toml"
    bad.write_text("[names]\nsuffixes = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="entity lexicon"):
        load_entity_lexicon(bad)


def test_a_quantifier_inside_a_word_and_latin_inside_a_name_end_nothing() -> None:
    text = "加快深圳自然博物馆、国家羽毛球队训练基地等重大项目建设，建成国际I期临床医院。"
    keys = [m.key for m in find_mentions(text)]
    assert "国家羽毛球队训练基地" in keys and "国际I期临床医院" in keys
    assert not any(k in ("队训练基地", "期临床医院") for k in keys)
    # A quantifier is still a boundary, and digits still end a name.
    assert [m.key for m in find_mentions("新建3家研究型医院")] == ["研究型医院"]
