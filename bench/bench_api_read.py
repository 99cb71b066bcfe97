"""Where a cached artifact read spends its time, in process: the request, and its parts.

Run: PYTHONPATH=. python bench/bench_api_read.py [--requests 300] [--rounds 6]

The app is called through httpx's ASGI transport (no sockets, no server thread), one request
at a time, so the difference between ``GET /bench/bare`` and ``GET /v1/documents/{id}/summary``
is the route's own work. Rounds alternate, in one process: the bare route, the cached read,
and the read's parts called directly (the store read ``Store.artifact_payload``, the variant
key, the JSON body); what the parts leave of the difference is FastAPI resolving the route's
parameters and dependencies. Each is timed in wall-clock and in CPU time of this thread
(``time.thread_time``: the server and the client run in it), which a busy machine inflates
far less than the wall clock.
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

from bench.bench_api import KEY, api_settings, bench_app, prepare
from bench.common import emit
from bench.fake_provider import BackgroundServer, Config
from service.api.routes.artifacts import variant
from service.config import Settings
from service.reader import Reader

Timed = Callable[[], Awaitable[object]]


async def per_call(fn: Timed, n: int) -> tuple[float, float]:
    """Mean wall and CPU milliseconds per call of ``fn``, one at a time."""
    wall, cpu = time.perf_counter(), time.thread_time()
    for _ in range(n):
        await fn()
    return (time.perf_counter() - wall) / n * 1000, (time.thread_time() - cpu) / n * 1000


def parts(client: httpx.AsyncClient, reader: Reader, url: str) -> dict[str, Timed]:
    """The requests, and the read's parts as the route calls them."""
    doc_id = url.split("/")[3]
    key = variant(reader, "summary", {})
    payload = reader.library.store.artifact_payload(doc_id, "summary", key)

    async def get(path: str) -> object:
        response = await client.get(path)
        if response.status_code != 200:
            raise SystemExit(f"{path}: HTTP {response.status_code}")
        return response

    async def store_read() -> object:
        return reader.library.store.artifact_payload(doc_id, "summary", key)

    async def variant_key() -> object:
        return variant(reader, "summary", {})

    async def body() -> object:
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()

    async def bare() -> object:
        return await get("/bench/bare")

    async def cached() -> object:
        return await get(url)

    return {
        "bare": bare,
        "cached": cached,
        "store_read": store_read,
        "variant_key": variant_key,
        "json_body": body,
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
    """The cached read's extra over the bare route, split into its parts and the rest."""
    extra = ms["cached"][clock] - ms["bare"][clock]
    named = {name: ms[name][clock] for name in ("store_read", "variant_key", "json_body")}
    return {
        "cached_over_bare": round(ms["cached"][clock] / ms["bare"][clock], 2),
        "extra_ms": round(extra, 3),
        **{f"{name}_ms": round(v, 3) for name, v in named.items()},
        "params_and_dependencies_ms": round(extra - sum(named.values()), 3),
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
