"""PDF, Word and web pages in: the seeds rendered to PDF and DOCX read back to the same
paragraphs as the .txt; a gov.cn-style page gives its article, title and date; bad files
get clear errors naming them, and the rest of a batch still goes through."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from pathlib import Path

import httpx
import pypdf
import pypdfium2
import pytest
from reportlab.pdfgen.canvas import Canvas
from typer.testing import CliRunner

from service.api.upload import DOCX
from service.cli import app
from service.config import Settings
from service.errors import EmptyInput, InputError, InputTooLarge
from service.ingest import ingest_bytes, ingest_path
from service.ingest.html import site_suffix_removed
from service.ingest.paths import ingest_many
from service.ingest.pdf import PAGE_NUMBER, Line, join_paragraphs
from service.models import Document
from tests.documents import (
    CHROMIUM,
    ISSUER,
    page_footer,
    render_docx,
    render_pdf,
    render_pdf_chromium,
)
from tests.samples import SEEDS
from tests.test_clean_seeds import BOILERPLATE, SENTINELS

PAGES = Path(__file__).parent / "data" / "pages"


@pytest.fixture(scope="module")
def seeds() -> dict[str, Document]:
    settings = Settings()
    return {seed.name[:3]: ingest_path(seed, settings=settings) for seed in SEEDS}


@pytest.fixture(scope="module")
def rendered(seeds: dict[str, Document]) -> dict[str, tuple[bytes, bytes]]:
    """Each seed's cleaned paragraphs as (PDF, DOCX), titled like a government attachment."""
    out = {}
    for key, doc in seeds.items():
        paragraphs = doc.text.split("\n")
        title = paragraphs[0][:30]
        out[key] = (render_pdf(paragraphs, title), render_docx(paragraphs, title))
    return out


@pytest.mark.parametrize("key", sorted(SENTINELS))
@pytest.mark.parametrize("kind", ["pdf", "docx"])
def test_seed_as_pdf_and_docx_reads_back_to_the_txt_paragraphs(
    key: str, kind: str, seeds: dict[str, Document], rendered: dict[str, tuple[bytes, bytes]]
) -> None:
    data = rendered[key][0 if kind == "pdf" else 1]
    doc = ingest_bytes(data, f"{key}.{kind}", settings=Settings())
    assert doc.cleaning.input_format == kind
    assert [p.text for p in doc.paragraphs] == [p.text for p in seeds[key].paragraphs]
    assert doc.id == seeds[key].id  # same cleaned text, same document
    for sentinel in SENTINELS[key]:
        assert sentinel in doc.text
    for marker in [*BOILERPLATE[key], ISSUER, "— 1 —", "— 2 —"]:
        assert marker not in doc.text


@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium and fonts-noto-cjk (Debian)")
@pytest.mark.parametrize("key", ["000", "004"])  # traditional and simplified
def test_seed_printed_by_chromium_reads_back_to_the_txt_paragraphs(
    key: str, seeds: dict[str, Document]
) -> None:
    # Another producer: CID fonts whose ToUnicode maps points to Kangxi radicals (pypdf and
    # pdfminer.six read 大 as ⼤ there), and a header (date, title) and footer (URL, n/N).
    paragraphs = seeds[key].text.split("\n")
    pdf = render_pdf_chromium(paragraphs, paragraphs[0][:20])
    pages = len(pypdfium2.PdfDocument(pdf))
    assert pages >= 2
    doc = ingest_bytes(pdf, f"{key}.pdf", settings=Settings())
    assert [p.text for p in doc.paragraphs] == [p.text for p in seeds[key].paragraphs]
    assert doc.cleaning.counts["pdf-running-header"] == 2 * pages  # a header and a footer each


def test_rendered_pdfs_really_have_several_pages_with_headers_and_numbers(
    rendered: dict[str, tuple[bytes, bytes]],
) -> None:
    for key, (pdf, _docx) in rendered.items():
        document = pypdfium2.PdfDocument(pdf)
        assert len(document) >= 2, key
        second = document[1].get_textpage().get_text_range()
        assert ISSUER in second and page_footer(2) in second


def test_pdf_furniture_is_in_the_cleaning_record(rendered: dict[str, tuple[bytes, bytes]]) -> None:
    doc = ingest_bytes(rendered["004"][0], "004.pdf", settings=Settings())
    pages = len(pypdfium2.PdfDocument(rendered["004"][0]))
    assert doc.cleaning.counts["pdf-page-number"] == pages
    assert doc.cleaning.counts["pdf-running-header"] == pages
    assert {r.text for r in doc.cleaning.removed if r.rule == "pdf-page-number"} == {
        page_footer(n) for n in range(1, pages + 1)
    }


GOVCN_ARTICLE = [
    "各区人民政府，市政府直属各单位：",
    "《深圳市促进新能源汽车产业高质量发展若干措施》已经市政府同意，现印发给你们，请认真组织实施。",
    "一、加快关键核心技术攻关。",
    "本措施自2024年11月1日起施行，有效期3年。",
]
GOVCN_FURNITURE = [
    "欢迎访问", "手机版", "搜索", "请输入关键词", "首页", "政务公开", "当前位置", "发布时间",
    "来源：", "字号", "打印", "分享到", "微信", "相关文件", "加快新能源汽车推广应用的若干意见",
    "关闭窗口", "网站地图", "主办单位", "ICP备", "公网安备", "网站标识码",
]  # fmt: skip


def test_govcn_page_gives_the_article_its_title_and_its_date() -> None:
    page = (PAGES / "govcn_notice.html").read_bytes()
    doc = ingest_bytes(page, "govcn_notice.html", settings=Settings())
    assert doc.cleaning.input_format == "html"
    assert doc.meta.title_zh == (
        "深圳市人民政府办公厅关于印发深圳市促进新能源汽车产业高质量发展若干措施的通知"
    )
    assert doc.meta.date == dt.date(2024, 10, 12)
    assert doc.meta.provenance["date"] == "html:published-line"
    for sentence in GOVCN_ARTICLE:
        assert sentence in doc.text
    for marker in GOVCN_FURNITURE:
        assert marker not in doc.text, marker
    assert doc.paragraphs[0].text == GOVCN_ARTICLE[0]
    assert doc.paragraphs[-1].text == "2024年10月9日"


def test_without_a_published_line_or_meta_the_date_is_the_articles_not_a_related_links() -> None:
    page = (PAGES / "govcn_notice.html").read_text(encoding="utf-8")
    page = page.replace("<span>发布时间：2024-10-12 09:30</span>", "")
    doc = ingest_bytes(page.encode(), "undated.html", settings=Settings())
    # The first full date of the article (the text rule); htmldate would say 2019-10-12.
    assert (doc.meta.date, doc.meta.provenance["date"]) == (dt.date(2024, 11, 1), "text")


def test_news_page_title_from_its_cms_meta_date_from_pubdate_and_our_rules_after() -> None:
    page = (PAGES / "news_readout.html").read_bytes()
    doc = ingest_bytes(page, "news_readout.html", settings=Settings())
    assert doc.meta.title_zh == "市委常委会召开会议 认真学习贯彻习近平总书记重要讲话精神"
    assert doc.meta.date == dt.date(2023, 11, 16)  # not 2019-10-12 from a related link
    assert doc.meta.provenance["date"] == "html:meta"
    assert doc.text.startswith("深圳新闻网2023年11月16日讯（深圳特区报记者 林捷兴）")
    assert doc.text.endswith("会议还研究了其他事项。")
    assert doc.cleaning.counts == {"staff-credits": 1}  # 责任编辑, kept by trafilatura
    for marker in ("站内搜索", "您当前的位置", "字体", "打印", "分享到", "相关新闻", "热点排行",
                   "版权所有", "ICP备", "举报电话", "客户端下载"):  # fmt: skip
        assert marker not in doc.text, marker


def test_an_english_page_title_is_the_english_title() -> None:
    page = (
        "<html><head><title>Notice on charging stations | Shenzhen Government Online</title>"
        "</head><body><article><p>各区要加快建设充电桩，年底前新增公共充电桩4万个。</p>"
        "</article></body></html>"
    )
    doc = ingest_bytes(page.encode(), "en.html", settings=Settings())
    assert doc.meta.title_en is not None and doc.meta.title_en.startswith("Notice on charging")
    assert doc.meta.title_zh is None and doc.meta.provenance["title_en"] == "html:title"


@pytest.mark.parametrize(
    ("title", "expected"),
    [("关于印发若干措施的通知_政策文件_深圳市人民政府门户网站", "关于印发若干措施的通知"),
     ("市委常委会召开会议-深圳新闻网", "市委常委会召开会议"),
     ("深圳市第十四个五年规划（2021-2025年）", "深圳市第十四个五年规划（2021-2025年）"),
     ("十四五规划-解读", "十四五规划-解读")],
)  # fmt: skip
def test_site_name_is_cut_from_a_page_title_but_not_a_dash_of_the_title(
    title: str, expected: str
) -> None:
    assert site_suffix_removed(title) == expected


@pytest.mark.parametrize(
    ("line", "furniture"),
    [("— 3 —", True), ("- 12 -", True), ("第3页", True), ("第 3 页 / 共 12 页", True),
     ("3/12", True), ("Page 3 of 12", True), ("12", True),
     ("2024年", False), ("一、总体要求", False), ("（3）", False)],
)  # fmt: skip
def test_page_number_lines(line: str, furniture: bool) -> None:
    assert bool(PAGE_NUMBER.match(line)) is furniture


def _line(text: str, x0: float, x1: float, top: float) -> Line:
    return Line(text=text, x0=x0, x1=x1, top=top, bottom=top - 12, em=12)


def test_wrapped_lines_join_and_paragraphs_start_at_indent_gap_or_short_line() -> None:
    page = [
        _line("一、总体要求", 100, 172, 800),  # short: ends its paragraph
        _line("坚持稳中求进工作总基调，完整准确全面贯彻新发展", 124, 500, 778),  # indented
        _line("理念，加快构建新发展格局。", 100, 256, 756),
        # 40 short of the margin, but "40000" (5 characters) did not fit there: not a short line
        _line("到2025年底，全市建成超级充电站1000座，新增公共充电桩", 124, 460, 734),
        _line("40000个。", 100, 160, 712),
        _line("各区要落实。", 100, 172, 670),  # a vertical gap
    ]
    assert join_paragraphs([page]) == [
        "一、总体要求",
        "坚持稳中求进工作总基调，完整准确全面贯彻新发展理念，加快构建新发展格局。",
        "到2025年底，全市建成超级充电站1000座，新增公共充电桩40000个。",
        "各区要落实。",
    ]


# --- bad files -------------------------------------------------------------------------------


def _encrypted(pdf: bytes) -> bytes:
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(pdf)))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _scan() -> bytes:
    """A 'scanned' page: drawings only, no text layer."""
    out = io.BytesIO()
    canvas = Canvas(out)
    for y in range(100, 700, 20):
        canvas.rect(72, y, 400, 12, fill=1)
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def _zip_of_something_else() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("photos/IMG_0001.jpg", b"\xff\xd8\xff\xe0 not really a photo")
        archive.writestr("readme.txt", "holiday pictures")
    return out.getvalue()


def bad_files(pdf: bytes) -> dict[str, tuple[bytes, str]]:
    """name → (content, what the error must say)."""
    return {
        "truncated.pdf": (pdf[: len(pdf) // 2], "truncated"),
        "encrypted.pdf": (_encrypted(pdf), "encrypted"),
        "scan.pdf": (_scan(), "no text layer"),
        "photos.docx": (_zip_of_something_else(), "not a Word document"),
        "huge.pdf": (pdf + b"%" + b"0" * (50 * 1024 * 1024) + b"\n%%EOF\n", "over the limit"),
    }


@pytest.fixture(scope="module")
def sample_pdf(rendered: dict[str, tuple[bytes, bytes]]) -> bytes:
    return rendered["003"][0]


@pytest.mark.parametrize(
    ("name", "error"),
    [("truncated.pdf", InputError), ("encrypted.pdf", InputError), ("scan.pdf", EmptyInput),
     ("photos.docx", InputError), ("huge.pdf", InputTooLarge)],
)  # fmt: skip
def test_bad_files_get_a_clear_error_naming_them(
    name: str, error: type[Exception], sample_pdf: bytes
) -> None:
    data, says = bad_files(sample_pdf)[name]
    with pytest.raises(error, match=rf"{name}.*{says}|{says}.*{name}"):
        ingest_bytes(data, name, settings=Settings())


def test_a_folder_mixing_types_reads_every_good_file_and_names_the_bad_ones(
    tmp_path: Path, rendered: dict[str, tuple[bytes, bytes]], sample_pdf: bytes
) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "a.pdf").write_bytes(rendered["000"][0])
    (folder / "b.docx").write_bytes(rendered["001"][1])
    (folder / "c.html").write_bytes((PAGES / "govcn_notice.html").read_bytes())
    (folder / "d.txt").write_bytes(SEEDS[2].read_bytes())
    for name, (data, _says) in bad_files(sample_pdf).items():
        if name != "huge.pdf":  # 50 MB is tested above; here it would only slow the batch
            (folder / name).write_bytes(data)
    result = ingest_many([folder], settings=Settings())
    assert sorted(d.source_name for d in result.documents) == ["a.pdf", "b.docx", "c.html", "d.txt"]
    assert sorted(Path(p).name for p, _ in result.failures) == [
        "encrypted.pdf",
        "photos.docx",
        "scan.pdf",
        "truncated.pdf",
    ]

    cli = CliRunner().invoke(app, ["ingest", "--json", str(folder)])
    assert cli.exit_code == 1
    for name in ("encrypted.pdf", "photos.docx", "scan.pdf", "truncated.pdf"):
        assert name in cli.stderr
    listed = json.loads(cli.stdout)
    assert {d["cleaning"]["input_format"] for d in listed} == {"pdf", "docx", "html", "text"}


async def test_api_answers_bad_files_with_a_4xx_naming_them(
    client: httpx.AsyncClient, sample_pdf: bytes
) -> None:
    for name, (data, _says) in bad_files(sample_pdf).items():
        kind = DOCX if name.endswith(".docx") else "application/pdf"
        response = await client.post("/v1/documents", files={"file": (name, data, kind)})
        assert 400 <= response.status_code < 500, (name, response.text)
        expected = 413 if name == "huge.pdf" else 422
        assert response.status_code == expected, (name, response.text)
        if expected == 422:
            assert name in response.json()["message"]
