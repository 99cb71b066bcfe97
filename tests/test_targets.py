"""Targets over time: the rule finder, series tables, the page, the CLI; the real reports too."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli import app
from service.config import Settings
from service.eval.reference import load_reference_dir
from service.models import DocumentMeta
from service.render import write_mkdocs, write_site
from service.render.targets import targets_page
from service.targets.find import find_targets, load_indicators
from service.targets.inputs import from_reference, load_folder
from service.targets.series import (
    SeriesDocument,
    SeriesTable,
    SourceParagraph,
    english_evidence,
    from_document,
    series_key,
    series_tables,
    year_of,
)
from tests.samples import GENERATED_AT, READER_VERSION, REF, check_links, make_document, needs_ref

runner = CliRunner()


# --- one paragraph ---------------------------------------------------------------------------


def test_stated_targets_are_found_with_value_qualifier_and_range() -> None:
    text = "今年发展的主要预期目标是：国内生产总值增长6.5%－7%，城镇新增就业1000万人以上。"
    found = find_targets(text)
    gdp, jobs = found["gdp-growth"], found["urban-jobs"]
    assert (gdp.value, gdp.low, gdp.high) == ("6.5%－7%", 6.5, 7.0)
    assert (jobs.value, jobs.low, jobs.qualifier) == ("1000万人以上", 1e7, "以上")
    assert text[gdp.start : gdp.end] == "国内生产总值增长6.5%－7%"


def test_results_of_the_past_year_are_not_targets() -> None:
    review = "去年国内生产总值增长6.9%，城镇新增就业1351万人。经济运行保持在合理区间，物价涨幅2%。"
    assert find_targets(review) == {}


def test_a_figure_reported_against_an_old_target_is_not_one() -> None:
    assert find_targets("广义货币M2增长11.3%，低于13%左右的预期目标。") == {}


def test_a_past_clause_beside_a_target_does_not_spoil_it() -> None:
    found = find_targets("今年赤字率拟按2.8%左右安排、比去年有所下调。")
    assert found["deficit-ratio"].value == "2.8%左右"


def test_traditional_script_and_local_indicators() -> None:
    found = find_targets("今年主要預期目標是：地區生產總值增長6%左右，社會消費品零售總額增長7%。")
    assert found["gdp-growth"].value == "6%左右"
    assert found["retail-sales"].value == "7%"


def test_a_percent_is_never_an_amount_indicator() -> None:
    assert "urban-jobs" not in find_targets("今年城镇新增就业增长5%以上。")


def test_indicator_table_is_data_with_unique_keys() -> None:
    keys = [i.key for i in load_indicators()]
    assert len(keys) == len(set(keys)) >= 12


# --- series --------------------------------------------------------------------------------


def test_series_key_and_year_come_from_the_title() -> None:
    assert series_key("2020年深圳市政府工作报告") == series_key("2021年深圳市政府工作报告")
    assert series_key("2020-02-06-2016-report-on-the-work-of-the-government") == (
        "report on the work of the government"
    )
    assert year_of("2022-03-02-2021-report-on-the-work-of-the-government") == 2021
    assert year_of("深圳市政府工作报告", 2019) == 2019


def _doc(year: int, text: str, en: str | None = None, city: str = "某市") -> SeriesDocument:
    return SeriesDocument(
        id=f"d{year}",
        title=f"{year}年{city}政府工作报告",
        year=year,
        paragraphs=[SourceParagraph(id="p1", zh=text, en=en)],
        link=f"docs/d{year}.md",
    )


def test_a_series_lines_up_targets_by_year_and_skips_loners() -> None:
    docs = [
        _doc(2021, "今年预期目标是：地区生产总值增长6%以上。"),
        _doc(2019, "今年预期目标是：地区生产总值增长7%左右。"),
        _doc(2020, "今年要稳就业保民生。"),
        _doc(2020, "今年预期目标是：地区生产总值增长9%。", city="别市"),  # a series of one
    ]
    [table] = series_tables(docs)
    assert [d.year for d in table.documents] == [2019, 2020, 2021]
    [row] = table.rows
    assert [(c.year, c.target.value, c.link) for c in row.cells] == [
        (2019, "7%左右", "docs/d2019.md#p1"),
        (2021, "6%以上", "docs/d2021.md#p1"),
    ]


def test_english_evidence_is_the_list_item_with_the_same_number() -> None:
    target = find_targets("今年预期目标是：城镇新增就业1100万人以上，城镇调查失业率5.5%以内。")[
        "urban-jobs"
    ]
    en = "Targets: • GDP growth of around 6.5 percent • Over 11 million new urban jobs • Other"
    assert english_evidence(en, target, ["new urban jobs"]) == "Over 11 million new urban jobs"


# --- page and site ---------------------------------------------------------------------------


def _table() -> SeriesTable:
    [table] = series_tables(
        [
            _doc(2019, "今年预期目标是：地区生产总值增长7%左右。", en="GDP growth of about 7%."),
            _doc(2020, "今年要稳就业保民生。"),
        ]
    )
    return table


def test_page_shows_years_side_by_side_and_links_each_quote() -> None:
    page = targets_page([_table()])
    assert "| Indicator | 2019 | 2020 |" in page
    assert "| [GDP growth](#target-gdp-growth) | [7%左右](docs/d2019.md#p1) | – |" in page
    assert "“…地区生产总值增长7%左右”" in page and "GDP growth of about 7%" in page


def test_site_gets_a_targets_page_only_for_a_series(tmp_path: Path) -> None:
    from service.render.bundle import DocumentBundle

    texts = {2019: "今年预期目标是：地区生产总值增长7%左右。", 2020: "今年地区生产总值增长6%以上。"}
    docs = [
        make_document(
            [f"{y}年某市政府工作报告", t], meta=DocumentMeta(title_zh=f"{y}年某市政府工作报告")
        )
        for y, t in texts.items()
    ]
    assert [d.year for d in [from_document(d) for d in docs]] == [2019, 2020]
    out = tmp_path / "site"
    write_site([DocumentBundle(document=d) for d in docs], out, **_stamp())
    assert "[Targets over time](targets.md)" in (out / "index.md").read_text("utf-8")
    assert "6%以上" in (out / "targets.md").read_text("utf-8")
    assert check_links(sorted(out.rglob("*.md"))) > 4
    alone = tmp_path / "alone"
    write_site([DocumentBundle(document=docs[0])], alone, **_stamp())
    assert not (alone / "targets.md").exists()
    assert "targets.md" not in (alone / "index.md").read_text("utf-8")


@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None, reason="mkdocs not installed")
def test_targets_page_builds_strictly_with_mkdocs(tmp_path: Path) -> None:
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    from service.render.bundle import DocumentBundle

    docs = [
        make_document(
            [f"{y}年某市政府工作报告", f"今年预期目标是：地区生产总值增长{v}。"],
            meta=DocumentMeta(title_zh=f"{y}年某市政府工作报告"),
        )
        for y, v in ((2019, "7%左右"), (2020, "6%以上"))
    ]
    write_site([DocumentBundle(document=d) for d in docs], tmp_path / "site", **_stamp())
    build(load_config(str(write_mkdocs(tmp_path / "mkdocs.yml", tmp_path / "site"))))
    page = (tmp_path / "build" / "site" / "targets.html").read_text("utf-8")
    assert 'id="target-gdp-growth"' in page and "<table>" in page and "6%以上" in page


def _stamp() -> dict[str, object]:
    return {"generated_at": GENERATED_AT, "reader_version": READER_VERSION}


def test_cli_reads_a_folder_of_plain_documents(tmp_path: Path) -> None:
    for year, value in ((2022, "5%左右"), (2023, "5.5%以上")):
        text = f"{year}年某市政府工作报告\n今年主要预期目标是：地区生产总值增长{value}。\n"
        (tmp_path / f"r{year}.txt").write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["targets", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "某市政府工作报告 — 2 documents: 2022 2023" in result.output
    assert "  2023  5.5%以上  (" in result.output


def test_cli_json_gives_the_table_without_the_texts(tmp_path: Path) -> None:
    for year, value in ((2022, "5%左右"), (2023, "5.5%以上")):
        text = f"{year}年某市政府工作报告\n今年主要预期目标是：地区生产总值增长{value}。\n"
        (tmp_path / f"r{year}.txt").write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["targets", str(tmp_path), "--json"])
    [table] = json.loads(result.output)
    assert [d["year"] for d in table["documents"]] == [2022, 2023]
    assert "paragraphs" not in table["documents"][0]
    [row] = table["rows"]
    assert [(c["year"], c["target"]["low"]) for c in row["cells"]] == [(2022, 5.0), (2023, 5.5)]


def test_cli_says_when_there_is_no_series(tmp_path: Path) -> None:
    (tmp_path / "r.txt").write_text(
        "2022年某市政府工作报告\n今年地区生产总值增长5%左右。\n", "utf-8"
    )
    result = runner.invoke(app, ["targets", str(tmp_path)])
    assert result.exit_code == 0 and "No series with targets" in result.output


def test_cli_refuses_a_missing_folder(tmp_path: Path) -> None:
    result = runner.invoke(app, ["targets", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert "give the folder holding the series" in " ".join(result.output.split())


# --- the national reports 2016-2022 (bilingual reference) --------------------------------------

# Checked by hand against the Chinese and the official English of each report.
GDP = {
    2016: "6.5%－7%",
    2017: "6.5%左右",
    2018: "6.5%左右",
    2019: "6%－6.5%",
    2021: "6%以上",
    2022: "5.5%左右",
}
JOBS = {2016: 1e7, 2017: 1.1e7, 2018: 1.1e7, 2019: 1.1e7, 2020: 9e6, 2021: 1.1e7, 2022: 1.1e7}
DEFICIT = {2016: 3.0, 2017: 3.0, 2018: 2.6, 2019: 2.8, 2020: 3.6, 2021: 3.2, 2022: 2.8}
SURVEYED = {2018: 5.5, 2019: 5.5, 2020: 6.0, 2021: 5.5, 2022: 5.5}


@pytest.fixture(scope="module")
def reports() -> SeriesTable:
    assert REF is not None
    tables = series_tables(from_reference(d) for d in load_reference_dir(REF))
    assert [t.series for t in tables] == ["report on the work of the government"]
    return tables[0]


def _cells(table: SeriesTable, key: str) -> dict[int | None, object]:
    [row] = [r for r in table.rows if r.key == key]
    return {c.year: c for c in row.cells}


@needs_ref
def test_gdp_targets_2016_to_2022_and_none_in_2020(reports: SeriesTable) -> None:
    cells = _cells(reports, "gdp-growth")
    assert {y: c.target.value for y, c in cells.items()} == GDP  # type: ignore[attr-defined]
    assert "GDP growth of around 6.5 percent" in cells[2018].en  # type: ignore[attr-defined]
    assert "GDP growth of around 5.5 percent" in cells[2022].en  # type: ignore[attr-defined]


@needs_ref
@pytest.mark.parametrize(
    ("key", "expected"),
    [("urban-jobs", JOBS), ("deficit-ratio", DEFICIT), ("surveyed-unemployment", SURVEYED)],
)
def test_other_indicators_by_year(
    reports: SeriesTable, key: str, expected: dict[int, float]
) -> None:
    cells = _cells(reports, key)
    assert {y: c.target.low for y, c in cells.items()} == expected  # type: ignore[attr-defined]


@needs_ref
def test_every_reference_target_quotes_its_paragraph_and_mostly_has_english(
    reports: SeriesTable,
) -> None:
    paragraphs = {(d.id, p.id): p.zh for d in reports.documents for p in d.paragraphs}
    cells = [c for row in reports.rows for c in row.cells]
    for c in cells:
        zh = paragraphs[(c.doc_id, c.paragraph_id)]
        assert zh[c.target.start : c.target.end].endswith(c.target.value)
    assert sum(c.en is not None for c in cells) >= 0.95 * len(cells)


@needs_ref
def test_cli_prints_year_target_quote_and_english(tmp_path: Path) -> None:
    result = runner.invoke(app, ["targets", str(REF), "--indicator", "gdp-growth"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("report on the work of the government — 7 documents: 2016")
    assert "  2020  –  (no target found)" in lines
    at = lines.index(next(line for line in lines if line.startswith("  2021  6%以上")))
    assert lines[at + 1].startswith("        zh: …国内生产总值增长6%以上")
    assert lines[at + 2].startswith("        en: GDP growth of over 6 percent")


def test_load_folder_reads_reference_files_with_english(tmp_path: Path, settings: Settings) -> None:
    post = (
        "---\nlayout: post\n---\n\n> preface\n\n---\n\n"
        "今年发展的主要预期目标是：国内生产总值增长6.5%左右。"
        "<br/>The target: GDP growth of around 6.5 percent.\n"
    )
    (tmp_path / "2020-02-06-2018-report.md").write_text(post, encoding="utf-8")
    [doc] = load_folder(tmp_path, settings)
    assert doc.year == 2018 and doc.paragraphs[0].en is not None
