"""The glossary file, its validation rules, and matching on Simplified and Traditional text."""

from __future__ import annotations

import itertools
import re
import time
from pathlib import Path

import pytest

import service.checks.glossary as glossary_module
from service.checks.glossary import KINDS, Glossary
from service.config import ROOT, Settings
from service.errors import ConfigError
from tests.samples import SEEDS

GLOSSARY = ROOT / "prompts" / "glossary.tsv"
HEADER = "# version: 3\nzh\ten\tkind\tsource\tnotes\talternates\n"


def _tiny(tmp_path: Path, rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "glossary.tsv"
    path.write_text(header + rows, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def real() -> Glossary:
    return Glossary.load(GLOSSARY)


def test_real_glossary_loads_with_sources_and_kinds(real: Glossary) -> None:
    assert len(real) >= 400
    assert re.fullmatch(r"1-[0-9a-f]{8}", real.version)
    assert {e.kind for e in real.entries} <= KINDS
    assert all(e.source and e.en for e in real.entries)
    from_reference = [e for e in real.entries if e.source.startswith("gwr-bilingual")]
    assert len(from_reference) >= 150


def test_from_settings_reads_the_prompts_dir(settings: Settings) -> None:
    assert Glossary.from_settings(settings).version == Glossary.load(GLOSSARY).version


def test_real_glossary_has_the_core_terms(real: Glossary) -> None:
    by_zh = {e.zh: e for e in real.entries}
    assert by_zh["粤港澳大湾区"].en == "Guangdong-Hong Kong-Macao Greater Bay Area"
    assert by_zh["新发展理念"].en == "new development philosophy"
    assert "six stabilities" in by_zh["六稳"].alternates
    for term in ("先行示范区", "河套深港科技创新合作区", "光明科学城", "市委常委会", "两个维护"):
        assert term in by_zh


def test_tiny_file_parses_alternates(tmp_path: Path) -> None:
    g = Glossary.load(
        _tiny(tmp_path, "六稳\tstability on six fronts\tslogan\tgwr\t\tsix stabilities\n")
    )
    (entry,) = g.entries
    assert entry.alternates == ["six stabilities"]
    assert entry.renderings == ["stability on six fronts", "six stabilities"]
    assert g.version.startswith("3-")


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("大湾区\tGreater Bay Area\tzone\tx\t\n大灣區\tGBA\tzone\tx\t\n", r":4: duplicate zh"),
        ("大湾区\t\tzone\tx\t\n", r":3: empty en"),
        ("大湾区\t大湾区 Bay Area\tzone\tx\t\n", r":3: Chinese characters in English"),
        ("大湾区\tGreater Bay Area\tzone\tx\t\tGBA|湾区\n", r":3: Chinese characters in English"),
        ("大湾区\tGreater Bay Area\tzone\t\t\n", r":3: no source"),
        ("大湾区\tGreater Bay Area\tregion\tx\t\n", r":3: kind 'region'"),
        ("\tGreater Bay Area\tzone\tx\t\n", r":3: zh is empty"),
        ("大湾区\tA\tzone\tx\t\t\textra\n", r":3: 7 columns"),
    ],
)
def test_validation_errors_name_file_and_line(tmp_path: Path, rows: str, message: str) -> None:
    path = _tiny(tmp_path, rows)
    with pytest.raises(ConfigError, match=re.escape(str(path)) + message):
        Glossary.load(path)


def test_missing_version_or_header_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="version"):
        Glossary.load(
            _tiny(tmp_path, "大湾区\tGBA\tzone\tx\t\n", header="zh\ten\tkind\tsource\tnotes\n")
        )
    with pytest.raises(ConfigError, match="header"):
        Glossary.load(_tiny(tmp_path, "大湾区\tGBA\tzone\tx\t\n", header="# version: 1\n"))


def test_version_changes_when_a_line_changes(tmp_path: Path) -> None:
    path = tmp_path / "g.tsv"
    path.write_bytes(GLOSSARY.read_bytes())
    before = Glossary.load(path).version
    path.write_text(path.read_text(encoding="utf-8").replace("\tGreater Bay Area\t", "\tGBA\t", 1))
    after = Glossary.load(path).version
    assert before != after and before.split("-")[0] == after.split("-")[0] == "1"


def test_traditional_text_matches_simplified_entries(real: Glossary) -> None:
    text = SEEDS[0].read_text(encoding="utf-8")  # seed 000 is in Traditional script
    found = {e.zh: e for e in real.entries_in(text)}
    entry = found["粤港澳大湾区"]
    assert entry.positions and all(text[s:e] == "粵港澳大灣區" for s, e in entry.positions)
    # Every occurrence is reported, except the one inside the longer title entry.
    assert "粤港澳大湾区发展规划纲要" in found
    inside_title = text.count("粵港澳大灣區發展規劃綱要")
    assert text.count("粵港澳大灣區") - inside_title == len(entry.positions)
    for term in ("中国特色社会主义先行示范区", "市委深改委", "四个意识", "两个维护", "十四五"):
        assert term in found, term


def test_longest_match_wins_without_overlap(real: Glossary) -> None:
    text = "推进粤港澳大湾区建设，建设大湾区综合性国家科学中心，大湾区发展。"
    entries = real.entries_in(text)
    assert [e.zh for e in entries] == ["粤港澳大湾区", "大湾区综合性国家科学中心", "大湾区"]
    spans = sorted(span for e in entries for span in e.positions)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
    for entry in entries:
        for start, end in entry.positions:
            assert text[start:end] == entry.zh


def test_order_of_first_occurrence_and_all_positions(real: Glossary) -> None:
    text = "十四五时期，坚持新发展理念。十四五规划之外，还要贯彻新发展理念。"
    entries = real.entries_in(text)
    assert [e.zh for e in entries] == ["十四五", "新发展理念", "十四五规划"]
    first = text.index("新发展理念")
    second = text.index("新发展理念", first + 1)
    assert entries[1].positions == [(first, first + 5), (second, second + 5)]
    assert real.entries_in("没有术语的句子。") == []


def test_blockers_prevent_spurious_substrings(real: Glossary) -> None:
    assert "市长" not in {e.zh for e in real.entries_in("着眼城市长远发展")}
    assert "市长" in {e.zh for e in real.entries_in("市长陈如桂出席")}


def test_offsets_survive_a_length_changing_conversion(monkeypatch: pytest.MonkeyPatch) -> None:
    class Widening:
        def convert(self, text: str) -> str:
            return text.replace("Ⅹ", "十十")

    monkeypatch.setattr(glossary_module, "_t2s", lambda: Widening())
    simplified, origin = glossary_module.to_simplified_aligned("aⅩb")
    assert simplified == "a十十b" and origin == [0, 1, 1, 2]


def test_render_lines_for_prompts(real: Glossary) -> None:
    entries = real.entries_in("粤港澳大湾区的双循环")
    assert Glossary.render_lines(entries) == (
        "粤港澳大湾区 → Guangdong-Hong Kong-Macao Greater Bay Area\n双循环 → dual circulation"
    )


def test_matching_the_whole_corpus_is_fast(real: Glossary) -> None:
    texts = [p.read_text(encoding="utf-8") for p in SEEDS]
    real.entries_in(texts[0])  # warm OpenCC
    start = time.perf_counter()
    found = [real.entries_in(t) for t in texts]
    elapsed = time.perf_counter() - start
    assert all(found)
    assert elapsed < 0.5  # measured ≈ 15 ms on an idle core; generous for a loaded CI box


def test_cli_lists_terms_of_a_file(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from service.cli import app

    text = tmp_path / "doc.txt"
    text.write_text("推進粵港澳大灣區建設", encoding="utf-8")
    result = CliRunner().invoke(app, ["glossary", str(text)])
    assert result.exit_code == 0, result.output
    assert "entries" in result.output
    assert "粤港澳大湾区 → Guangdong-Hong Kong-Macao Greater Bay Area" in result.output
    missing = CliRunner().invoke(app, ["glossary", str(tmp_path / "nope.txt")])
    assert missing.exit_code == 1 and "cannot read" in missing.output


def test_full_width_punctuation_matches_ascii_entries(real: Glossary) -> None:
    text = "打造哈尔滨工业大学（深圳）等高水平大学"
    (entry,) = [e for e in real.entries_in(text) if e.zh == "哈尔滨工业大学(深圳)"]
    ((start, end),) = entry.positions
    assert text[start:end] == "哈尔滨工业大学（深圳）"
