"""Fixtures for the API tests: settings on a mocked endpoint, a reader, an ASGI client.

The model endpoint is https://api.test/v1, mocked with respx at the HTTP layer; the API is
called in-process through httpx's ASGITransport (respx does not intercept that transport).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx

from service.api.app import create_app
from service.config import Settings, get_settings
from service.library import Library
from service.llm.gateway import Gateway
from service.reader import Reader, load_glossary
from service.store.store import Store
from service.tasks.registry import CATALOG

API_BASE = "https://api.test/v1"
SECRET = "sk-test-DO-NOT-LEAK-7f3a9c2e51b84d06"
TEXT = (
    "深圳市召开全市高质量发展大会。\n\n"
    "会议强调，到2025年全市新建学校50所，新增学位10万个。\n\n"
    "会议要求各区加快推进光明科学城建设，力争年内完成投资120亿元。"
)


async def instant(_delay: float) -> None:
    """Retry backoff without waiting."""


@pytest.fixture
def api_settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("OPENAI_BASE_URL", API_BASE)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("READER_MODEL", "gpt-4o-mini")
    monkeypatch.setenv("READER_MAX_RETRIES", "1")
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture
async def model() -> AsyncIterator[respx.MockRouter]:
    """The mocked model endpoint; unmatched requests fail the test."""
    async with respx.mock(base_url=API_BASE, assert_all_called=False) as router:
        yield router


async def open_reader(settings: Settings) -> Reader:
    """A reader on the mocked endpoint (what ``Reader.open`` builds, with instant retries)."""
    store = Store(settings.db_url)
    gateway = Gateway(
        settings, store, http_client=httpx.AsyncClient(), catalog=CATALOG, sleep=instant
    )
    return Reader(Library(settings, store), gateway, load_glossary(settings), API_BASE)


@pytest.fixture
async def reader(api_settings: Settings, model: respx.MockRouter) -> AsyncIterator[Reader]:
    opened = await open_reader(api_settings)
    yield opened
    await opened.gateway.aclose()
    opened.library.store.close()


async def api_client(settings: Settings, reader: Reader) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, reader=reader)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        yield client


@pytest.fixture
async def client(api_settings: Settings, reader: Reader) -> AsyncIterator[httpx.AsyncClient]:
    async for c in api_client(api_settings, reader):
        yield c


async def add_text(client: httpx.AsyncClient, text: str = TEXT, **fields: Any) -> dict[str, Any]:
    response = await client.post("/v1/documents", json={"text": text, **fields})
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body
