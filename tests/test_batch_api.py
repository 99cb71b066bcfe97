"""Batch API prefill over respx: JSONL uploads, rounds, cache fill, failed lines, expiry."""

from __future__ import annotations

import itertools
import json
import re
import shutil
from collections.abc import Callable
from email.parser import BytesParser
from email.policy import default as email_policy
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from pydantic import BaseModel

from service.artifacts import KINDS, ArtifactKind, TranslationArtifact
from service.config import ROOT, Settings
from service.errors import BatchIncomplete, ConfigError, Deferred
from service.llm.batch_api import parse_result_line
from service.llm.gateway import PendingCall
from service.models import Document
from service.reader import Reader
from service.run.prefill import PrefillReport, collect, prefill
from service.store import CallRecord
from tests import fakes
from tests.fakes import BASE, CHAT, Configure, open_reader

DOC_A = (
    "深圳市召开全市高质量发展大会，部署今年重点工作。\n"
    "会议要求，二〇二四年全市地区生产总值增长百分之五以上，新增就业十五万人。\n"
)
DOC_B = (
    "南山区发布优化营商环境改革方案，推出二十项措施。\n"
    "方案提出，年内建成三个产业园区，新增企业登记一万户。\n"
)
ENGLISH = {
    "深圳市召开全市高质量发展大会": "Shenzhen held a city-wide high-quality development meeting.",
    "会议要求": "The meeting called for GDP growth of over 5 percent in 2024.",
    "南山区发布": "Nanshan District issued a plan to improve the business environment.",
    "方案提出": "The plan calls for three industrial parks within the year.",
}
DOCUMENT_BLOCK = re.compile(r'<document id="[0-9a-f]+">\n(.*?)\n</document>', re.DOTALL)
PARAGRAPH = re.compile(r'<p id="([^"]+)">(.*?)</p>')


# --- OpenAI-shaped payloads ------------------------------------------------------------------


def chat_body(content: str) -> dict[str, Any]:
    """A chat.completion with the usage this file's cost arithmetic expects."""
    return fakes.chat_body(content, prompt_tokens=400, completion_tokens=40)


def document_of(body: dict[str, Any]) -> str:
    """The <document> block of a translate request (not the <context> of the previous chunk)."""
    user = body["messages"][-1]["content"]
    block = DOCUMENT_BLOCK.search(user)
    assert block is not None, user
    return block[1]


def translation_of(body: dict[str, Any]) -> str:
    """The faithful answer to a translate request: every <p> of its <document>, in order."""
    items = [
        {"id": pid, "en": next(en for zh, en in ENGLISH.items() if text.startswith(zh))}
        for pid, text in PARAGRAPH.findall(document_of(body))
    ]
    return json.dumps({"paragraphs": items}, ensure_ascii=False)


def multipart(request: httpx.Request) -> dict[str, tuple[str | None, bytes]]:
    """Form fields of a multipart upload: name -> (filename, content)."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = BytesParser(policy=email_policy).parsebytes(head + request.read())
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        fields[str(name)] = (part.get_filename(), part.get_payload(decode=True))
    return fields


Answer = Callable[[dict[str, Any]], str | None]  # request body -> content, None = unanswered


class FakeBatchAPI:
    """POST /files, POST /batches, GET /batches/{id}, GET /files/{id}/content, stateful."""

    def __init__(
        self, router: respx.Router, answer: Answer = translation_of, final: str = "completed"
    ) -> None:
        self.answer, self.final = answer, final
        self.uploads: list[list[dict[str, Any]]] = []  # each upload's JSONL lines
        self.upload_fields: list[dict[str, tuple[str | None, bytes]]] = []
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.polls: dict[str, int] = {}
        self._ids = itertools.count(1)
        self.files_route = router.post(f"{BASE}/files").mock(side_effect=self._upload)
        self.create_route = router.post(f"{BASE}/batches").mock(side_effect=self._create)
        router.get(url__regex=rf"{BASE}/batches/(?P<bid>batch_\w+)$").mock(
            side_effect=self._retrieve
        )
        router.get(url__regex=rf"{BASE}/files/(?P<fid>file-\w+)/content$").mock(
            side_effect=self._content
        )

    def _upload(self, request: httpx.Request) -> httpx.Response:
        fields = multipart(request)
        self.upload_fields.append(fields)
        _, data = fields["file"]
        self.uploads.append([json.loads(line) for line in data.decode().splitlines()])
        fid = self._store(data)
        return httpx.Response(200, json=_file_object(fid, fields["file"][0], len(data), "batch"))

    def _store(self, data: bytes) -> str:
        fid = f"file-{next(self._ids):04d}abc"
        self.files[fid] = data
        return fid

    def _create(self, request: httpx.Request) -> httpx.Response:
        params = json.loads(request.content)
        bid = f"batch_{next(self._ids):04d}xyz"
        lines = self.files[params["input_file_id"]].decode().splitlines()
        self.batches[bid] = {
            **_batch_object(bid, params, "validating"),
            "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
        }
        self.polls[bid] = 0
        return httpx.Response(200, json=self.batches[bid])

    def _retrieve(self, request: httpx.Request, bid: str) -> httpx.Response:
        self.polls[bid] += 1
        batch = self.batches[bid]
        if self.polls[bid] == 1:
            batch.update(status="in_progress", in_progress_at=1741570310)
        elif batch["status"] == "in_progress":
            self._finish(batch)
        return httpx.Response(200, json=batch)

    def _finish(self, batch: dict[str, Any]) -> None:
        data = self.files[batch["input_file_id"]].decode()
        requests = [json.loads(x) for x in data.splitlines()]
        done, failed = [], []
        for n, line in enumerate(requests):
            content = self.answer(line["body"])
            if content is None:
                failed.append(_expired_line(n, line["custom_id"]))
            else:
                done.append(_output_line(n, line["custom_id"], content))
        if done:
            batch["output_file_id"] = self._store(_jsonl(done))
        if failed:
            batch["error_file_id"] = self._store(_jsonl(failed))
        batch["status"] = self.final
        batch[f"{self.final}_at"] = 1741570400
        batch["request_counts"].update(completed=len(done), failed=len(failed))

    def _content(self, request: httpx.Request, fid: str) -> httpx.Response:
        return httpx.Response(200, content=self.files[fid])


def _file_object(fid: str, name: str | None, size: int, purpose: str) -> dict[str, Any]:
    return {
        "id": fid,
        "object": "file",
        "bytes": size,
        "created_at": 1741570295,
        "expires_at": None,
        "filename": name,
        "purpose": purpose,
        "status": "processed",
        "status_details": None,
    }


def _batch_object(bid: str, params: dict[str, Any], status: str) -> dict[str, Any]:
    return {
        "id": bid,
        "object": "batch",
        "endpoint": params["endpoint"],
        "model": "gpt-4o-mini-2024-07-18",
        "errors": None,
        "input_file_id": params["input_file_id"],
        "completion_window": params["completion_window"],
        "status": status,
        "output_file_id": None,
        "error_file_id": None,
        "created_at": 1741570300,
        "in_progress_at": None,
        "expires_at": 1741656700,
        "finalizing_at": None,
        "completed_at": None,
        "failed_at": None,
        "expired_at": None,
        "cancelling_at": None,
        "cancelled_at": None,
        "metadata": params.get("metadata"),
    }


def _output_line(n: int, custom_id: str, content: str) -> dict[str, Any]:
    response = {"status_code": 200, "request_id": f"req_{n:032x}", "body": chat_body(content)}
    return {
        "id": f"batch_req_{n:024x}",
        "custom_id": custom_id,
        "response": response,
        "error": None,
    }


def _expired_line(n: int, custom_id: str) -> dict[str, Any]:
    error = {
        "code": "batch_expired",
        "message": "This request could not be executed before the completion window expired.",
    }
    return {"id": f"batch_req_{n:024x}", "custom_id": custom_id, "response": None, "error": error}


def _jsonl(lines: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(x, ensure_ascii=False).encode() + b"\n" for x in lines)


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def remote(run_settings: Settings, configure: Configure, tmp_path: Path) -> Settings:
    """The corpus-run settings (2 chunks per test doc) with the translation prompt only."""
    prompts = tmp_path / "prompts"
    shutil.copytree(ROOT / "prompts" / "translate", prompts / "translate")
    shutil.copy(ROOT / "prompts" / "glossary.tsv", prompts / "glossary.tsv")
    return configure(READER_PROMPTS_DIR=str(prompts))


def add_docs(reader: Reader) -> list[Document]:
    texts = (DOC_A, DOC_B)
    return [reader.library.add_bytes(t.encode(), f"{n}.txt")[0] for n, t in enumerate(texts)]


async def run_prefill(reader: Reader, docs: list[Document], notes: list[str]) -> PrefillReport:
    return await prefill(reader, docs, ["translation"], poll_interval_s=0, progress=notes.append)


# --- tests -----------------------------------------------------------------------------------


async def test_two_rounds_fill_the_cache_and_the_run_then_calls_nothing(remote: Settings) -> None:
    notes: list[str] = []
    with respx.mock(assert_all_called=False) as router:
        api = FakeBatchAPI(router)
        direct = router.post(CHAT).mock(return_value=httpx.Response(500))
        async with open_reader(remote) as reader:
            docs = add_docs(reader)
            report = await run_prefill(reader, docs, notes)
            artifacts = [await reader.compute(d.id, "translation") for d in docs]
    assert (report.rounds, report.submitted, report.cached, report.failed) == (2, 4, 4, [])
    assert report.waiting == 0 and report.stopped is None and len(report.batches) == 2
    assert direct.call_count == 0
    for artifact in artifacts:
        assert isinstance(artifact, TranslationArtifact) and artifact.status == "ok"
        assert artifact.provenance.calls == 0 and artifact.provenance.cache_hits == 2
    assert artifacts[0].paragraphs[1].en == ENGLISH["会议要求"]
    # Each round is one upload of one line per document, shaped as the Batch API wants.
    assert [len(u) for u in api.uploads] == [2, 2]
    assert api.upload_fields[0]["purpose"] == (None, b"batch")
    for line in itertools.chain(*api.uploads):
        assert set(line) == {"custom_id", "method", "url", "body"}
        assert (line["method"], line["url"]) == ("POST", "/v1/chat/completions")
        assert re.fullmatch(r"[0-9a-f]{64}", line["custom_id"])
        body = line["body"]
        assert body["model"] == "gpt-4o-mini" and body["temperature"] == 0
        assert body["response_format"]["type"] == "json_schema"
        assert body["response_format"]["json_schema"]["strict"] is True
        assert [m["role"] for m in body["messages"]] == ["system", "user"]
    creates = [json.loads(c.request.content) for c in api.create_route.calls]
    assert all(c["endpoint"] == "/v1/chat/completions" for c in creates)
    assert all(c["completion_window"] == "24h" for c in creates)
    # Round 2 carries round 1's answers: chunk 2's prompt holds chunk 1's English.
    second = api.uploads[1][0]["body"]["messages"][1]["content"]
    assert ENGLISH["深圳市召开全市高质量发展大会"] in second or ENGLISH["南山区发布"] in second
    # Half price, and the ledger says "batch".
    assert report.tokens_in == 4 * 400 and report.tokens_out == 4 * 40
    assert report.cost_usd == pytest.approx(report.direct_cost_usd / 2)
    assert report.direct_cost_usd == pytest.approx((1600 * 0.15 + 160 * 0.60) / 1e6)
    usage = reader.gateway.store.cache_stats().by_prompt_model
    assert usage[0].cost_spent_usd == pytest.approx(report.cost_usd)
    assert any("in_progress" in n for n in notes) and "2 round(s)" in notes[-1]


async def test_a_second_prefill_finds_everything_cached_and_submits_nothing(
    remote: Settings,
) -> None:
    with respx.mock(assert_all_called=False) as router:
        api = FakeBatchAPI(router)
        async with open_reader(remote) as reader:
            docs = add_docs(reader)
            await run_prefill(reader, docs, [])
            again = await run_prefill(reader, docs, [])
    assert (again.rounds, again.submitted) == (0, 0)
    assert api.files_route.call_count == 2


async def test_invalid_json_is_not_cached_and_the_run_calls_the_model_for_it(
    remote: Settings,
) -> None:
    def answer(body: dict[str, Any]) -> str:
        return "{not json" if "南山区发布" in document_of(body) else translation_of(body)

    with respx.mock(assert_all_called=False) as router:
        FakeBatchAPI(router, answer)
        async with open_reader(remote) as reader:
            docs = add_docs(reader)
            report = await run_prefill(reader, docs, [])
            left = [f.key for f in report.failed if reader.gateway.store.get_cached(f.key) is None]
            direct = router.post(CHAT).mock(
                side_effect=lambda r: httpx.Response(
                    200, json=chat_body(translation_of(json.loads(r.content)))
                )
            )
            artifact = await reader.compute(docs[1].id, "translation")
    # Document B's first chunk failed, so its second chunk was never submitted.
    assert (report.rounds, report.submitted, report.cached) == (2, 3, 2)
    assert report.waiting == 1
    [failure] = report.failed
    assert failure.task == "translate" and "invalid output" in failure.reason
    assert left == [failure.key]  # not cached: the direct run below re-asks and caches it
    assert direct.call_count == 2 and artifact.status == "ok"


async def test_a_chunk_answered_with_the_wrong_ids_is_redone_by_paragraph_next_round(
    remote: Settings,
) -> None:
    """Wrong ids are not a failed request: the task asks that chunk's paragraphs one by one."""

    def answer(body: dict[str, Any]) -> str:
        good = translation_of(body)
        return good.replace('"p2"', '"p1"') if "会议要求" in document_of(body) else good

    with respx.mock(assert_all_called=False) as router:
        api = FakeBatchAPI(router, answer)
        async with open_reader(remote) as reader:
            report = await run_prefill(reader, add_docs(reader), [])
    assert not report.failed and report.rounds == 2
    [second] = api.uploads[1:]
    alone = [PARAGRAPH.findall(document_of(line["body"])) for line in second]
    assert alone and all(len(found) == 1 for found in alone)  # one paragraph per request


async def test_an_expired_batch_caches_what_it_answered_and_stops_clearly(
    remote: Settings,
) -> None:
    def answer(body: dict[str, Any]) -> str | None:
        return None if "南山区发布" in document_of(body) else translation_of(body)

    with respx.mock(assert_all_called=False) as router:
        api = FakeBatchAPI(router, answer, final="expired")
        async with open_reader(remote) as reader:
            docs = add_docs(reader)
            with pytest.raises(BatchIncomplete) as caught:
                await run_prefill(reader, docs, [])
            keys = [line["custom_id"] for line in api.uploads[0]]
            cached = [reader.gateway.store.get_cached(k) is not None for k in keys]
    message = caught.value.message
    assert "expired with 1 of 2 requests answered" in message
    assert "1 answer(s) were cached" in message
    assert sorted(cached) == [False, True] and len(api.uploads) == 1
    detail = caught.value.detail
    assert detail["failed"][0]["reason"].startswith("batch_expired:")


class Interrupted(Exception):
    """Stands for Ctrl-C while a batch runs."""


async def test_a_stopped_run_resumes_its_open_batch_instead_of_paying_twice(
    remote: Settings,
) -> None:
    def stop_when_running(note: str) -> None:
        if "in_progress" in note:
            raise Interrupted(note)

    with respx.mock(assert_all_called=False) as router:
        api = FakeBatchAPI(router)
        async with open_reader(remote) as reader:
            docs = add_docs(reader)
            with pytest.raises(Interrupted):
                await prefill(reader, docs, ["translation"], poll_interval_s=0,
                              progress=stop_when_running)  # fmt: skip
            open_records = sorted(p.name for p in (remote.cache_dir / "batch-api").iterdir())
            report = await run_prefill(reader, docs, [])
    first = next(iter(api.batches))
    assert open_records == [f"{first}.json"]
    assert (report.resumed, report.submitted, report.cached, report.rounds) == (2, 2, 4, 2)
    assert report.batches[0] == first and len(api.uploads) == 2
    assert not list((remote.cache_dir / "batch-api").iterdir())


async def test_an_endpoint_without_batch_api_is_a_config_error(remote: Settings) -> None:
    with respx.mock(assert_all_called=False) as router:
        not_found = {"error": {"message": "Not Found", "type": "invalid_request_error"}}
        router.post(f"{BASE}/files").mock(return_value=httpx.Response(404, json=not_found))
        async with open_reader(remote) as reader:
            with pytest.raises(ConfigError, match="no OpenAI Batch API"):
                await run_prefill(reader, add_docs(reader), [])


async def test_max_rounds_bounds_the_rounds_and_says_what_is_left(remote: Settings) -> None:
    with respx.mock(assert_all_called=False) as router:
        FakeBatchAPI(router)
        async with open_reader(remote) as reader:
            docs = add_docs(reader)
            report = await prefill(reader, docs, ["translation"], poll_interval_s=0, max_rounds=1)
    assert (report.rounds, report.cached, report.waiting) == (1, 2, 2)
    assert report.stopped == "max_rounds=1 reached, 2 calls left"


async def test_the_local_model_has_no_batch_api(settings: Settings) -> None:
    with respx.mock(assert_all_called=False) as router:
        files = router.post(url__regex=r".*/files$")
        async with open_reader(settings, "http://127.0.0.1:9/v1") as reader:
            assert reader.gateway.profile.name.startswith("local-")
            with pytest.raises(ConfigError, match="the embedded local model has none"):
                await prefill(reader, [], ["translation"])
    assert files.call_count == 0


# --- the gateway's collecting mode and the line parser ----------------------------------------


class Items(BaseModel):
    items: list[str]


async def test_collecting_gateway_defers_misses_without_http_and_serves_hits(
    remote: Settings,
) -> None:
    collected: list[PendingCall] = []
    with respx.mock(assert_all_called=False) as router:
        chat = router.post(CHAT).mock(return_value=httpx.Response(200, json=chat_body("{}")))
        async with open_reader(remote) as reader:
            gateway, doc = reader.gateway, add_docs(reader)[0]
            gateway.collector = collected.append
            with pytest.raises(Deferred):
                await reader.run_task(doc, "translation")
            assert chat.call_count == 0 and len(collected) == 1
            call = collected[0]
            record = CallRecord(
                cache_key=call.key, task=call.task, prompt_id=call.prompt_id,
                prompt_version=call.prompt_version, model=gateway.model, tokens_in=1, tokens_out=1,
            )  # fmt: skip
            gateway.store.put_cached(record, translation_of(call.body))
            with pytest.raises(Deferred):  # chunk 1 now a hit, chunk 2 deferred
                await reader.run_task(doc, "translation")
            ledger = gateway.store.cache_stats().calls
    assert chat.call_count == 0 and len(collected) == 2
    assert collected[1].key != call.key and ledger == 0  # replays are not ledger uses
    assert collected[1].body["response_format"]["json_schema"]["strict"] is True


async def test_every_task_lets_a_deferred_call_abort_its_run(run_settings: Settings) -> None:
    """Summary, translation and commitments all stop at their first miss, and nothing is sent."""
    with respx.mock(assert_all_called=True) as router:
        async with open_reader(run_settings) as reader:
            doc = add_docs(reader)[0]
            runs: list[tuple[Document, ArtifactKind]] = [(doc, k) for k in KINDS]
            calls, waiting = await collect(reader, runs, set())
            assert reader.gateway.collector is None
    assert waiting == runs and not router.calls
    tasks = {c.task for c in calls.values()}
    assert {"translate", "commitments"} <= tasks and tasks & {"summary", "summary_map"}


def test_result_lines_name_the_failure() -> None:
    ok = parse_result_line(json.dumps(_output_line(0, "k1", '{"items": []}')))
    assert ok.body is not None and ok.error is None
    expired = parse_result_line(json.dumps(_expired_line(1, "k2")))
    assert expired.body is None and expired.error and expired.error.startswith("batch_expired")
    rejected = {
        "id": "batch_req_1",
        "custom_id": "k3",
        "response": {
            "status_code": 400,
            "request_id": "req_1",
            "body": {"error": {"message": "Invalid 'max_tokens'", "type": "invalid_request_error",
                               "param": "max_tokens", "code": "invalid_value"}},
        },
        "error": None,
    }  # fmt: skip
    line = parse_result_line(json.dumps(rejected))
    assert line.error == "HTTP 400: invalid_value: Invalid 'max_tokens'"
