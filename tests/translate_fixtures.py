"""Shared helpers for the translation tests: documents, chunks, gateway, OpenAI payloads."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import pytest

from service.checks.glossary import Entry, Glossary
from service.chunk import chunk_document
from service.config import Settings
from service.llm.gateway import Gateway
from service.models import Chunk, CleaningReport, Document, DocumentMeta, Paragraph
from service.store import Store
from service.tasks.context import TaskContext
from service.tasks.registry import CATALOG
from service.tokens import count_tokens
from tests.payloads import chat_body

BASE = "https://api.test/v1"
CHAT = f"{BASE}/chat/completions"
COMPLETIONS = f"{BASE}/completions"

GLOSSARY = Glossary(
    [
        Entry(zh="粤港澳大湾区", en="Guangdong-Hong Kong-Macao Greater Bay Area", kind="zone",
              source="test", alternates=["Greater Bay Area"]),
        Entry(zh="高质量发展", en="high-quality development", kind="slogan", source="test"),
        Entry(zh="先行示范区", en="pilot demonstration zone", kind="zone", source="test"),
        Entry(zh="营商环境", en="business environment", kind="policy", source="test"),
    ],
    version="test-1",
)  # fmt: skip


def make_doc(texts: Sequence[str], headings: Sequence[int] = ()) -> Document:
    """A cleaned document whose paragraphs are ``texts`` joined by newlines (ids p1, p2, …)."""
    paragraphs, start = [], 0
    for i, text in enumerate(texts):
        paragraphs.append(
            Paragraph(id=f"p{i + 1}", index=i, start=start, end=start + len(text), text=text,
                      is_heading=i in headings)
        )  # fmt: skip
        start += len(text) + 1
    full = "\n".join(texts)
    cleaning = CleaningReport(encoding="utf-8", chars_raw=len(full), chars_clean=len(full))
    return Document(
        id="doc1", source_name="test.txt", raw_sha256="0" * 64, script="simplified", text=full,
        meta=DocumentMeta(), cleaning=cleaning, paragraphs=paragraphs,
    )  # fmt: skip


def split_paragraph_doc() -> tuple[Document, list[Chunk]]:
    """A heading and a paragraph too long for one 120-token chunk, and its chunks."""
    long = "".join(f"第{n}项任务是建设一批新型基础设施和公共服务设施。" for n in range(1, 13))
    doc = make_doc(["二、重点任务", long], headings=[0])
    return doc, chunk_document(doc.text, doc.paragraphs, budget=120)


def split_paragraph_english(zh: str) -> str:
    """A plausible English for a piece of ``split_paragraph_doc``'s long paragraph."""
    return " ".join(
        f"Task {n} is to build a batch of new infrastructure and public service facilities."
        for n in re.findall(r"第(\d+)项", zh)
    )


def chunks_by(doc: Document, groups: Sequence[Sequence[int]]) -> list[Chunk]:
    """Chunks made of whole paragraphs, ``groups`` of 0-based paragraph indexes."""
    chunks = []
    for n, group in enumerate(groups):
        paras = [doc.paragraphs[i] for i in group]
        start, end = paras[0].start, min(paras[-1].end + 1, len(doc.text))
        text = doc.text[start:end]
        chunks.append(
            Chunk(id=f"c{n}", index=n, start=start, end=end, text=text,
                  tokens=count_tokens(text), paragraph_ids=[p.id for p in paras])
        )  # fmt: skip
    return chunks


# --- OpenAI-shaped payloads ------------------------------------------------------------------


def answer(pairs: dict[str, str]) -> str:
    """The model's JSON answer for ``{id: english}``."""
    items = [{"id": k, "en": v} for k, v in pairs.items()]
    return json.dumps({"paragraphs": items}, ensure_ascii=False)


def reply(pairs: dict[str, str]) -> httpx.Response:
    return httpx.Response(200, json=chat_body(answer(pairs)))


def refusal() -> httpx.Response:
    return httpx.Response(
        200, json=chat_body(None, refusal="I'm sorry, but I can't help with that request.")
    )


_P_LINE = re.compile(r'<p id="([^"]+)">(.*?)</p>')


def request_body(call: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(call.request.content)
    return body


def user_message(call: Any) -> str:
    """The user message of a chat request (the one with the document)."""
    message: str = request_body(call)["messages"][-1]["content"]
    if "Translate every paragraph" not in message:  # a re-ask: the document is earlier
        message = request_body(call)["messages"][1]["content"]
    return message


def document_ids(call: Any) -> list[str]:
    """The paragraph ids inside the request's <document> block."""
    text = user_message(call)
    document = text[text.index("<document") :]
    return [m[1] for m in _P_LINE.finditer(document)]


def by_document(table: dict[str, str]) -> Callable[[httpx.Request], httpx.Response]:
    """A respx side effect answering each <p id> of the request from ``table`` (id → en)."""

    def respond(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        user = body["messages"][1]["content"]
        document = user[user.index("<document") :]
        return reply({m[1]: table[m[1]] for m in _P_LINE.finditer(document)})

    return respond


# --- gateway and context ----------------------------------------------------------------------


class Sleeps:
    async def __call__(self, delay: float) -> None:
        return None


def make_gateway(settings: Settings) -> Gateway:
    return Gateway(
        settings,
        Store(settings.db_url),
        http_client=httpx.AsyncClient(),
        catalog=CATALOG,
        sleep=Sleeps(),
    )


def make_ctx(settings: Settings, glossary: Glossary | None = GLOSSARY) -> TaskContext:
    return TaskContext(gateway=make_gateway(settings), glossary=glossary, endpoint=BASE)


def use_remote(monkeypatch: pytest.MonkeyPatch, model: str = "gpt-4o-mini") -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", BASE)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("READER_MODEL", model)
