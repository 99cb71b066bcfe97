"""Fixtures for the summary tests: a respx-backed gateway and OpenAI-shaped response builders."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import httpx

from service.config import Settings
from service.ingest import ingest_bytes, ingest_path
from service.llm.gateway import Gateway
from service.models import Document
from service.store import Store
from service.tasks.registry import CATALOG
from service.tokens import count_tokens
from tests.payloads import chat_body

BASE = "https://api.test/v1"
CHAT_URL = f"{BASE}/chat/completions"
LOCAL_BASE = "http://127.0.0.1:8931/v1"
CORPUS = Path(__file__).resolve().parent.parent / "corpus"

SHORT_DOC = (
    "深圳市推进先行示范区建设领导小组会议召开\n"
    "2月20日，深圳市推进中国特色社会主义先行示范区建设领导小组会议召开。"
    "市委书记王伟中主持会议，市长陈如桂出席会议。\n"
    "会议审议通过了深圳市推进粤港澳大湾区建设2021年工作要点和深圳光明科学城总体发展规划。\n"
    "会议强调，要确保“十四五”开好局、起好步，全年新建学校30所，新增学位5万个。\n"
)

GOOD_SUMMARY: dict[str, Any] = {
    "headline": "Shenzhen leading group approves 2021 Greater Bay Area work plan",
    "abstract": (
        "Party Secretary Wang Weizhong chaired a meeting of Shenzhen's leading group for the "
        "Pilot Demonstration Zone on February 20. The meeting approved the city's 2021 Greater "
        "Bay Area work plan and the master plan for Guangming Science City. It set targets of "
        "30 new schools and 50,000 new school places for the year."
    ),
    "key_points": [
        "The 2021 Greater Bay Area work plan was approved",
        "The Guangming Science City master plan was approved",
        "30 new schools and 50,000 new school places are planned",
        "The city must make a good start to the 14th Five-Year Plan",
    ],
    "body": "Shenzhen Leading Group for the Pilot Demonstration Zone",
    "date": "2021-02-20",
    "place": "Shenzhen",
    "people": [
        {"name_zh": "王伟中", "name_en": "Wang Weizhong", "role": "Party Secretary of Shenzhen"},
        {"name_zh": "陈如桂", "name_en": "Chen Rugui", "role": "Mayor of Shenzhen"},
    ],
}


def ok(payload: dict[str, Any] | str) -> httpx.Response:
    content = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return httpx.Response(200, json=chat_body(content))


def refused() -> httpx.Response:
    return httpx.Response(200, json=chat_body(None, refusal="I'm sorry, I can't help with that."))


async def instant(delay: float) -> None:
    """Retry sleeps take no time in tests."""


def make_gateway(
    settings: Settings, *, context_window: int | None = None, base_url: str | None = None
) -> Gateway:
    gw = Gateway(
        settings,
        Store(settings.db_url),
        http_client=httpx.AsyncClient(),
        catalog=CATALOG,
        sleep=instant,
        base_url=base_url,
    )
    if context_window is not None:
        gw.profile = dataclasses.replace(gw.profile, context_window=context_window)
    return gw


def short_document(settings: Settings, text: str = SHORT_DOC) -> Document:
    doc = ingest_bytes(text.encode(), "meeting.txt", settings=settings)
    meta = doc.meta.model_copy(update={"date": dt.date(2021, 2, 20), "outlet": "Shenzhen Daily"})
    return doc.model_copy(update={"meta": meta})


def work_report(settings: Settings) -> Document:
    """The 2020 Shenzhen work report (second half): about 11,000 cl100k tokens."""
    return ingest_path(CORPUS / "004_953b2ed70a6ae6aa.txt", settings=settings)


def request_json(request: httpx.Request) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(request.content)
    return body


def request_tokens(body: dict[str, Any]) -> int:
    """What a request can occupy in the context: its prompt plus its output allowance."""
    if "messages" in body:
        text = "".join(m["content"] for m in body["messages"])
        framing = 4 * len(body["messages"]) + 3
    else:
        text, framing = body["prompt"], 0
    return count_tokens(text) + framing + int(body["max_tokens"])


def system_text(body: dict[str, Any]) -> str:
    return str(body["messages"][0]["content"])


def user_text(body: dict[str, Any]) -> str:
    return str(body["messages"][-1]["content"])
