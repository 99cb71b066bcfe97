"""Translation evaluation: chrF, numbers and glossary against a reference file (respx)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
import respx
from typer.testing import CliRunner

from service.cli import app
from service.config import Settings
from service.eval.reference import default_reference_dir
from service.eval.translation import (
    evaluate_translation,
    load_references,
    reference_document,
)
from service.reader import Reader
from tests.fakes import CHAT, Configure, open_reader, translation_reply
from tests.samples import GLOSSARY

PAIRS = [
    ("各位代表：", "Fellow Deputies,"),
    ("2018年，国内生产总值增长6.6%，城镇新增就业1361万人。",
     "In 2018, China's GDP grew by 6.6 percent and 13.61 million new urban jobs were added."),
    ("加快建设粤港澳大湾区，推动高质量发展。",
     "We accelerated the development of the Guangdong-Hong Kong-Macao Greater Bay Area and "
     "promoted high-quality development."),
    ("全年减税降费约1.3万亿元。", "Taxes and fees were cut by around 1.3 trillion yuan."),
]  # fmt: skip
FRONT = (
    '---\nlayout: post\ntitle: "测试报告（双语全文）"\ndate: 2020-02-06\n---\n'
    "\n> 学习一下。\n\n---\n"
)
_P = re.compile(r'<p id="([^"]+)">(.*?)</p>')


def write_reference(folder: Path, name: str = "2020-test-report") -> Path:
    path = folder / f"{name}.md"
    lines = [f"{zh}<br/>{en}" for zh, en in PAIRS]
    path.write_text(FRONT + "\n" + "\n \n".join(lines) + "\n", encoding="utf-8")
    return path


def translator(table: dict[str, str]) -> Callable[[httpx.Request], httpx.Response]:
    """Answer each <p> of the request with ``table[zh]``."""

    def respond(request: httpx.Request) -> httpx.Response:
        user = json.loads(request.content)["messages"][1]["content"]
        found = _P.findall(user[user.index("<document") :])
        return translation_reply({pid: table[zh] for pid, zh in found})

    return respond


OFFICIAL = dict(PAIRS)
WRONG = {
    **OFFICIAL,
    PAIRS[1][0]: "In 2019, the economy grew by 7 percent and many jobs were added.",
    PAIRS[2][0]: "We built the bay area and pushed good growth.",
}


@pytest.fixture
async def reader(remote_settings: Settings) -> AsyncIterator[Reader]:
    """A reader with the test glossary (two of its terms are in the reference), on the endpoint
    each test mocks."""
    async with open_reader(remote_settings, glossary=GLOSSARY) as opened:
        yield opened


def test_the_synthetic_reference_parses_in_the_real_format(tmp_path: Path) -> None:
    [ref] = load_references(write_reference(tmp_path))
    assert [(p.zh, p.en) for p in ref.pairs] == PAIRS
    doc = reference_document(ref, ref.pairs[1:3])
    assert [p.text for p in doc.paragraphs] == [PAIRS[1][0], PAIRS[2][0]]
    assert all(doc.text[p.start : p.end] == p.text for p in doc.paragraphs)


@respx.mock
async def test_a_model_returning_the_official_english_scores_100(
    reader: Reader, tmp_path: Path
) -> None:
    respx.post(CHAT).mock(side_effect=translator(OFFICIAL))
    refs = load_references(write_reference(tmp_path))
    result = await evaluate_translation(refs, reader, limit=10)
    overall = result.overall
    assert overall.chrf == 100.0 and result.documents[0].chrf == 100.0
    assert (overall.paragraphs, overall.translated) == (4, 4)
    assert overall.numbers_preserved == overall.reference_numbers_preserved
    assert overall.numbers_total >= 4 and overall.number_rate == 1.0
    assert (overall.glossary_terms, overall.glossary_adhered) == (2, 2)
    assert (result.model, result.profile, result.prompt_version) == (
        "gpt-4o-mini",
        "gpt-4o-mini",
        "v1",
    )
    assert [s.index for s in result.samples] == [0, 1, 2, 3]
    assert reader.library.list() == ([], 0)  # reference documents are not library documents


@respx.mock
async def test_a_wrong_translation_scores_lower_and_loses_numbers_and_terms(
    reader: Reader, tmp_path: Path
) -> None:
    respx.post(CHAT).mock(side_effect=translator(WRONG))
    refs = load_references(write_reference(tmp_path))
    result = await evaluate_translation(refs, reader, limit=10)
    overall = result.overall
    assert 20 < overall.chrf < 90
    assert overall.numbers_preserved < overall.numbers_total
    assert overall.reference_numbers_preserved == overall.numbers_total
    assert (overall.glossary_terms, overall.glossary_adhered) == (2, 0)


@respx.mock
async def test_limit_offset_and_a_free_re_run(
    reader: Reader, remote_settings: Settings, tmp_path: Path
) -> None:
    route = respx.post(CHAT).mock(side_effect=translator(OFFICIAL))
    (tmp_path / "refs").mkdir()
    write_reference(tmp_path / "refs", "a-report")
    write_reference(tmp_path / "refs", "b-speech")
    refs = load_references(tmp_path / "refs", ["report"])
    assert [r.name for r in refs] == ["a-report"]
    first = await evaluate_translation(refs, reader, limit=2, offset=1)
    assert [s.index for s in first.samples] == [1, 2]
    assert first.documents[0].calls == 1
    async with open_reader(remote_settings, glossary=GLOSSARY) as fresh:  # same database
        again = await evaluate_translation(refs, fresh, limit=2, offset=1)
    assert route.call_count == 1
    assert (again.documents[0].calls, again.documents[0].cache_hits) == (0, 1)
    assert again.overall.chrf == first.overall.chrf == 100.0


@respx.mock
async def test_an_untranslated_paragraph_counts_as_empty(reader: Reader, tmp_path: Path) -> None:
    refusal = {"refusal": "I can't help with that.", "content": None}
    body = json.loads(translation_reply({}).content)
    body["choices"][0]["message"].update(refusal)
    respx.post(CHAT).mock(return_value=httpx.Response(200, json=body))
    result = await evaluate_translation(load_references(write_reference(tmp_path)), reader)
    assert (result.overall.translated, result.overall.failed_chunks) == (0, 1)
    assert result.overall.chrf == 0.0 and result.overall.numbers_preserved == 0
    assert all(s.error and "refused" in s.error for s in result.samples)


def test_a_missing_reference_or_document_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("COLUMNS", "300")  # one line per error
    runner = CliRunner()
    missing = runner.invoke(app, ["eval", "translation", "--reference", str(tmp_path / "no")])
    assert missing.exit_code == 1 and "does not exist" in missing.output
    write_reference(tmp_path)
    args = ["eval", "translation", "--reference", str(tmp_path), "--docs", "nothing"]
    unknown = runner.invoke(app, args)
    assert unknown.exit_code == 1 and "no reference document matches nothing" in unknown.output


@respx.mock
def test_cli_prints_json_and_a_table(
    remote_settings: Settings, configure: Configure, tmp_path: Path
) -> None:
    configure(COLUMNS="160")  # rich wraps the table to the terminal width
    respx.post(CHAT).mock(side_effect=translator(OFFICIAL))
    path = write_reference(tmp_path)
    runner = CliRunner()
    args = ["eval", "translation", "--reference", str(path), "--limit", "3"]
    out = runner.invoke(app, [*args, "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["overall"]["paragraphs"] == 3 and data["overall"]["chrf"] == 100.0
    table = runner.invoke(app, args)
    assert table.exit_code == 0 and "2020-test-report" in table.output
    assert "overall" in table.output and "100.0" in table.output


@pytest.mark.skipif(default_reference_dir() is None, reason="../shared/reference not present")
def test_a_real_reference_file_parses() -> None:
    folder = default_reference_dir()
    assert folder is not None
    [ref] = load_references(folder, ["2019-report"])
    assert len(ref.pairs) > 100
    first = ref.pairs[0]
    assert first.zh and first.en and not re.search(r"[\u4e00-\u9fff]", first.en)
    doc = reference_document(ref, ref.pairs[:5])
    assert [p.text for p in doc.paragraphs] == [p.zh for p in ref.pairs[:5]]
