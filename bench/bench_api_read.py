"""Where a cached artifact read spends its time, in process: the request, cut at each step.

Run: PYTHONPATH=. python bench/bench_api_read.py [--requests 300] [--rounds 6]

The app is called through httpx's ASGI transport (no sockets, no server thread), one request
at a time, so the difference between ``GET /bench/bare`` and ``GET /v1/documents/{id}/summary``
is the route's own work. To split it, the benchmark app also has the read cut short, each cut
a route of its own (mounted only here): ``constant`` runs the API-key check and the reader
dependency and answers the stored summary's bytes as a constant; ``store`` also reads the
payload from the store (``Store.artifact_payload``) and still answers the constant; ``dbapi``
does the same SELECT on the pool's own DB-API connection instead (not what the store does: it
shows what SQLAlchemy's execution adds to the read). The
steps between them are what each part costs inside a request, where it runs among
FastAPI's work; the parts called alone in a loop (``store_read_alone``, ``json_body_alone``)
cost less, and are reported for comparison. Rounds alternate, in one process. Each is timed
in wall-clock and in CPU time of this thread (``time.thread_time``: the server and the client
run in it), which a busy machine inflates far less than the wall clock.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from fastapi import Depends, FastAPI, Response

from bench.bench_api import KEY, api_settings, bench_app, prepare
from bench.common import emit
from bench.fake_provider import BackgroundServer, Config
from service.api.deps import ReaderDep, require_api_key
from service.api.routes.artifacts import variant
from service.config import Settings
from service.reader import Reader

Timed = Callable[[], Awaitable[object]]
# Store.artifact_payload's statement, for the ``dbapi`` cut (SQLite's parameter style).
PAYLOAD_SQL = "SELECT payload FROM artifacts WHERE doc_id = ? AND kind = ? AND variant = ?"


def add_cuts(app: FastAPI, body: bytes) -> None:
    """The read cut short (see the module docstring), answering ``body``."""
    key = [Depends(require_api_key)]

    @app.get("/bench/read/{doc_id}/constant", dependencies=key, include_in_schema=False)
    async def constant(doc_id: str, reader: ReaderDep) -> Response:
        return Response(body, media_type="application/json")

    @app.get("/bench/read/{doc_id}/store", dependencies=key, include_in_schema=False)
    async def store(doc_id: str, reader: ReaderDep) -> Response:
        reader.library.store.artifact_payload(doc_id, "summary", variant(reader, "summary", {}))
        return Response(body, media_type="application/json")

    @app.get("/bench/read/{doc_id}/dbapi", dependencies=key, include_in_schema=False)
    async def dbapi(doc_id: str, reader: ReaderDep) -> Response:
        connection = reader.library.store.engine.raw_connection()
        try:
            params = (doc_id, "summary", variant(reader, "summary", {}))
            json.loads(connection.cursor().execute(PAYLOAD_SQL, params).fetchone()[0])
        finally:
            connection.close()
        return Response(body, media_type="application/json")


async def per_call(fn: Timed, n: int) -> tuple[float, float]:
    """Mean wall and CPU milliseconds per call of ``fn``, one at a time."""
    wall, cpu = time.perf_counter(), time.thread_time()
    for _ in range(n):
        await fn()
    return (time.perf_counter() - wall) / n * 1000, (time.thread_time() - cpu) / n * 1000


def parts(client: httpx.AsyncClient, reader: Reader, url: str) -> dict[str, Timed]:
    """The requests, and the read's parts called alone as the route calls them."""
    doc_id = url.split("/")[3]
    key = variant(reader, "summary", {})
    payload = reader.library.store.artifact_payload(doc_id, "summary", key)

    def get(path: str) -> Timed:
        async def request() -> object:
            response = await client.get(path)
            if response.status_code != 200:
                raise SystemExit(f"{path}: HTTP {response.status_code}")
            return response

        return request

    async def store_read() -> object:
        return reader.library.store.artifact_payload(doc_id, "summary", key)

    async def body() -> object:
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()

    return {
        "bare": get("/bench/bare"),
        "constant": get(f"/bench/read/{doc_id}/constant"),
        "store": get(f"/bench/read/{doc_id}/store"),
        "dbapi": get(f"/bench/read/{doc_id}/dbapi"),
        "cached": get(url),
        "store_read_alone": store_read,
        "json_body_alone": body,
    }


async def measure(settings: Settings, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    app = bench_app(settings)
    headers = {"Authorization": f"Bearer {KEY}"}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench", headers=headers
        ) as client,
    ):
        url = await prepare(client)
        add_cuts(app, (await client.get(url)).content)
        plan = parts(client, app.state.reader, url)
        for fn in plan.values():
            await per_call(fn, 50)  # warm-up
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in plan}
        for _ in range(args.rounds):
            for name, fn in plan.items():
                times[name].append(await per_call(fn, args.requests))
    return {
        name: {
            "wall_ms": statistics.median(w for w, _ in runs),
            "cpu_ms": statistics.median(c for _, c in runs),
        }
        for name, runs in times.items()
    }


def breakdown(ms: dict[str, dict[str, float]], clock: str) -> dict[str, float]:
    """The cached read's extra over the bare route, step by step."""
    at = {name: ms[name][clock] for name in ("bare", "constant", "store", "dbapi", "cached")}
    steps = {
        # The key check, the reader dependency, a path parameter, the larger body.
        "key_reader_and_body_ms": at["constant"] - at["bare"],
        "store_read_in_request_ms": at["store"] - at["constant"],
        # The query options, the variant key, the JSON body, the route under /v1.
        "rest_ms": at["cached"] - at["store"],
    }
    return {
        "cached_over_bare": round(at["cached"] / at["bare"], 2),
        "extra_ms": round(at["cached"] - at["bare"], 3),
        **{name: round(v, 3) for name, v in steps.items()},
        "same_read_by_dbapi_in_request_ms": round(at["dbapi"] - at["constant"], 3),
        "store_read_alone_ms": round(ms["store_read_alone"][clock], 3),
        "json_body_alone_ms": round(ms["json_body_alone"][clock], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, BackgroundServer(Config(latency=0.0)) as model:
        settings = api_settings(Path(tmp), model)
        ms = asyncio.run(measure(settings, args))
    result: dict[str, Any] = {
        "median_ms_per_call": {
            name: {k: round(v, 3) for k, v in clocks.items()} for name, clocks in ms.items()
        },
        "wall": breakdown(ms, "wall_ms"),
        "cpu": breakdown(ms, "cpu_ms"),
    }
    emit("api-read", result)


if __name__ == "__main__":
    main()
