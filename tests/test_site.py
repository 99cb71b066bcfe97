"""write_site puts a browsable, link-consistent site on disk (and mkdocs can build it)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from service.config import ROOT
from service.errors import InputError
from service.render import SiteReport, SiteWriteError, mkdocs_config, write_mkdocs, write_site
from service.tasks.commitments.tracker import entity_id
from tests.samples import (
    ANCHOR,
    GENERATED_AT,
    GLOSSARY_TERMS,
    READER_VERSION,
    bundles,
    check_links,
)

EXPECTED = {
    "index.md",
    "commitments.md",
    "glossary.md",
    "docs/a1b2c3d4e5f6.md",
    "docs/f0e1d2c3b4a5.md",
    "data/index.json",
    "data/a1b2c3d4e5f6.json",
    "data/f0e1d2c3b4a5.json",
    "tracker.md",
    "data/tracker.json",
    # The entities the samples' commitments are about (service/render/tracker.py).
    f"entities/{entity_id('光明科学城')}.md",
    f"entities/{entity_id('成果转化基地')}.md",
}


def _write(out: Path) -> SiteReport:
    return write_site(
        bundles(),
        out,
        glossary_terms=GLOSSARY_TERMS,
        generated_at=GENERATED_AT,
        reader_version=READER_VERSION,
    )


def test_write_site_writes_and_reports_every_file(tmp_path: Path) -> None:
    report = _write(tmp_path / "site")
    rel = {p.relative_to(tmp_path / "site").as_posix() for p in report.files}
    assert rel == EXPECTED
    assert all(p.is_file() and p.stat().st_size > 0 for p in report.files)
    on_disk = {p.relative_to(tmp_path / "site").as_posix() for p in (tmp_path / "site").rglob("*")}
    assert {p for p in on_disk if "." in p} == EXPECTED


def test_every_relative_link_resolves_to_a_file_and_anchor(tmp_path: Path) -> None:
    out = tmp_path / "site"
    _write(out)
    checked = check_links(sorted(out.rglob("*.md")))
    assert checked > 20  # index, pages, commitments and quality tables all link


def test_anchors_are_unique_on_each_page(tmp_path: Path) -> None:
    _write(tmp_path)
    for page in tmp_path.rglob("*.md"):
        text = page.read_text("utf-8")
        ids = ANCHOR.findall(text)
        assert len(ids) == len(set(ids)), page


def test_same_input_gives_the_same_bytes(tmp_path: Path) -> None:
    _write(tmp_path / "one")
    _write(tmp_path / "two")
    for rel in EXPECTED:
        assert (tmp_path / "one" / rel).read_bytes() == (tmp_path / "two" / rel).read_bytes()


def test_written_json_is_valid_utf8_with_readable_chinese(tmp_path: Path) -> None:
    _write(tmp_path)
    raw = (tmp_path / "data" / "a1b2c3d4e5f6.json").read_bytes()
    assert "深圳".encode() in raw
    assert json.loads(raw)["page"] == "docs/a1b2c3d4e5f6.md"


def test_unwritable_output_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "site"
    blocker.write_text("a file, not a folder")
    with pytest.raises(SiteWriteError, match="cannot write"):
        _write(blocker)


def test_repo_mkdocs_yml_is_the_rendered_default() -> None:
    assert (ROOT / "mkdocs.yml").read_text("utf-8") == mkdocs_config()


def test_mkdocs_config_is_written_where_asked_with_docs_dir_relative_to_it(tmp_path: Path) -> None:
    site = tmp_path / "out" / "site"
    beside = write_mkdocs(tmp_path / "out" / "mkdocs.yml", site)
    assert beside.read_text("utf-8") == mkdocs_config()  # the repo's layout: site/ beside it
    elsewhere = write_mkdocs(tmp_path / "conf" / "mkdocs.yml", site).read_text("utf-8")
    assert 'docs_dir: "../out/site"' in elsewhere and 'site_dir: "build/site"' in elsewhere


@pytest.mark.parametrize("inside", ["mkdocs.yml", "sub/mkdocs.yml"])
def test_mkdocs_config_inside_the_site_is_refused(tmp_path: Path, inside: str) -> None:
    site = tmp_path / "site"
    with pytest.raises(InputError, match="outside it"):
        write_mkdocs(site / inside, site)
    assert not site.exists()


@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None, reason="mkdocs not installed")
def test_mkdocs_builds_from_a_written_config_in_another_folder(tmp_path: Path) -> None:
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    _write(tmp_path / "out" / "site")
    config = write_mkdocs(tmp_path / "conf" / "mkdocs.yml", tmp_path / "out" / "site")
    build(load_config(str(config)))
    assert (tmp_path / "conf" / "build" / "site" / "index.html").is_file()


@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None, reason="mkdocs not installed")
def test_mkdocs_builds_the_site_strictly(tmp_path: Path) -> None:
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    _write(tmp_path / "site")
    config = tmp_path / "mkdocs.yml"
    config.write_text(mkdocs_config("site", "html"), "utf-8")
    build(load_config(str(config)))  # strict + anchor validation: any broken link aborts
    page = (tmp_path / "html" / "docs" / "a1b2c3d4e5f6.html").read_text("utf-8")
    assert 'id="p4"' in page and "<table>" in page
    assert "&lt;script&gt;" in page and "<script>alert" not in page
