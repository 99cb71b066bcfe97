"""Batch-run test helpers: short documents, and a capable chat model behind respx.

``CorpusModel`` answers the three tasks as a good instruction model would (it reads the task
from the system prompt's opening and the paragraph ids or clauses from the <document> block),
counts every request by its body, and can be told to drop the connection after N answers or
to refuse a request containing some text.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.config import Settings, get_settings
from tests.extract_fixtures import record
from tests.payloads import chat_body

BASE = "https://api.test/v1"
CHAT = f"{BASE}/chat/completions"

DOCS = {
    "a.txt": (
        "深圳市召开推进粤港澳大湾区建设工作会议\n\n"
        "2月20日，深圳市推进粤港澳大湾区建设领导小组会议召开。市委书记王伟中主持会议。\n\n"
        "会议强调，要坚持高质量发展，优化营商环境，2021年底前新建学校30所，新增学位5万个。\n\n"
        "会议要求，各区各部门要抓好落实，确保各项任务按期完成。\n"
    ),
    "b.txt": (
        "市政府常务会议研究部署民生工作\n\n"
        "3月1日，市长主持召开市政府常务会议，研究部署2023年重点工作。\n\n"
        "会议审议通过了10项民生实事，要求到2023年6月底前完成老旧小区改造100个。\n"
    ),
    "c.txt": (
        "区政府推进营商环境改革\n\n"
        "会议指出，要加快先行示范区建设，推动经济持续健康发展。\n\n"
        "会议要求，年内新增市场主体2万户，持续优化营商环境。\n"
    ),
}

SUMMARY = {
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
DOCUMENT = re.compile(r"<document[^>]*>\n(.*?)\n</document>", re.S)
PARA_ID = re.compile(r'<p id="([^"]+)"')
CLAUSE = re.compile(r"[^。，\n>]*要[^。\n<]*。")


def write_docs(folder: Path, names: tuple[str, ...] = ("a.txt", "b.txt", "c.txt")) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text(DOCS[name], encoding="utf-8")
    return folder


def body_key(body: dict[str, Any]) -> str:
    """A request's identity: its canonical JSON, hashed."""
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass
class CorpusModel:
    fail_after: int | None = None  # answer this many requests, then refuse connections
    refuse_when: str | None = None  # a refusal for requests whose document contains this
    seen: Counter[str] = field(default_factory=Counter)  # request key -> times received
    answered: list[str] = field(default_factory=list)  # keys answered with 200
    tasks: Counter[str] = field(default_factory=Counter)

    def handle(self, request: httpx.Request) -> httpx.Response:
        body: dict[str, Any] = json.loads(request.content)
        key = body_key(body)
        self.seen[key] += 1
        if self.fail_after is not None and len(self.answered) >= self.fail_after:
            raise httpx.ConnectError("connection refused", request=request)
        system, user = body["messages"][0]["content"], body["messages"][-1]["content"]
        task, document = task_of(system), _document(user)
        self.tasks[task] += 1
        self.answered.append(key)
        if self.refuse_when is not None and self.refuse_when in document:
            return httpx.Response(200, json=chat_body(None, refusal="I can't help with that."))
        return httpx.Response(200, json=chat_body(answer(task, document)))

    def reset(self) -> None:
        self.seen.clear()
        self.answered.clear()
        self.tasks.clear()


def task_of(system: str) -> str:
    openings = {
        "You translate": "translate",
        "You summarise": "summary",
        "You extract commitments": "commitments",
        "You check a Chinese policy document": "commitments_recall",
    }
    for opening, task in openings.items():
        if system.startswith(opening):
            return task
    raise AssertionError(f"unexpected request: {system[:80]!r}")


def _document(user: str) -> str:
    m = DOCUMENT.search(user)
    assert m is not None, "every request carries its document between delimiters"
    return m.group(1)


def answer(task: str, document: str) -> str:
    if task == "translate":
        items = [
            {"id": pid, "en": f"Paragraph {pid} in English."} for pid in PARA_ID.findall(document)
        ]
        return json.dumps({"paragraphs": items})
    if task == "summary":
        return json.dumps(SUMMARY)
    if task == "commitments":
        return json.dumps({"commitments": [record(q) for q in CLAUSE.findall(document)[:1]]})
    return json.dumps({"commitments": []})


@pytest.fixture
def chat_settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A remote gpt-4o-mini endpoint, small chunks (several per document), no retries."""
    monkeypatch.setenv("OPENAI_BASE_URL", BASE)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("READER_MODEL", "gpt-4o-mini")
    monkeypatch.setenv("READER_CHUNK_TOKENS", "40")
    monkeypatch.setenv("READER_MAX_RETRIES", "0")
    get_settings.cache_clear()
    return get_settings()
