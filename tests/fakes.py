"""The model's side of the tests: the mocked endpoint and what answers on it.

Responses are shaped exactly as the providers send them (``chat_body``);
``ScriptedModel`` answers each task from a queue the test fills, ``CorpusModel`` answers every
task as a capable model would. ``make_gateway``, ``make_ctx``, ``open_reader`` and
``api_client`` wire the service to the endpoint, with retries that do not wait; ``isolate``
keeps a real endpoint (or database) named in the shell out of every test.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from bench.fake_provider import BackgroundServer, ThreadedServer
from bench.fake_provider import Config as StandIn
from service.api.app import create_app
from service.checks.glossary import Glossary
from service.config import Settings, get_settings
from service.library import Library
from service.llm.gateway import Gateway
from service.llm.prompts import PromptCatalog
from service.reader import Reader, load_glossary
from service.store import Store
from service.tasks.commitments.extract import RECALL_TASK, TASK
from service.tasks.commitments.names import NAME_TASK
from service.tasks.context import TaskContext
from service.tasks.registry import CATALOG
from service.tokens import count_tokens
from tests.samples import DATA, GLOSSARY, commitment_record

BASE = "https://api.test/v1"
CHAT = f"{BASE}/chat/completions"
PROVIDER_KEY = "sk-test-DO-NOT-LEAK-7f3a9c2e51b84d06"  # tests check that it never shows
REMOTE_ENV = {
    "OPENAI_BASE_URL": BASE,
    "OPENAI_API_KEY": PROVIDER_KEY,
    "READER_MODEL": "gpt-4o-mini",
    "READER_MAX_RETRIES": "1",
}
Configure = Callable[..., Settings]  # the ``configure`` fixture
Serve = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]  # the ``serve`` fixture
REFUSAL = "I'm sorry, I can't help with that."
# What selects a real endpoint or another database: never taken from the developer's shell.
OUTSIDE_VARIABLES = ("OPENAI_BASE_URL", "OPENAI_API_KEY", "DATABASE_URL", "READER_MODEL")


def isolate(mp: pytest.MonkeyPatch, cache: Path) -> None:
    """Drop the outside variables and keep the cache (and its database) in ``cache``."""
    for var in OUTSIDE_VARIABLES:
        mp.delenv(var, raising=False)
    mp.setenv("READER_CACHE_DIR", str(cache))
    cache.mkdir(parents=True, exist_ok=True)
    get_settings.cache_clear()


def isolate_embedded(mp: pytest.MonkeyPatch, cache: Path, model: Path) -> None:
    """``isolate``, on the embedded model at ``model`` with a client timeout for a CPU model."""
    isolate(mp, cache)
    mp.setenv("READER_LOCAL_MODEL_PATH", str(model))
    # On a loaded CI box one call of the CPU model can take minutes; a client timeout would
    # only queue a retry behind the generation the server is still running.
    mp.setenv("READER_TIMEOUT_S", "1800")
    get_settings.cache_clear()


# --- responses as the providers shape them ----------------------------------------------------


def chat_body(
    content: str | None,
    *,
    finish_reason: str = "stop",
    refusal: str | None = None,
    prompt_tokens: int = 120,
    completion_tokens: int = 14,
    cached_tokens: int = 0,
) -> dict[str, Any]:
    """A chat.completion exactly as api.openai.com shapes it."""
    return {
        "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
        "object": "chat.completion",
        "created": 1741570283,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": content,
                    "refusal": refusal,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": "fp_06737a9306",
    }


def chat_reply(content: str | dict[str, Any] | None, **body: Any) -> httpx.Response:
    """A 200 chat answer; a dict is sent as its JSON text."""
    if isinstance(content, dict):
        content = json.dumps(content, ensure_ascii=False)
    return httpx.Response(200, json=chat_body(content, **body))


def refused() -> httpx.Response:
    """A 200 chat answer that refuses."""
    return chat_reply(None, refusal=REFUSAL)


def sent_json(request: httpx.Request) -> dict[str, Any]:
    """The JSON body of a request the endpoint received."""
    body: dict[str, Any] = json.loads(request.content)
    return body


def user_text(body: dict[str, Any]) -> str:
    """The last (user) message of a chat request."""
    return str(body["messages"][-1]["content"])


def request_tokens(body: dict[str, Any]) -> int:
    """What a request can occupy in the context: its messages plus its output allowance."""
    text = "".join(m["content"] for m in body["messages"])
    framing = 4 * len(body["messages"]) + 3
    return count_tokens(text) + framing + int(body["max_tokens"])


# --- what a capable model writes --------------------------------------------------------------


PARAGRAPH = re.compile(r'<p id="([^"]+)">(.*?)</p>')  # one paragraph of a <document> block
PARAGRAPH_ID = re.compile(r'<p id="([^"]+)"')


def translation_answer(pairs: dict[str, str]) -> str:
    """The translate task's JSON answer for ``{paragraph id: English}``."""
    items = [{"id": k, "en": v} for k, v in pairs.items()]
    return json.dumps({"paragraphs": items}, ensure_ascii=False)


def translation_reply(pairs: dict[str, str]) -> httpx.Response:
    """A 200 chat answer of the translate task."""
    return chat_reply(translation_answer(pairs))


def translation_by_document(table: dict[str, str]) -> Callable[[httpx.Request], httpx.Response]:
    """A respx side effect answering each <p id> of the request's <document> from ``table``."""

    def respond(request: httpx.Request) -> httpx.Response:
        user = sent_json(request)["messages"][1]["content"]
        document = user[user.index("<document") :]
        return translation_reply({m[1]: table[m[1]] for m in PARAGRAPH.finditer(document)})

    return respond


def commitments_answer(*records: dict[str, Any]) -> str:
    """The commitments task's JSON answer."""
    return json.dumps({"commitments": list(records)}, ensure_ascii=False)


# --- the test prompt files -------------------------------------------------------------------

# tests/data/prompts: ``echo`` (free text) and ``extract`` (the ``TestItems`` schema).
TEST_PROMPTS = DATA / "prompts"


class ItemList(BaseModel):
    items: list[str]


TEST_CATALOG = PromptCatalog(
    schemas={"TestItems": ItemList}, strategies={"echo": ("plain",), "extract": ("json",)}
)


# --- stand-in models --------------------------------------------------------------------------

# How each prompt's request starts: tells a stand-in which task is asking.
OPENINGS = {
    "You translate": "translate",
    "You summarise": "summary",
    "You extract commitments": TASK,
    "You check a Chinese policy document": RECALL_TASK,
    "You write one plain English sentence": TASK,  # v2.chat, the rules_en strategy
    "You give the English name": NAME_TASK,  # entity_name: the tracker's names (rules_en)
}


def task_of(body: dict[str, Any]) -> str:
    """The task a request comes from, told by its prompt's opening."""
    opening = body["messages"][0]["content"]
    for start, task in OPENINGS.items():
        if opening.startswith(start):
            return task
    raise AssertionError(f"request from an unknown prompt: {opening[:80]!r}")


Reply = str | httpx.Response  # model text, or a whole HTTP response (refusal, 500)


@dataclass
class ScriptedModel:
    """Per task, a queue of replies; every request is kept for inspection."""

    replies: dict[str, list[tuple[str, Reply]]] = field(default_factory=dict)
    requests: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def script(self, task: str, *replies: Reply, when: str = "") -> None:
        """Queue replies for ``task``; with ``when``, only for requests containing that text
        (chunks run concurrently, so their requests arrive in any order)."""
        self.replies.setdefault(task, []).extend((when, r) for r in replies)

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = sent_json(request)
        task = task_of(body)
        self.requests.setdefault(task, []).append(body)
        queue = self.replies.get(task, [])
        sent = json.dumps(body, ensure_ascii=False)
        match = next((i for i, (when, _) in enumerate(queue) if when in sent), None)
        if match is None:
            raise AssertionError(f"unexpected {task} request: {sent[:300]}")
        reply = queue.pop(match)[1]
        if isinstance(reply, httpx.Response):
            return reply
        return chat_reply(reply)

    def calls(self, task: str) -> int:
        return len(self.requests.get(task, []))


DOCUMENT = re.compile(r"<document[^>]*>\n(.*?)\n</document>", re.S)
CLAUSE = re.compile(r"[^。，\n>]*要[^。\n<]*。")
CORPUS_SUMMARY = {
    "headline": "City meeting sets priorities for the year",
    "abstract": (
        "City leaders met to plan the year's key work. The meeting approved a set of public "
        "service projects. It asked all departments to deliver on time."
    ),
    "key_points": [
        "Key work for the year was planned",
        "Public service projects were approved",
        "Departments must deliver on time",
    ],
    "body": "City government",
    "date": None,
    "place": "Shenzhen",
    "people": [],
}


def request_key(body: dict[str, Any]) -> str:
    """A request's identity: its canonical JSON, hashed."""
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass
class CorpusModel:
    """Answers the three tasks as a good instruction model would (from the paragraph ids or
    clauses of the <document> block), counts every request by its body, and can drop the
    connection after N answers or refuse requests whose document contains some text."""

    fail_after: int | None = None  # answer this many requests, then refuse connections
    refuse_when: str | None = None  # a refusal for requests whose document contains this
    seen: Counter[str] = field(default_factory=Counter)  # request key -> times received
    answered: list[str] = field(default_factory=list)  # keys answered with 200
    tasks: Counter[str] = field(default_factory=Counter)

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = sent_json(request)
        key = request_key(body)
        self.seen[key] += 1
        if self.fail_after is not None and len(self.answered) >= self.fail_after:
            raise httpx.ConnectError("connection refused", request=request)
        task, document = task_of(body), _document(body["messages"][-1]["content"])
        self.tasks[task] += 1
        self.answered.append(key)
        if self.refuse_when is not None and self.refuse_when in document:
            return refused()
        return chat_reply(corpus_answer(task, document))

    def reset(self) -> None:
        self.seen.clear()
        self.answered.clear()
        self.tasks.clear()


def _document(user: str) -> str:
    m = DOCUMENT.search(user)
    assert m is not None, "every request carries its document between delimiters"
    return m.group(1)


def corpus_answer(task: str, document: str) -> str:
    """CorpusModel's answer: every paragraph translated, one summary, the first clause with 要."""
    if task == "translate":
        ids = PARAGRAPH_ID.findall(document)
        return translation_answer({pid: f"Paragraph {pid} in English." for pid in ids})
    if task == "summary":
        return json.dumps(CORPUS_SUMMARY)
    if task == TASK:
        return commitments_answer(*(commitment_record(q) for q in CLAUSE.findall(document)[:1]))
    return commitments_answer()


@dataclass
class PlainTextModel:
    """Answers the embedded Qwen's plain-text prompts (per_unit, sections, rules_en) as a
    capable model would: each unit's English from ``english`` (by its Chinese), a summary in
    sections, each commitment's sentence from ``sentences`` (by a text of its quote); counts
    the requests by task. A unit missing from ``english`` gets 1.3 × its tokens of English
    (``words``), the ratio the dry-run estimate assumes."""

    english: dict[str, str] = field(default_factory=dict)
    sentences: dict[str, str] = field(default_factory=dict)
    summary: str = ""
    tasks: Counter[str] = field(default_factory=Counter)

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = sent_json(request)
        task = task_of(body)
        self.tasks[task] += 1
        user = str(body["messages"][-1]["content"])
        if task == "translate":
            zh = _document(user)
            return chat_reply(self.english.get(zh) or words(int(count_tokens(zh) * 1.3)))
        if task == "summary":
            return chat_reply(self.summary)
        return chat_reply(next(en for quote, en in self.sentences.items() if quote in user))


def words(n: int) -> str:
    """``n`` cl100k tokens of English."""
    return " ".join(["work"] * n)


# --- the service wired to the endpoint --------------------------------------------------------


async def no_wait(_delay: float) -> None:
    """Retry backoff without waiting."""


def make_gateway(
    settings: Settings, *, base_url: str | None = None, context_window: int | None = None
) -> Gateway:
    """A gateway with its own store on the settings' database, retries that do not wait;
    ``context_window`` shrinks the model profile's."""
    gateway = Gateway(
        settings,
        Store(settings.db_url),
        http_client=httpx.AsyncClient(),
        catalog=CATALOG,
        sleep=no_wait,
        base_url=base_url,
    )
    if context_window is not None:
        gateway.profile = dataclasses.replace(gateway.profile, context_window=context_window)
    return gateway


def make_ctx(settings: Settings) -> TaskContext:
    """A task context on the mocked endpoint with the test glossary."""
    return TaskContext(gateway=make_gateway(settings), glossary=GLOSSARY, endpoint=BASE)


def build_reader(
    settings: Settings, base_url: str = BASE, glossary: Glossary | None = None
) -> Reader:
    """What ``Reader.open`` builds, on ``base_url`` (no endpoint resolution), instant retries;
    the settings' glossary unless one is given."""
    gateway = make_gateway(settings, base_url=base_url)
    glossary = glossary or load_glossary(settings)
    return Reader(Library(settings, gateway.store), gateway, glossary, base_url)


@asynccontextmanager
async def open_reader(
    settings: Settings, base_url: str = BASE, glossary: Glossary | None = None
) -> AsyncIterator[Reader]:
    """``build_reader``, closed as ``Reader.open`` closes."""
    reader = build_reader(settings, base_url, glossary)
    try:
        yield reader
    finally:
        await reader.cancel_running()
        await reader.gateway.aclose()
        reader.library.store.close()


@asynccontextmanager
async def api_client(settings: Settings, reader: Reader) -> AsyncIterator[httpx.AsyncClient]:
    """The API in-process (httpx's ASGITransport, which respx does not intercept)."""
    app = create_app(settings, reader=reader)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        yield client


async def add_text(client: httpx.AsyncClient, text: str, **fields: Any) -> dict[str, Any]:
    """Add a document over the API; its JSON."""
    response = await client.post("/v1/documents", json={"text": text, **fields})
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


# --- the API over real HTTP, on the benchmark's stand-in model ----------------------------------

API_KEY = "reader-test-key-1c9e"
STAND_IN_KEY = "sk-stand-in-not-a-secret"


@contextmanager
def live_api(configure: Configure) -> Iterator[str]:
    """``policy-reader serve`` as it runs (uvicorn, the app's own lifespan, READER_API_KEY
    set) on loopback, its model the stand-in provider on loopback; yields the base URL."""
    with BackgroundServer(StandIn(latency=0.0, tps=1_000_000.0)) as model:
        settings = configure(
            OPENAI_BASE_URL=model,
            OPENAI_API_KEY=STAND_IN_KEY,
            READER_MODEL="gpt-4o-mini",
            READER_API_KEY=API_KEY,
        )
        with ThreadedServer(create_app(settings)) as base:
            yield base
