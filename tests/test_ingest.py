"""Ingest: decoding paths, input errors, HTML, script, metadata, manifest, ids and the CLI."""

from __future__ import annotations

import codecs
import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli import app
from service.config import Settings
from service.errors import EmptyInput, InputTooLarge, UndecodableInput
from service.ingest import ingest_bytes, ingest_path
from service.ingest.decode import decode_bytes
from service.ingest.html import looks_like_html
from service.ingest.script import detect_script, to_simplified
from tests.samples import CORPUS, SEEDS

TRADITIONAL = "會議強調,粵港澳大灣區建設是國家重大發展戰略,要聚焦規則銜接和機制對接。"
SIMPLIFIED = "坚定不移实施创新驱动发展战略,努力为“创新坪山、未来之城”提供强劲动力。"


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (SIMPLIFIED.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + SIMPLIFIED.encode("utf-8"), "utf-8-sig"),
        (codecs.BOM_UTF16_LE + SIMPLIFIED.encode("utf-16-le"), "utf-16"),
        (codecs.BOM_UTF16_BE + SIMPLIFIED.encode("utf-16-be"), "utf-16"),
        (SIMPLIFIED.encode("gb18030"), "gb18030"),
    ],
)
def test_decode_simplified_paths(data: bytes, encoding: str) -> None:
    assert decode_bytes(data, "x.txt") == (SIMPLIFIED, encoding)


@pytest.mark.parametrize("encoding", ["big5", "gb18030", "utf-8"])
def test_decode_traditional_in_each_encoding(encoding: str) -> None:
    assert decode_bytes(TRADITIONAL.encode(encoding), "x.txt") == (TRADITIONAL, encoding)


@pytest.mark.parametrize("seed", [s for s in SEEDS if s.name.startswith("000")], ids=str)
def test_decode_whole_traditional_seed_as_big5_and_gb18030(seed: Path) -> None:
    text = seed.read_text(encoding="utf-8")
    assert decode_bytes(text.encode("big5"), seed.name) == (text, "big5")
    assert decode_bytes(text.encode("gb18030"), seed.name) == (text, "gb18030")


def test_decode_crlf_becomes_lf() -> None:
    text, _ = decode_bytes("第一段。\r\n第二段。\r第三段。".encode("gb18030"), "x.txt")
    assert text == "第一段。\n第二段。\n第三段。"


@pytest.mark.parametrize(
    "data",
    [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"abc\x00def", b"%PDF-1.7\n", b"\xff\xff\x80\x80abc"],
    ids=["png", "nul", "pdf", "garbage"],
)
def test_binary_or_undecodable_input_names_the_file(data: bytes) -> None:
    with pytest.raises(UndecodableInput, match=r"bad.bin"):
        decode_bytes(data, "bad.bin")


@pytest.mark.parametrize("data", [b"", b"   \n\t\r\n  ", codecs.BOM_UTF8 + b"\n \n"])
def test_empty_input(data: bytes, settings: Settings) -> None:
    with pytest.raises(EmptyInput, match=r"empty.txt"):
        ingest_bytes(data, "empty.txt", settings=settings)


def test_only_boilerplate_is_empty(settings: Settings) -> None:
    with pytest.raises(EmptyInput, match="nothing left"):
        ingest_bytes("微信扫码分享\n领取福利\n".encode(), "share.txt", settings=settings)


def test_oversize_bytes_and_path(tmp_path: Path) -> None:
    small = Settings(max_input_bytes=10)
    with pytest.raises(InputTooLarge, match=r"big.txt"):
        ingest_bytes(SIMPLIFIED.encode(), "big.txt", settings=small)
    path = tmp_path / "big.txt"
    path.write_bytes(SIMPLIFIED.encode())
    with pytest.raises(InputTooLarge, match="over the limit"):
        ingest_path(path, settings=small)


HTML = """<!DOCTYPE html><html><head><title>页面</title><style>p{color:red}</style>
<script>var x = "脚本内容";</script></head><body>
<header>网站导航头部</header><nav><a href="/">首页</a></nav>
<article><h1>孟凡利主持会议</h1><p>9月19日,市委书记<b>孟凡利</b>在合作区调研。</p>
<div>要强化区域联动,推动设施互联。</div></article>
<footer>Copyright 深圳特区报社</footer></body></html>"""


def test_html_input_keeps_article_text_only(settings: Settings) -> None:
    doc = ingest_bytes(HTML.encode("utf-8"), "page.html", settings=settings)
    assert doc.cleaning.input_format == "html"
    assert doc.text == (
        "孟凡利主持会议\n9月19日,市委书记孟凡利在合作区调研。\n要强化区域联动,推动设施互联。"
    )
    for furniture in ("脚本内容", "color", "网站导航", "首页", "Copyright"):
        assert furniture not in doc.text
    assert doc.paragraphs[0].text == "孟凡利主持会议" and doc.paragraphs[0].is_heading


def test_html_detected_by_content_not_name() -> None:
    assert looks_like_html("<p>段落</p>")
    assert not looks_like_html("会议强调,要<坚持>系统观念。")


@pytest.mark.parametrize("seed", SEEDS, ids=lambda p: p.name[:3])
def test_seed_ingests_with_exact_offsets_and_stable_id(seed: Path, settings: Settings) -> None:
    raw = seed.read_bytes()
    doc = ingest_path(seed, settings=settings)
    assert seed.read_bytes() == raw  # raw corpus untouched
    assert all(doc.text[p.start : p.end] == p.text for p in doc.paragraphs)
    assert [p.id for p in doc.paragraphs] == [f"p{i}" for i in range(1, len(doc.paragraphs) + 1)]
    again = ingest_bytes(raw, "renamed.txt", settings=settings)
    assert again.id == doc.id and len(doc.id) == 16
    assert doc.cleaning.chars_clean == len(doc.text) < doc.cleaning.chars_raw


def test_same_content_with_different_bytes_gets_same_id(settings: Settings) -> None:
    text = SEEDS[0].read_text(encoding="utf-8")
    a = ingest_bytes(text.encode("utf-8"), "a.txt", settings=settings)
    crlf = codecs.BOM_UTF8 + text.replace("\n", "\r\n").encode()
    b = ingest_bytes(crlf, "b.txt", settings=settings)
    c = ingest_bytes(text.encode("big5"), "c.txt", settings=settings)
    assert a.id == b.id == c.id
    assert a.raw_sha256 != b.raw_sha256


@pytest.mark.parametrize(
    ("prefix", "script"),
    [("000", "traditional"), ("001", "simplified"), ("002", "traditional"), ("003", "simplified"),
     ("004", "simplified")],
)  # fmt: skip
def test_script_detection_on_seeds(prefix: str, script: str, settings: Settings) -> None:
    seed = next(s for s in SEEDS if s.name.startswith(prefix))
    doc = ingest_path(seed, settings=settings)
    assert doc.script == script
    simplified = to_simplified(doc.text)
    # Length-preserving, so offsets found in the Simplified view are valid in the original.
    assert len(simplified) == len(doc.text)
    assert detect_script(simplified) in ("simplified", "unknown")


def test_script_short_strings() -> None:
    assert detect_script(TRADITIONAL) == "traditional"
    assert detect_script(SIMPLIFIED) == "simplified"
    assert detect_script("2021 ABC") == "unknown"
    assert to_simplified("會議強調") == "会议强调"


Meta = tuple[dict[str, object], dict[str, str]]


def _meta_from_text(seed_prefix: str, settings: Settings) -> Meta:
    seed = next(s for s in SEEDS if s.name.startswith(seed_prefix))
    doc = ingest_bytes(seed.read_bytes(), seed.name, settings=settings, manifest={})
    return doc.meta.model_dump(), doc.meta.provenance


def test_metadata_from_text_without_manifest(settings: Settings) -> None:
    meta, prov = _meta_from_text("000", settings)
    assert meta["date"] == dt.date(2021, 2, 20) and prov["date"] == "text:year-inferred"
    meta, prov = _meta_from_text("001", settings)
    assert meta["date"] == dt.date(2021, 10, 27) and prov["date"] == "text:byline"
    assert "南方都市报" in str(meta["outlet"])
    meta, prov = _meta_from_text("002", settings)
    assert meta["title_zh"] == "市委常委會召開會議" and prov["title_zh"] == "text:original-title"
    assert meta["date"] == dt.date(2023, 11, 16) and "深圳新闻网" in str(meta["outlet"])
    meta, prov = _meta_from_text("003", settings)
    assert meta["date"] is None  # no year in the article text: the hot list's 2024 must not leak
    assert "读特" in str(meta["outlet"])
    meta, prov = _meta_from_text("004", settings)
    assert meta["title_zh"] == "2020年深圳市人民政府工作报告(全文)"
    assert prov["title_zh"] == "text:page-title" and meta["doc_type"] == "government work report"


def test_manifest_wins_and_records_provenance(settings: Settings) -> None:
    seed = next(s for s in SEEDS if s.name.startswith("003"))
    doc = ingest_path(seed, settings=settings)
    assert doc.meta.date == dt.date(2023, 9, 19)
    assert doc.meta.provenance["date"] == "manifest"
    assert doc.meta.title_en and doc.meta.notes and "2024" in doc.meta.notes


def test_manifest_covers_every_seed_and_agrees_on_script(settings: Settings) -> None:
    from service.ingest.manifest import load_manifest

    manifest = load_manifest(CORPUS / "manifest.toml")
    assert sorted(manifest) == [s.name for s in SEEDS]
    for seed in SEEDS:
        entry = manifest[seed.name]
        assert entry.title_zh and entry.title_en and entry.outlet and entry.doc_type
        assert entry.script == ingest_path(seed, settings=settings).script


runner = CliRunner()


def test_cli_ingest_json_on_seeds() -> None:
    result = runner.invoke(app, ["ingest", *map(str, SEEDS), "--json"])
    assert result.exit_code == 0, result.output
    docs = json.loads(result.stdout)
    assert [d["source_name"] for d in docs] == [s.name for s in SEEDS]
    first = docs[0]
    assert set(first) >= {"id", "meta", "script", "cleaning", "paragraphs", "summary", "text"}
    assert first["summary"]["chars_clean"] == len(first["text"])
    assert first["meta"]["date"] == "2021-02-20"
    para = first["paragraphs"][0]
    assert first["text"][para["start"] : para["end"]] == para["text"]


def test_cli_ingest_folder_table() -> None:
    result = runner.invoke(app, ["ingest", str(CORPUS)])
    assert result.exit_code == 0, result.output
    assert "000_" in result.stdout and "tradit" in result.stdout


def test_cli_bad_inputs_exit_1_without_traceback_and_still_ingest_others(tmp_path: Path) -> None:
    png = tmp_path / "photo.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    empty = tmp_path / "blank.txt"
    empty.write_bytes(b"  \n")
    result = runner.invoke(app, ["ingest", str(png), str(SEEDS[0]), str(empty), "--json"])
    assert result.exit_code == 1
    assert "photo.png" in result.stderr and "blank.txt" in result.stderr
    assert "Traceback" not in result.output
    assert [d["source_name"] for d in json.loads(result.stdout)] == [SEEDS[0].name]


def test_cli_missing_file_is_one_red_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["ingest", str(tmp_path / "nope.txt")])
    assert result.exit_code == 1
    assert "nope.txt" in result.stderr and "Traceback" not in result.output
