"""The job queue on a real PostgreSQL server (procrastinate): workers, recovery, one live job.

Skipped without READER_TEST_DATABASE_URL (``.ci/run`` exports it from ``.ci/postgres``). Each
test gets a database of its own, dropped afterwards.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import respx

from tests.databases import NO_SERVER, server_url

if server_url() is None:
    pytest.skip(NO_SERVER, allow_module_level=True)
psycopg = pytest.importorskip("psycopg", reason="the postgres extra is not installed")
pytest.importorskip("procrastinate", reason="the postgres extra is not installed")

from service.config import Settings  # noqa: E402
from service.errors import Conflict  # noqa: E402
from service.queue.db import QUEUE, conninfo, ensure_schema, make_app, make_pool  # noqa: E402
from service.queue.jobs import JobQueue  # noqa: E402
from service.queue.slots import KeyLocks, SharedSlots  # noqa: E402
from service.queue.worker import RUN_OPTIONS, Worker  # noqa: E402
from service.reader import Reader  # noqa: E402
from service.run.corpus import RunOptions, RunPlan, TaskOutcome, run_batch  # noqa: E402
from service.tasks.context import ProgressEvent  # noqa: E402
from tests.fakes import Configure, CorpusModel, add_text, api_client, open_reader  # noqa: E402
from tests.samples import SHORT_DOC, write_docs  # noqa: E402


@pytest.fixture
def database_url(pg_empty_url: str) -> str:
    """A fresh database on the test server, dropped after the test (conftest's)."""
    return pg_empty_url


@pytest.fixture
def pg_settings(run_settings: Settings, configure: Configure, database_url: str) -> Settings:
    return configure(DATABASE_URL=database_url)


@pytest.fixture
def model(endpoint: respx.MockRouter) -> CorpusModel:
    corpus = CorpusModel()
    endpoint.post("/chat/completions").mock(side_effect=corpus.handle)
    return corpus


@pytest.fixture
async def reader(pg_settings: Settings, endpoint: respx.MockRouter) -> AsyncIterator[Reader]:
    async with open_reader(pg_settings) as opened:
        yield opened


async def drain(reader: Reader, url: str) -> Worker:
    """A worker that takes every job queued now, runs them, and stops."""
    app = make_app(url)
    worker = Worker(reader)
    worker.register(app)
    async with app.open_async():
        await app.run_worker_async(
            queues=[QUEUE], wait=False, install_signal_handlers=False, **RUN_OPTIONS
        )
    return worker


def paid_twice(model: CorpusModel) -> list[str]:
    return [key for key, n in Counter(model.answered).items() if n > 1]


async def test_a_job_is_done_by_a_worker_and_waited_for_from_another_api_process(
    pg_settings: Settings, reader: Reader, model: CorpusModel
) -> None:
    url = pg_settings.db_url
    async with (
        open_reader(pg_settings) as other_reader,
        api_client(pg_settings, reader) as api_a,
        api_client(pg_settings, other_reader) as api_b,
    ):
        doc_id = (await add_text(api_a, SHORT_DOC))["id"]
        started = (await api_a.post(f"/v1/documents/{doc_id}/summary")).json()
        assert started["status"] == "queued"
        # B joins A's job: the same artifact has one live job across API processes.
        joined = await api_b.post(f"/v1/documents/{doc_id}/summary")
        assert joined.status_code == 202 and joined.json()["id"] == started["id"]
        waiting = asyncio.create_task(api_b.post(f"/v1/documents/{doc_id}/summary?wait=20"))
        await drain(other_reader, url)
        answered = await waiting
        assert answered.status_code == 200, answered.text
        assert answered.json()["summary"]["headline"]
        job = (await api_a.get(f"/v1/jobs/{started['id']}")).json()
        assert job["status"] == "done" and job["progress"]["attempt"] == 1
        listed = (await api_b.get("/v1/jobs?status=done")).json()
        assert [j["id"] for j in listed] == [started["id"]]
    assert paid_twice(model) == []
    async with make_pool(url, 1) as pool, pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) FROM procrastinate_jobs")
        assert (await cur.fetchone()) == (0,)  # succeeded: deleted, the jobs table keeps it


async def test_submits_racing_from_two_processes_make_one_job(
    pg_settings: Settings, reader: Reader, model: CorpusModel
) -> None:
    doc_id = await _add(reader)
    url = pg_settings.db_url
    async with (
        open_reader(pg_settings) as other,
        JobQueue.open(reader, url) as qa,
        JobQueue.open(other, url) as qb,
    ):
        submits = [q.submit(doc_id, "translation", versions={}, force=False) for q in (qa, qb) * 4]
        ids = {job_id for job_id, _ in await asyncio.gather(*submits)}
        assert len(ids) == 1
        with pytest.raises(Conflict):
            await qa.submit(doc_id, "translation", versions={}, force=True)
        async with make_pool(url, 1) as pool, pool.connection() as conn:
            cur = await conn.execute("SELECT count(*) FROM procrastinate_jobs")
            assert (await cur.fetchone()) == (1,)


async def _add(reader: Reader) -> str:
    async with api_client(reader.library.settings, reader) as api:
        return str((await add_text(api, SHORT_DOC))["id"])


async def test_a_job_whose_worker_died_is_retried_and_resumes_from_the_call_cache(
    pg_settings: Settings, reader: Reader, endpoint: respx.MockRouter
) -> None:
    corpus, hang = CorpusModel(), asyncio.Event()

    async def answer_two_then_hang(request: httpx.Request) -> httpx.Response:
        if len(corpus.answered) >= 2:
            await hang.wait()  # the worker dies while waiting for this answer
        return corpus.handle(request)

    endpoint.post("/chat/completions").mock(side_effect=answer_two_then_hang)
    url = pg_settings.db_url
    doc_id = await _add(reader)
    async with JobQueue.open(reader, url) as queue:
        job_id, _ = await queue.submit(doc_id, "translation", versions={}, force=False)
        app = queue.app
        manager = app.job_manager
        dead = await manager.register_worker()
        job = await manager.fetch_job(queues=[QUEUE], worker_id=dead)
        assert job is not None and job.task_kwargs["job_id"] == job_id
        # The dead worker's computation: two chunks answered and cached, then it is gone.
        dying = asyncio.create_task(Worker(reader).compute(**job.task_kwargs))  # type: ignore[arg-type]
        while len(corpus.answered) < 2 or queue.store.get_job(job_id).progress["done"] < 2:
            await asyncio.sleep(0.02)
        dying.cancel()
        await asyncio.gather(dying, return_exceptions=True)
        assert queue.store.get_job(job_id).status == "running"
        async with make_pool(url, 1) as pool, pool.connection() as conn:
            await conn.execute(
                "UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour'"
            )
        await Worker(reader).recover(app)
        (again,) = await manager.list_jobs_async(id=job.id)
        assert again.status == "todo" and again.attempts == 1
    hang.set()
    async with open_reader(pg_settings) as fresh:  # another worker: nothing in memory
        await drain(fresh, url)
        row = fresh.library.store.get_job(job_id)
        assert row.status == "done" and row.progress["attempt"] == 2
        # Six chunks, six answers: the dead worker's two came from the call cache.
        assert len(corpus.answered) == row.progress["total"] == 6
        artifact = fresh.stored(doc_id, "translation")
        assert artifact is not None and artifact.status == "ok"
    assert paid_twice(corpus) == []


async def test_cancel_ends_a_queued_job_failed_with_the_reason_and_retry_queues_it_again(
    pg_settings: Settings, reader: Reader, model: CorpusModel
) -> None:
    url = pg_settings.db_url
    doc_id = await _add(reader)
    async with api_client(pg_settings, reader) as api:
        job = (await api.post(f"/v1/documents/{doc_id}/commitments")).json()
        cancelled = await api.post(f"/v1/jobs/{job['id']}/cancel")
        assert cancelled.status_code == 200
        body = cancelled.json()
        assert body["status"] == "failed" and body["error"]["code"] == "cancelled"
        assert (await api.post(f"/v1/jobs/{job['id']}/cancel")).status_code == 409
        await drain(reader, url)  # the cancelled job is not run
        assert model.answered == []
        async with JobQueue.open(reader, url) as queue:
            new_id, created = await queue.retry(job["id"])
        assert created and new_id != job["id"]
        await drain(reader, url)
        assert (await api.get(f"/v1/jobs/{new_id}")).json()["status"] == "done"


async def test_shared_slots_hold_the_limit_across_processes(database_url: str) -> None:
    app = make_app(database_url)
    await ensure_schema(app, database_url)
    await ensure_schema(app, database_url)  # a second start finds the schema
    inside, most = 0, 0

    async def call(slots: SharedSlots) -> None:
        nonlocal inside, most
        async with slots.hold():
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.02)
            inside -= 1

    async with make_pool(database_url, 4) as a, make_pool(database_url, 4) as b:
        # Two pools stand for two worker processes (separate sessions, separate locks).
        first, second = SharedSlots(a, 2), SharedSlots(b, 2)
        await asyncio.gather(*(call(s) for s in (first, second) * 6))
    assert most == 2


async def test_two_workers_making_the_same_call_pay_for_it_once(
    pg_settings: Settings, endpoint: respx.MockRouter
) -> None:
    corpus = CorpusModel()

    async def slowly(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.05)  # long enough for the other worker to ask the same
        return corpus.handle(request)

    endpoint.post("/chat/completions").mock(side_effect=slowly)
    url = conninfo(pg_settings.db_url)
    async with open_reader(pg_settings) as a, open_reader(pg_settings) as b:
        doc_id = await _add(a)
        async with (
            await psycopg.AsyncConnection.connect(url, autocommit=True) as conn_a,
            await psycopg.AsyncConnection.connect(url, autocommit=True) as conn_b,
        ):
            a.gateway.key_lock = KeyLocks(conn_a).hold
            b.gateway.key_lock = KeyLocks(conn_b).hold
            # Two processes' readers (separate in-flight tables) compute the same artifact.
            await asyncio.gather(a.compute(doc_id, "translation"), b.compute(doc_id, "translation"))
    assert paid_twice(corpus) == [] and len(corpus.answered) == 6


class Progress:
    """An Observer keeping the progress events and outcomes a run reports."""

    def __init__(self) -> None:
        self.events: list[ProgressEvent] = []
        self.outcomes: list[TaskOutcome] = []

    def planned(self, plan: RunPlan) -> None:
        pass

    def chunk(self, event: ProgressEvent) -> None:
        self.events.append(event)

    def finished(self, outcome: TaskOutcome) -> None:
        self.outcomes.append(outcome)


async def test_run_enqueue_is_computed_by_the_workers_with_progress_from_the_database(
    pg_settings: Settings, reader: Reader, model: CorpusModel, tmp_path: Path
) -> None:
    url = pg_settings.db_url
    app = make_app(url)
    Worker(reader).register(app)
    await ensure_schema(app, url)
    seen = Progress()
    async with app.open_async():
        working = asyncio.create_task(
            app.run_worker_async(
                queues=[QUEUE], install_signal_handlers=False, fetch_job_polling_interval=0.2
            )
        )
        try:
            options = RunOptions(("translation",), enqueue=True)
            report = await run_batch(
                pg_settings, [write_docs(tmp_path / "docs")], tmp_path / "site", options, seen
            )
        finally:
            working.cancel()
            await asyncio.gather(working, return_exceptions=True)
    assert report.exit_code == 0 and {o.status for o in report.outcomes} == {"ok"}
    jobs = reader.library.store.list_jobs()
    assert len(jobs) == len(report.outcomes) and {j.status for j in jobs} == {"done"}
    assert seen.events and all(e.total > 0 for e in seen.events)  # read from the jobs' rows
    assert paid_twice(model) == []
