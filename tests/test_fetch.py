"""Documents by URL, from a real HTTP server on loopback: pages and PDFs fetched with the
URL kept, redirects capped, size and time limited; the API fetches only when enabled and
never a private address unless allowed."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from typer.testing import CliRunner

from service.cli import app
from service.config import Settings
from service.errors import FetchRefused, InputError, InputTooLarge
from service.ingest import fetch, ingest_source
from service.ingest.fetch import fetch_url
from tests.documents import render_pdf
from tests.fakes import Serve

PAGE = (Path(__file__).parent / "data" / "pages" / "govcn_notice.html").read_bytes()
# Two pages, so that the running header recurs and is removed.
PDF_TEXT = ["关于推进城市更新的通知", "各区要在2025年底前完成老旧小区改造100个。" * 120]
ROUTES: dict[str, tuple[int, dict[str, str], bytes]] = {}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/slow":
            time.sleep(3)
        status, headers, body = ROUTES.get(self.path, (404, {}, b"not found"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    """A loopback web server: the gov.cn page, a PDF, redirects, a huge and a slow answer."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    pdf = render_pdf(PDF_TEXT, "通知")
    ROUTES.update({
        "/zwgk/notice.html": (200, {"Content-Type": "text/html; charset=utf-8"}, PAGE),
        "/files/notice.pdf": (200, {"Content-Type": "application/pdf"}, pdf),
        "/old": (301, {"Location": "/zwgk/notice.html"}, b""),
        "/huge": (200, {"Content-Type": "text/plain"}, b"x" * (6 * 1024 * 1024)),
        "/slow": (200, {"Content-Type": "text/plain"}, "通知。".encode() * 10),
        **{f"/loop{i}": (302, {"Location": f"/loop{i + 1}"}, b"") for i in range(10)},
    })  # fmt: skip
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base
    server.shutdown()
    server.server_close()


def test_a_page_url_is_fetched_and_read_with_its_url_kept(site: str) -> None:
    url = f"{site}/zwgk/notice.html"
    doc = ingest_source(url, settings=Settings())
    assert doc.meta.source_url == url and doc.meta.provenance["source_url"] == "fetched"
    assert doc.source_name == "notice.html"
    assert doc.meta.title_zh is not None and doc.meta.title_zh.endswith("若干措施的通知")
    assert "搜索" not in doc.text and "相关文件" not in doc.text


def test_a_linked_pdf_and_a_redirect_are_followed(site: str) -> None:
    pdf = ingest_source(f"{site}/files/notice.pdf", settings=Settings())
    assert pdf.cleaning.input_format == "pdf"
    assert [p.text for p in pdf.paragraphs] == PDF_TEXT
    moved = ingest_source(f"{site}/old", settings=Settings())
    assert moved.meta.source_url == f"{site}/old" and moved.cleaning.input_format == "html"


def test_limits_redirects_size_time_and_errors(site: str, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(fetch_max_redirects=3, fetch_timeout_s=1)
    with pytest.raises(InputError, match="more than 3 redirects"):
        fetch_url(f"{site}/loop0", settings=settings)
    with pytest.raises(InputTooLarge, match=r"/huge.*limit"):
        fetch_url(f"{site}/huge", settings=settings)
    with pytest.raises(InputError, match="/slow: no answer within 1 s"):
        fetch_url(f"{site}/slow", settings=settings)
    with pytest.raises(InputError, match="/missing: the server answered HTTP 404"):
        fetch_url(f"{site}/missing", settings=settings)


def test_private_addresses_are_refused_unless_allowed(site: str) -> None:
    for url in (f"{site}/zwgk/notice.html", "http://localhost:9/", "http://169.254.169.254/",
                "http://10.0.0.1/", "http://[::1]:9/"):  # fmt: skip
        with pytest.raises(FetchRefused, match="private, loopback or link-local"):
            fetch_url(url, settings=Settings(), allow_private=False)
    # Every hop is checked before its GET; other schemes are never fetched.
    with pytest.raises(InputError, match="only http"):
        fetch_url("ftp://example.org/x", settings=Settings(), allow_private=False)


def test_the_checked_address_is_the_one_connected_to(
    site: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "docs.example" resolves only through our check (and only to loopback, taken as public
    # here): the fetch works only if the request goes to that address instead of being
    # resolved again, which a rebinding DNS server could answer differently.
    port = site.rsplit(":", 1)[1]
    real = socket.getaddrinfo

    def resolve(host: str, *args: Any, **kwargs: Any) -> Any:
        if host == "docs.example":
            return real("127.0.0.1", *args, **kwargs)
        if host.replace(".", "").isdigit():  # an address: connecting to it resolves nothing
            return real(host, *args, **kwargs)
        raise socket.gaierror(socket.EAI_NONAME, "unknown host")

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    monkeypatch.setattr(fetch, "is_public", lambda address: True)
    url = f"http://docs.example:{port}/zwgk/notice.html"
    got = fetch.fetch_url(url, settings=Settings(), allow_private=False)
    assert got.data == PAGE and got.url == url


def test_cli_ingest_and_run_take_urls(site: str, tmp_path: Path) -> None:
    url = f"{site}/zwgk/notice.html"
    result = CliRunner().invoke(app, ["ingest", "--json", url, f"{site}/missing"])
    assert result.exit_code == 1
    assert "404" in result.stderr and "/missing" in result.stderr
    [doc] = json.loads(result.stdout)
    assert doc["meta"]["source_url"] == url
    dry = CliRunner().invoke(app, ["run", "--dry-run", url, f"{site}/files/notice.pdf"])
    assert dry.exit_code == 0, dry.output
    assert "2 documents" in dry.stdout


async def test_api_accepts_pdf_docx_and_refuses_other_media(
    client: httpx.AsyncClient, site: str
) -> None:
    pdf = render_pdf(PDF_TEXT, "通知")
    made = await client.post("/v1/documents", files={"file": ("通知.pdf", pdf, "application/pdf")})
    assert made.status_code == 201 and made.json()["cleaning"]["input_format"] == "pdf"
    png = await client.post("/v1/documents", files={"file": ("a.png", b"\x89PNG", "image/png")})
    assert png.status_code == 415 and png.json()["code"] == "unsupported_media"
    for name, data in (("cut.pdf", pdf[:2000]), ("scan.pdf", b"%PDF-1.4\n%%EOF\n")):
        bad = await client.post("/v1/documents", files={"file": (name, data, "application/pdf")})
        assert bad.status_code == 422 and name in bad.json()["message"]


async def test_api_fetch_is_off_unless_enabled_then_public_only_unless_allowed(
    serve: Serve, site: str, endpoint: respx.MockRouter
) -> None:
    endpoint.route(host="127.0.0.1").pass_through()
    url = f"{site}/zwgk/notice.html"
    form = {"url": (None, url)}  # a multipart field, not a file
    async with serve() as api:
        off = await api.post("/v1/documents", files=form)
        assert off.status_code == 403 and "READER_API_FETCH" in off.json()["message"]
    async with serve(READER_API_FETCH="true") as api:
        private = await api.post("/v1/documents", files=form)
        assert private.status_code == 403 and private.json()["code"] == "fetch_refused"
    async with serve(READER_API_FETCH="true", READER_FETCH_ALLOW_PRIVATE="true") as api:
        made = await api.post("/v1/documents", files=form)
        assert made.status_code == 201, made.text
        assert made.json()["meta"]["source_url"] == url
        missing = await api.post("/v1/documents", files={"url": (None, f"{site}/missing")})
        assert missing.status_code == 422


async def test_openapi_documents_the_upload_types_and_the_new_errors(
    client: httpx.AsyncClient,
) -> None:
    post = (await client.get("/openapi.json")).json()["paths"]["/v1/documents"]["post"]
    assert {"403", "413", "415", "422"} <= set(post["responses"])
    form = post["requestBody"]["content"]["multipart/form-data"]
    assert {"file", "url"} <= set(form["schema"]["properties"])
    assert "application/pdf" in form["encoding"]["file"]["contentType"]
