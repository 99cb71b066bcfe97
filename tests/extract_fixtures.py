"""Fixtures for the commitments task: a scripted OpenAI endpoint (respx), documents, answers."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import respx

from service.config import ROOT, Settings, get_settings
from service.llm.gateway import Gateway
from service.models import Chunk, CleaningReport, Document, DocumentMeta, Paragraph
from service.store import Store
from service.tasks.commitments.extract import RECALL_TASK, TASK
from service.tasks.context import TaskContext
from service.tasks.registry import CATALOG
from tests.payloads import chat_body, completion_body

BASE = "https://api.test/v1"
# How each prompt's request starts: tells the scripted endpoint which task is asking.
OPENINGS = {
    "You extract commitments": TASK,
    "You check a Chinese policy document": RECALL_TASK,
    "Copy each future pledge": TASK,
    "Keep only the flagged clauses": RECALL_TASK,
    "You write one plain English sentence": TASK,  # v2.chat, the rules_en strategy
}


def record(quote: str, **fields: Any) -> dict[str, Any]:
    """One ExtractedCommitment as a capable model writes it; override any field."""
    base: dict[str, Any] = {
        "quote_zh": quote,
        "actor_zh": None,
        "actor_en": None,
        "action_zh": quote,
        "action_en": "carry out the pledge",
        "targets": [],
        "deadline_text": None,
        "deadline_start": None,
        "deadline_end": None,
        "deadline_precision": "none",
        "sector": "other",
        "modality": "binding",
        "trigger": None,
        "milestone": None,
        "gloss_en": "The pledge in English.",
    }
    return {**base, **fields}


PLEDGES = (
    "会议审议通过了深圳市2021年工作要点。\n"
    "会议强调，要增强“四个意识”。力争年底前开工建设自由电子激光科学装置。\n"
    "确保新增基础教育学位21万个。"
)
LASER = "力争年底前开工建设自由电子激光科学装置"
SCHOOLS = "确保新增基础教育学位21万个"
LASER_RECORD = record(
    LASER,
    action_zh="开工建设自由电子激光科学装置",
    action_en="start building the free-electron laser facility",
    deadline_text="年底前",
    deadline_end="2021-12-31",
    deadline_precision="year",
    sector="science_technology",
    modality="aspirational",
    trigger="力争",
    milestone="start_construction",
    gloss_en="Strive to start building the free-electron laser facility by year end.",
)
SCHOOLS_RECORD = record(
    SCHOOLS,
    action_zh="新增基础教育学位",
    action_en="add basic-education school places",
    targets=[{"text": "21万个", "value": 210000, "unit": "个", "kind": "count"}],
    sector="education",
    trigger="确保",
    gloss_en="Ensure 210,000 new basic-education school places.",
)


def answer(*records: dict[str, Any]) -> str:
    return json.dumps({"commitments": list(records)}, ensure_ascii=False)


Reply = str | httpx.Response  # model text, or a whole HTTP response (refusal, 500)


@dataclass
class ScriptedModel:
    """The endpoint: per task, a queue of replies; every request is kept for inspection."""

    replies: dict[str, list[tuple[str, Reply]]] = field(default_factory=dict)
    requests: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def script(self, task: str, *replies: Reply, when: str = "") -> None:
        """Queue replies for ``task``; with ``when``, only for requests containing that text
        (chunks run concurrently, so their requests arrive in any order)."""
        self.replies.setdefault(task, []).extend((when, r) for r in replies)

    def handle(self, request: httpx.Request) -> httpx.Response:
        body: dict[str, Any] = json.loads(request.content)
        task = self.task_of(body)
        self.requests.setdefault(task, []).append(body)
        queue = self.replies.get(task, [])
        sent = json.dumps(body, ensure_ascii=False)
        match = next((i for i, (when, _) in enumerate(queue) if when in sent), None)
        if match is None:
            raise AssertionError(f"unexpected {task} request: {sent[:300]}")
        reply = queue.pop(match)[1]
        if isinstance(reply, httpx.Response):
            return reply
        if "prompt" in body:
            return httpx.Response(200, json=completion_body(reply))
        return httpx.Response(200, json=chat_body(reply))

    @staticmethod
    def task_of(body: dict[str, Any]) -> str:
        opening = body["prompt"] if "prompt" in body else body["messages"][0]["content"]
        for start, task in OPENINGS.items():
            if opening.startswith(start):
                return task
        raise AssertionError(f"request from an unknown prompt: {opening[:80]!r}")

    def calls(self, task: str) -> int:
        return len(self.requests.get(task, []))


async def _no_sleep(_: float) -> None:
    return None


@pytest.fixture
def chat_settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("OPENAI_BASE_URL", BASE)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("READER_MODEL", "gpt-4o-mini")
    monkeypatch.setenv("READER_MAX_RETRIES", "1")
    get_settings.cache_clear()
    assert get_settings().prompts_dir == ROOT / "prompts"
    return get_settings()


@pytest.fixture
async def model(chat_settings: Settings) -> AsyncIterator[ScriptedModel]:
    scripted = ScriptedModel()
    with respx.mock(assert_all_called=False) as router:
        router.post(f"{BASE}/chat/completions").mock(side_effect=scripted.handle)
        router.post(f"{BASE}/completions").mock(side_effect=scripted.handle)
        yield scripted


@pytest.fixture
async def ctx(chat_settings: Settings, model: ScriptedModel) -> AsyncIterator[TaskContext]:
    gateway = Gateway(
        chat_settings,
        Store(chat_settings.db_url),
        http_client=httpx.AsyncClient(),
        catalog=CATALOG,
        sleep=_no_sleep,
    )
    yield TaskContext(gateway=gateway, endpoint=BASE)
    await gateway.aclose()


def make_document(text: str, *, date: str | None = "2021-02-20") -> Document:
    """A cleaned document with one paragraph per line (offsets into ``text``)."""
    paragraphs, pos = [], 0
    for i, line in enumerate(text.split("\n")):
        paragraphs.append(
            Paragraph(id=f"p{i + 1}", index=i, start=pos, end=pos + len(line), text=line)
        )
        pos += len(line) + 1
    meta = DocumentMeta.model_validate({"date": date}) if date else DocumentMeta()
    digest = hashlib.sha256(text.encode()).hexdigest()
    return Document(
        id=digest[:16],
        source_name="test.txt",
        raw_sha256=digest,
        script="simplified",
        text=text,
        meta=meta,
        cleaning=CleaningReport(encoding="utf-8", chars_raw=len(text), chars_clean=len(text)),
        paragraphs=paragraphs,
    )


def chunks_by_paragraphs(doc: Document, groups: list[list[int]]) -> list[Chunk]:
    """Chunks made of the given paragraph indexes (consecutive), in order."""
    chunks = []
    for n, group in enumerate(groups):
        paras = [doc.paragraphs[i] for i in group]
        start, end = paras[0].start, paras[-1].end
        chunks.append(
            Chunk(
                id=f"c{n}",
                index=n,
                start=start,
                end=end,
                text=doc.text[start:end],
                tokens=end - start,
                paragraph_ids=[p.id for p in paras],
            )
        )
    return chunks
