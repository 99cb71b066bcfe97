"""The site as a reader sees it: the mkdocs HTML of the five seeds, opened in headless chromium.

The seeds run through the whole pipeline against the mocked endpoint (``CorpusModel``: no
model, a few seconds), mkdocs builds the HTML, and Debian's chromium (``/usr/bin/chromium``,
installed by ``.ci/run``; no browser download) renders each page: its DOM must hold the
tables, every internal link must reach an existing file and anchor, and both Chinese and
English must be in the text. A screenshot of each page is kept in ``cache/screenshots/``.
Adding a page (the tracker, an entity page) is one line in ``PAGES``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
import shutil
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import respx

from service.config import ROOT, get_settings
from service.render import write_mkdocs
from service.run.corpus import RunOptions, run_batch
from tests.fakes import CHAT, REMOTE_ENV, CorpusModel, isolate
from tests.samples import CORPUS, SEEDS
from tests.test_run_corpus import Recorder

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = ROOT / "cache" / "screenshots"
# Page name → a glob in the built site (the first match is opened) and the tables it must show.
PAGES: dict[str, tuple[str, int]] = {
    "index": ("index.html", 1),
    "document": ("docs/*.html", 4),  # who/when/where, commitments, quality, provenance …
}
_CJK = re.compile(r"[\u4e00-\u9fff]")
_ENGLISH = re.compile(r"\b(?:the|and|of|Commitments|Summary)\b")

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (.ci/run installs it)"),
    pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None, reason="mkdocs not installed"),
]


class Dom(HTMLParser):
    """What the checks need from a rendered page: tables, cells, links, ids and text."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.tables = self.cells = 0
        self.hrefs: list[str] = []
        self.ids: set[str] = set()
        self.text: list[str] = []
        self._skip = 0  # inside <script>/<style>: not text a reader sees
        self.feed(markup)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tables += tag == "table"
        self.cells += tag == "td"
        self._skip += tag in ("script", "style")
        if found.get("id"):
            self.ids.add(str(found["id"]))
        if tag == "a" and found.get("href"):
            self.hrefs.append(str(found["href"]))

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("script", "style") and self._skip > 0

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.text.append(data)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The five seeds through the pipeline (mocked model), built to HTML by mkdocs."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    root = tmp_path_factory.mktemp("browser")
    with pytest.MonkeyPatch.context() as mp:
        isolate(mp, root / "cache")
        for name, value in REMOTE_ENV.items():
            mp.setenv(name, value)
        get_settings.cache_clear()
        report = _run_corpus(root / "site")
        get_settings.cache_clear()
    assert report == len(SEEDS) * 3  # every task of every seed ran
    build(load_config(str(write_mkdocs(root / "mkdocs.yml", root / "site"))))
    return root / "build" / "site"


def _run_corpus(out: Path) -> int:
    model = CorpusModel()
    with respx.mock(assert_all_called=False) as router:
        router.post(CHAT).mock(side_effect=model.handle)
        report = asyncio.run(run_batch(get_settings(), [CORPUS], out, RunOptions(), Recorder()))
    return sum(o.status in ("ok", "partial") for o in report.outcomes)


def _page(site: Path, name: str) -> Path:
    pattern, _ = PAGES[name]
    found = sorted(site.glob(pattern))
    assert found, f"{pattern} not in the built site"
    return found[0]


def _chromium(*args: str, profile: Path) -> str:
    command = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu"]
    command += ["--hide-scrollbars", f"--user-data-dir={profile}", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def profile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chromium-profile")


@pytest.fixture(scope="module")
def doms(site: Path, profile: Path) -> dict[str, Dom]:
    """Each page's DOM after chromium rendered it (scripts run), parsed once."""
    return {
        name: Dom(_chromium("--dump-dom", _page(site, name).as_uri(), profile=profile))
        for name in PAGES
    }


@pytest.mark.parametrize("name", PAGES)
def test_tables_render_in_the_browser(doms: dict[str, Dom], name: str) -> None:
    dom, (_, tables) = doms[name], PAGES[name]
    assert dom.tables >= tables and dom.cells >= 3 * tables


@pytest.mark.parametrize("name", PAGES)
def test_chinese_and_english_both_display(doms: dict[str, Dom], name: str) -> None:
    text = " ".join(doms[name].text)
    assert len(_CJK.findall(text)) >= 20, "no Chinese in the rendered page"
    assert len(_ENGLISH.findall(text)) >= 5, "no English in the rendered page"


@pytest.mark.parametrize("name", PAGES)
def test_every_link_resolves(site: Path, doms: dict[str, Dom], name: str) -> None:
    page = _page(site, name)
    checked = list(_check_links(site, page, doms[name]))
    assert len(checked) >= 5


def _check_links(site: Path, page: Path, dom: Dom) -> Iterator[str]:
    """Each internal href: its file exists in the site, its #anchor is an id in that file."""
    for href in dom.hrefs:
        parts = urlsplit(href)
        if parts.scheme in ("http", "https", "mailto") or href == "#":
            continue
        target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
        assert target.is_file() and site.resolve() in target.parents, f"{page.name}: {href}"
        if parts.fragment and target.suffix == ".html":
            ids = dom.ids if target == page else Dom(target.read_text("utf-8")).ids
            assert unquote(parts.fragment) in ids, f"{page.name}: {href}"
        yield href


def test_cjk_fonts_are_installed_for_the_screenshots() -> None:
    listed = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, check=False)
    assert listed.stdout.strip(), "no Chinese font: apt-get install fonts-noto-cjk (.ci/run)"


@pytest.mark.parametrize("name", PAGES)
def test_screenshot_is_kept(site: Path, profile: Path, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / f"{name}.png"
    shot.unlink(missing_ok=True)
    url = _page(site, name).as_uri()
    _chromium("--window-size=1280,1600", f"--screenshot={shot}", url, profile=profile)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
