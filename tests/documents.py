"""Render text to the files analysts get: multi-page PDFs and Word documents.

The PDFs look like government attachments: a running header (issuer and title) and a page
number footer (``— 3 —``) on every page, body text set in Noto Sans CJK with the font
embedded, so extraction and boilerplate removal are tested on real PDF text layers.

Noto Sans CJK ships as CFF (PostScript) outlines, which reportlab cannot embed; the font
is subset to the characters needed and converted to TrueType outlines with fontTools first.
"""

from __future__ import annotations

import hashlib
import html
import io
import itertools
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

import noto_cjk_sans_otc
from docx import Document as DocxDocument
from fontTools import subset
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont, newTable
from reportlab.lib.enums import TA_JUSTIFY, TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont as ReportlabFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate

FONT_NAME = "NotoSansCJK"
SC_INDEX = 2  # NotoSansCJK-Regular.ttc: 0 JP, 1 KR, 2 SC, 3 TC, 4 HK
ISSUER = "深圳市人民政府公报"
_SERIAL = itertools.count(1)


def page_footer(number: int) -> str:
    return f"— {number} —"


@lru_cache(maxsize=1)
def _font_cache() -> Path:
    path = Path(__file__).resolve().parents[1] / "cache" / "test-fonts"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cjk_font(chars: str) -> Path:
    """A TrueType font with the glyphs of ``chars`` (cached by their set)."""
    wanted = "".join(sorted(set(chars) | set(ISSUER + "—") | {chr(c) for c in range(0x20, 0x7F)}))
    key = hashlib.sha256(wanted.encode("utf-8")).hexdigest()[:12]
    out = _font_cache() / f"noto-sc-{len(wanted)}-{key}.ttf"
    if not out.is_file():
        font = TTFont(str(noto_cjk_sans_otc.FONT_PATH), fontNumber=SC_INDEX)
        options = subset.Options()
        options.name_IDs = ["*"]
        subsetter = subset.Subsetter(options)
        subsetter.populate(text=wanted)
        subsetter.subset(font)
        _cff_to_truetype(font)
        # A PostScript name of its own: reportlab registers type faces by this name.
        font["name"].setName(f"NotoSansCJKsc-{key}", 6, 3, 1, 0x409)
        tmp = out.with_suffix(".tmp")
        font.save(str(tmp))
        tmp.replace(out)
    return out


def _cff_to_truetype(font: TTFont) -> None:
    """CFF outlines → quadratic TrueType outlines (fontTools' otf2ttf recipe)."""
    order = font.getGlyphOrder()
    glyph_set = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = {}
    for name in order:
        pen = TTGlyphPen(glyph_set)
        glyph_set[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
        glyf.glyphs[name] = pen.glyph()
    font["loca"] = newTable("loca")
    font["glyf"] = glyf
    del font["CFF "]
    for table in ("VORG", "vhea", "vmtx"):
        if table in font:
            del font[table]
    maxp = newTable("maxp")
    maxp.tableVersion = 0x00010000
    for field in ("maxZones", "maxTwilightPoints", "maxStorage", "maxFunctionDefs",
                  "maxInstructionDefs", "maxStackElements", "maxSizeOfInstructions",
                  "maxComponentElements"):  # fmt: skip
        setattr(maxp, field, 1 if field == "maxZones" else 0)
    font["maxp"] = maxp
    font["head"].glyphDataFormat = 0
    font["post"].formatType = 2.0
    font["post"].extraNames = []
    font["post"].mapping = {}
    font.sfntVersion = "\x00\x01\x00\x00"


def _register(chars: str) -> str:
    # A font object per PDF (cheap: the subset font is small), none shared between tests.
    path = cjk_font(chars)
    name = f"{FONT_NAME}-{next(_SERIAL)}"
    pdfmetrics.registerFont(ReportlabFont(name, str(path)))
    return name


def render_pdf(paragraphs: list[str], title: str, *, justify: bool = False) -> bytes:
    """A4 PDF: the paragraphs as body text, a running header and ``— n —`` on every page;
    ``justify`` spreads each full line to the margin (extra space between characters)."""
    font = _register("".join(paragraphs) + title)
    style = ParagraphStyle("body", fontName=font, fontSize=12, leading=22, wordWrap="CJK",
                           firstLineIndent=24, spaceAfter=6,
                           alignment=TA_JUSTIFY if justify else TA_LEFT)  # fmt: skip

    def furniture(canvas: Canvas, doc: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(font, 9)
        canvas.drawString(20 * mm, A4[1] - 14 * mm, ISSUER)
        canvas.drawRightString(A4[0] - 20 * mm, A4[1] - 14 * mm, title[:30])
        canvas.line(20 * mm, A4[1] - 16 * mm, A4[0] - 20 * mm, A4[1] - 16 * mm)
        canvas.drawCentredString(A4[0] / 2, 12 * mm, page_footer(doc.page))
        canvas.restoreState()

    buffer = io.BytesIO()
    margins = {"topMargin": 24 * mm, "bottomMargin": 22 * mm, "leftMargin": 20 * mm,
               "rightMargin": 20 * mm}  # fmt: skip
    doc = SimpleDocTemplate(buffer, pagesize=A4, title=title, **margins)
    story = [Paragraph(_escape(p), style) for p in paragraphs]
    doc.build(story, onFirstPage=furniture, onLaterPages=furniture)
    return buffer.getvalue()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def render_pdf_chromium(paragraphs: list[str], title: str) -> bytes:
    """The same page printed by headless Chromium (Skia: CID fonts, Identity-H), with its own
    running header (date, title) and footer (the page's URL, ``n/N``); needs Chromium and a
    system CJK font (Debian: chromium, fonts-noto-cjk)."""
    if CHROMIUM is None:
        raise RuntimeError("no chromium on PATH")
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    style = ('body{font-family:"Noto Sans CJK SC",sans-serif;font-size:12pt;text-align:justify}'
             "p{text-indent:2em;margin:0 0 6pt}")  # fmt: skip
    page = (f"<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>{body}</body></html>")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        source, out = Path(tmp) / "page.html", Path(tmp) / "page.pdf"
        source.write_text(page, encoding="utf-8")
        subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--print-to-pdf={out}",
             source.as_uri()],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        return out.read_bytes()


def render_docx(paragraphs: list[str], title: str) -> bytes:
    """A Word document: the paragraphs, with the issuer in the page header and a footer."""
    doc = DocxDocument()
    section = doc.sections[0]
    section.header.paragraphs[0].text = f"{ISSUER}  {title[:30]}"
    section.footer.paragraphs[0].text = "— 1 —"
    for text in paragraphs:
        doc.add_paragraph(text)
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
