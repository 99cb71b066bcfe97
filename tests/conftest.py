"""Fixtures: every test gets its own settings, cache dir and database in tmp_path.

- settings: ``settings`` (the defaults: the embedded default model), ``configure(**env)``,
  ``remote_settings`` (the mocked endpoint), ``run_settings`` (corpus runs: small chunks, no
  retries);
- the model: ``endpoint`` mocks https://api.test/v1 with respx, ``model`` answers on it from
  per-task scripts;
- tasks: ``gateway``, ``ctx`` (with the test glossary), ``local_ctx`` (the embedded model's
  profile on the mocked endpoint); the API: ``reader``, ``client``, ``serve(**env)``;
- the store: ``store`` (SQLite), ``db_url`` / ``db_store`` / ``db_settings`` (each test once
  on SQLite and once on PostgreSQL), ``pg_url`` (emptied tables), ``pg_empty_url`` (a database
  of its own, no schema); PostgreSQL tests skip without READER_TEST_DATABASE_URL;
- the rest: ``hashes``, ``packaged_model``.

Plain helpers live in tests/fakes.py (the model's side) and tests/samples.py (the documents').
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import respx
from hypothesis.configuration import set_hypothesis_home_dir

from service.config import ROOT, Settings, get_settings
from service.llm import embedded
from service.llm.embedded import DEFAULT_MODEL, assemble
from service.llm.gateway import Gateway
from service.reader import Reader
from service.store import Store
from service.tasks.context import TaskContext
from tests.databases import NO_SERVER, empty_tables, fresh_database, server_url
from tests.fakes import (
    BASE,
    REMOTE_ENV,
    Configure,
    ScriptedModel,
    Serve,
    api_client,
    isolate,
    make_ctx,
    make_gateway,
    open_reader,
)
from tests.samples import GLOSSARY

# Hypothesis writes its caches and example database to .hypothesis/ in the working directory,
# from collection on: keep them out of the checkout (failing examples are still replayed).
if "HYPOTHESIS_STORAGE_DIRECTORY" not in os.environ:
    set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "policy-reader-hypothesis")


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    isolate(monkeypatch, tmp_path / "cache")
    yield
    get_settings.cache_clear()


@pytest.fixture
def settings() -> Settings:
    """The defaults: no endpoint configured (the embedded local model)."""
    return get_settings()


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Configure:
    """Set environment variables and read the settings again: ``configure(READER_X="1")``."""

    def apply(**env: str) -> Settings:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        return get_settings()

    return apply


@pytest.fixture
def remote_settings(configure: Configure) -> Settings:
    """The mocked remote endpoint (gpt-4o-mini at fakes.BASE), one retry, the checkout's prompts."""
    settings = configure(**REMOTE_ENV)
    assert settings.prompts_dir == ROOT / "prompts"
    return settings


@pytest.fixture
def run_settings(remote_settings: Settings, configure: Configure) -> Settings:
    """For corpus runs: 40-token chunks (several per short document) and no retries, so that
    a dropped connection fails its chunk at once."""
    return configure(READER_CHUNK_TOKENS="40", READER_MAX_RETRIES="0")


@pytest.fixture
def endpoint() -> Iterator[respx.MockRouter]:
    """The mocked model endpoint at fakes.BASE; a request no route matches fails the test."""
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture
def model(endpoint: respx.MockRouter) -> ScriptedModel:
    """A model on the endpoint answering each task from the replies the test scripts."""
    scripted = ScriptedModel()
    endpoint.post("/chat/completions").mock(side_effect=scripted.handle)
    return scripted


@pytest.fixture
async def gateway(remote_settings: Settings) -> AsyncIterator[Gateway]:
    """A gateway on the mocked endpoint (the tasks' prompts, retries that do not wait)."""
    opened = make_gateway(remote_settings)
    yield opened
    await opened.aclose()


@pytest.fixture
def ctx(gateway: Gateway) -> TaskContext:
    """A task context on ``gateway`` with the test glossary."""
    return TaskContext(gateway=gateway, glossary=GLOSSARY, endpoint=BASE)


@pytest.fixture
async def local_ctx(remote_settings: Settings, configure: Configure) -> AsyncIterator[TaskContext]:
    """A task context whose gateway has the embedded model's profile, chosen by its model name
    (the per_unit translation, the sections summary, rules_en commitments), on the mocked
    endpoint."""
    context = make_ctx(configure(READER_MODEL=DEFAULT_MODEL.name))
    assert context.gateway.profile.name == DEFAULT_MODEL.profile
    yield context
    await context.gateway.aclose()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A store of its own (in a folder the store has to make)."""
    opened = Store(f"sqlite:///{tmp_path / 'db' / 'reader.sqlite3'}")
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The test server's URL (READER_TEST_DATABASE_URL); the test is skipped without one."""
    url = server_url()
    if url is None:
        pytest.skip(NO_SERVER)
    return url


@pytest.fixture(scope="session")
def _pg_session_database(pg_server: str) -> Iterator[str]:
    """One database for the session's PostgreSQL tests, migrated once, dropped at the end."""
    with fresh_database(pg_server) as url:
        Store(url).close()
        yield url


@pytest.fixture
def pg_url(_pg_session_database: str) -> str:
    """A PostgreSQL database at the newest schema with no rows (emptied before the test)."""
    empty_tables(_pg_session_database)
    return _pg_session_database


@pytest.fixture
def pg_empty_url(pg_server: str) -> Iterator[str]:
    """A PostgreSQL database of this test's own, without any table yet."""
    with fresh_database(pg_server) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The test runs twice: on a SQLite file of its own, then on PostgreSQL (``pg_url``)."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("pg_url"))
    return f"sqlite:///{tmp_path / 'db' / 'reader.sqlite3'}"


@pytest.fixture
def db_store(db_url: str) -> Iterator[Store]:
    """A store on ``db_url``: SQLite, then PostgreSQL."""
    opened = Store(db_url)
    yield opened
    opened.close()


@pytest.fixture
def db_settings(db_url: str, configure: Configure) -> Settings:
    """The default settings with DATABASE_URL set to ``db_url``: SQLite, then PostgreSQL."""
    return configure(DATABASE_URL=db_url)


@pytest.fixture
async def reader(remote_settings: Settings, endpoint: respx.MockRouter) -> AsyncIterator[Reader]:
    """A reader on the mocked endpoint."""
    async with open_reader(remote_settings) as opened:
        yield opened


@pytest.fixture
async def client(remote_settings: Settings, reader: Reader) -> AsyncIterator[httpx.AsyncClient]:
    """The API, in-process, over ``reader``."""
    async with api_client(remote_settings, reader) as http:
        yield http


@pytest.fixture
def serve(remote_settings: Settings, configure: Configure, endpoint: respx.MockRouter) -> Serve:
    """The API on the remote settings with more variables: ``async with serve(READER_X="1")``."""

    @asynccontextmanager
    async def serving(**env: str) -> AsyncIterator[httpx.AsyncClient]:
        settings = configure(**env)
        async with open_reader(settings) as opened, api_client(settings, opened) as http:
            yield http

    return serving


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every file the embedded-model assembly hashes on disk (it hashes while writing too)."""
    seen: list[Path] = []
    real = embedded._sha256_file

    def counting(path: Path) -> str:
        seen.append(path)
        return real(path)

    monkeypatch.setattr(embedded, "_sha256_file", counting)
    return seen


def default_model_installed() -> bool:
    """The part packages of the default embedded model are importable (the `local` extra)."""
    return all(importlib.util.find_spec(part.module) is not None for part in DEFAULT_MODEL.parts)


@pytest.fixture(scope="session")
def packaged_model() -> Path:
    """The default embedded model's GGUF, assembled once per machine outside any test's cache
    (later sessions trust its sha256 sidecar); for READER_LOCAL_MODEL_PATH."""
    if not default_model_installed():
        pytest.skip(f"the part packages of {DEFAULT_MODEL.title} are not installed ('.[local]')")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return assemble(DEFAULT_MODEL, cache / "policy-reader-tests" / "models")
