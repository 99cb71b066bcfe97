"""Cleaning on the real seeds: boilerplate gone, content and real parentheses kept, auditable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from service.config import Settings
from service.ingest import ingest_path
from service.ingest.clean import PINYIN_RULE, clean_text, load_rules
from service.ingest.pinyin import strip_pinyin
from service.models import Document
from tests.samples import SEEDS

PINYIN_ARTEFACT = re.compile(r"\([a-zü\u00e0-\u01dc ]+\)")

# Strings that must not survive cleaning, per seed prefix.
BOILERPLATE = {
    "000": ["熱線", "關注", "置頂"],
    "001": ["南方都市报APP", "原创2021-10-27", ".jpg", "微信图片", "采写", "编辑:", "南都新闻",
            "未经授权", "banquan@", "020-87006626"],
    "002": ["(huì", "(kāi)", "(xué)", "(zhì)", "ì )"],
    "003": ["编辑 周梦璇", "审读", "读特热榜", "馆长", "IN视频", "鹏友圈", "#45载圳青春", "07:43",
            "00:39", "友情链接", "ICP备", "公网安备", "Copyright", "1997-2023"],
    "004": ["SUCAI198", "(第2/2页)", "admin", "预计阅读时长", "221381", "领取福利", "微信扫码"],
}  # fmt: skip

# Sentences from the start, middle and end of every document that must survive verbatim.
SENTINELS = {
    "000": ["2月20日,深圳市推進中國特色社會主義先行示范區建設領導小組會議",
            "要通過多方共建方式,更好支持港澳優勢科研力量參與科學中心建設。",
            "向建黨一百周年交出優異答卷。"],
    "001": ["9大关键词打造“创新坪山 未来之城”",
            "10月26日,中国共产党深圳市坪山区第二次代表大会开幕。",
            "关键词5 城区规划", "推动形成人人关心、支持、参与生态环境保护的良好氛围。"],
    "002": ["原標題:市委常委會召開會議", "孟凡利主持會議",
            "深圳新聞網2023年11月16日訊(深圳特區報記者 林捷興)11月16日,市委常委會召開會議",
            "加快推動我市工會工作高質量發展。", "在國家實現高水平科技自立自強中展現深圳擔當作為。"],
    "003": ["孟凡利在河套深港科技创新合作区调研时强调", "牛芯半导体(深圳)有限公司",
            "加快打造汇聚全球智慧的科技合作平台。", "市领导黄敏、陶永欣参加活动。"],
    "004": ["(二)聚焦建设综合性国家科学中心主阵地,打造全球创新创业创意之都。创新决定未来。",
            "三、全面提升超大型城市政府治理能力现代化水平", "各位代表!特区的昨天永载史册",
            "实现中华民族伟大复兴的中国梦作出新的更大贡献!"],
}  # fmt: skip

REAL_PARENTHESES = {
    "000": "(2020-2025年)",
    "002": "(深圳特區報記者 林捷興)",
    "003": "(深圳)",
}


@pytest.fixture(scope="module")
def docs() -> dict[str, Document]:
    settings = Settings()
    return {seed.name[:3]: ingest_path(seed, settings=settings) for seed in SEEDS}


@pytest.mark.parametrize("prefix", sorted(BOILERPLATE))
def test_no_boilerplate_survives(prefix: str, docs: dict[str, Document]) -> None:
    text = docs[prefix].text
    assert [marker for marker in BOILERPLATE[prefix] if marker in text] == []
    assert PINYIN_ARTEFACT.search(text) is None


@pytest.mark.parametrize("prefix", sorted(SENTINELS))
def test_content_survives(prefix: str, docs: dict[str, Document]) -> None:
    text = docs[prefix].text
    assert [s for s in SENTINELS[prefix] if s not in text] == []


@pytest.mark.parametrize("prefix", sorted(REAL_PARENTHESES))
def test_real_parentheses_kept(prefix: str, docs: dict[str, Document]) -> None:
    assert REAL_PARENTHESES[prefix] in docs[prefix].text


def test_ascii_comma_punctuation_left_alone(docs: dict[str, Document]) -> None:
    """The seeds use ASCII "," as Chinese punctuation; cleaning must not "fix" it."""
    for prefix, seed in (("000", SEEDS[0]), ("002", SEEDS[2])):
        raw = seed.read_text(encoding="utf-8")
        assert docs[prefix].text.count(",") == raw.count(",") > 0
        assert "\uff0c" not in docs[prefix].text


def test_pinyin_removals_counted_and_recorded(docs: dict[str, Document]) -> None:
    raw = SEEDS[2].read_text(encoding="utf-8")
    expected = len(PINYIN_ARTEFACT.findall(raw))
    report = docs["002"].cleaning
    assert expected > 150 and report.counts[PINYIN_RULE] == expected
    recorded = " ".join(i.text for i in report.removed if i.rule == PINYIN_RULE)
    assert len(PINYIN_ARTEFACT.findall(recorded)) == expected


@pytest.mark.parametrize("seed", SEEDS, ids=lambda p: p.name[:3])
def test_every_raw_line_is_kept_or_reported(seed: Path, docs: dict[str, Document]) -> None:
    """Nothing is lost silently: each raw line is in the text or in the report, by line number."""
    doc = docs[seed.name[:3]]
    kept = set(doc.text.split("\n"))
    removed = {i.line: i for i in doc.cleaning.removed if i.rule != PINYIN_RULE}
    for number, line in enumerate(seed.read_text(encoding="utf-8").split("\n"), start=1):
        line = strip_pinyin(line.strip())[0]
        if not line:
            continue
        if number in removed:
            assert removed[number].text == line
        else:
            assert line in kept
    assert sum(doc.cleaning.counts.values()) >= len(removed)


def test_page_title_is_metadata_not_text(docs: dict[str, Document]) -> None:
    doc = docs["004"]
    assert doc.meta.title_zh == "2020年深圳市人民政府工作报告"  # manifest
    assert doc.cleaning.counts["page-title"] == 1
    assert doc.meta.notes and "2 of 2" in doc.meta.notes


def test_whitespace_normalised(docs: dict[str, Document]) -> None:
    for doc in docs.values():
        assert "\n\n" not in doc.text and doc.text == doc.text.strip()
        assert all(line == line.strip() for line in doc.text.split("\n"))


def test_rules_do_not_eat_content_lines() -> None:
    text = (
        "编辑出版工作要坚持正确导向,加强内容建设,推动新闻出版业高质量发展,不断提高传播力。\n"
        "記者從市發改委獲悉,全市重點項目進展順利。\n"
        "會議強調,要開通熱線電話。\n正文最後一段,內容很長很長很長。\n"
    )
    result = clean_text(text)
    assert result.text == text.strip()
    assert result.removed == []


def test_tail_marker_only_near_the_end() -> None:
    body = "\n".join(f"第{i}段內容。" for i in range(10))
    result = clean_text(f"正文。\n熱線\n{body}\n熱線\n關注\n置頂")
    assert result.text.count("熱線") == 1 and result.counts == {"app-footer-buttons": 3}


def test_new_outlet_is_a_rules_file_addition(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(
        '[[rules]]\nname = "demo-footer"\nkind = "tail"\npattern = "^相关阅读$"\n'
        '[[rules]]\nname = "demo-byline"\nkind = "line"\npattern = "^来源:示例网"\n'
        'when = "示例网"\nmax_len = 30\n',
        encoding="utf-8",
    )
    result = clean_text("来源:示例网 2024-01-01\n正文一段。\n相关阅读\n别的新闻", load_rules(rules))
    assert result.text == "正文一段。"
    assert result.counts == {"demo-footer": 2, "demo-byline": 1}
    assert clean_text("来源:示例网\n正文。", load_rules(rules)).counts == {"demo-byline": 1}


def test_broken_rules_file_is_a_config_error(tmp_path: Path) -> None:
    from service.errors import ConfigError

    rules = tmp_path / "bad.toml"
    rules.write_text('[[rules]]\nname = "x"\nkind = "line"\npattern = "(["\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.toml"):
        load_rules(rules)
