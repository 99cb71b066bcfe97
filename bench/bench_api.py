"""Cached artifact reads over real HTTP, next to a bare FastAPI route in the same server.

Starts the stand-in provider (bench/fake_provider.py) and the API (uvicorn in a thread on
loopback, the app's own lifespan opening the reader), adds one document and computes its
summary, then measures ``GET /v1/documents/{id}/summary`` (a stored artifact: auth dependency,
variant key, one SQLite read, JSON out) against ``GET /bench/bare`` (a constant, mounted only
here). Rounds alternate between the two so machine load hits both alike.

    PYTHONPATH=. python bench/bench_api.py --requests 3000 --serial 500 --concurrency 16 --rounds 3

Latency is reported one request at a time (at concurrency 16 it is mostly queueing:
16 / throughput); throughput at concurrency 16. Client and server share one process (and
its GIL), as in any in-thread benchmark, so both routes pay the same client cost. Each
measurement also reports the process's CPU time per request (client and server): on a busy
machine the wall clock measures the scheduler as much as the code, the CPU time much less,
and at concurrency 16 the bare route's CPU per request over the cached read's is the
throughput ratio a CPU-bound server reaches.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi import FastAPI

from bench.fake_provider import BackgroundServer, Config, ThreadedServer
from service.api.app import create_app
from service.config import Settings

SEED = Path(__file__).resolve().parent.parent / "corpus" / "001_3630fb25ee3283fa.txt"
KEY = "bench-api-key"


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    latencies_ms: list[float]
    cpu_seconds: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_ms(self) -> float:
        """CPU milliseconds of this process per request."""
        return self.cpu_seconds / self.requests * 1000

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def line(self) -> str:
        return (
            f"{self.name:<8} {self.requests:>6} req  {self.rps:>7.0f} req/s  "
            f"p50 {self.quantile(0.5):6.2f} ms  p99 {self.quantile(0.99):6.2f} ms  "
            f"cpu {self.cpu_ms:5.2f} ms/req"
        )


def api_settings(cache_dir: Path, model: str) -> Settings:
    """The API's settings for the benchmark: the stand-in model at ``model``, a key set."""
    return Settings(
        cache_dir=cache_dir,
        openai_base_url=model,
        openai_api_key="sk-bench",
        model="gpt-4o-mini",
        api_key=KEY,
    )


def bench_app(settings: Settings) -> FastAPI:
    app = create_app(settings)

    @app.get("/bench/bare", include_in_schema=False)
    async def bare() -> dict[str, str]:
        return {"status": "ok"}

    return app


async def prepare(client: httpx.AsyncClient) -> str:
    """One stored document with its summary computed; returns the summary's URL."""
    files = {"file": (SEED.name, SEED.read_bytes())}
    added = await client.post("/v1/documents", files=files)
    added.raise_for_status()
    url = f"/v1/documents/{added.json()['id']}/summary"
    computed = await client.post(f"{url}?wait=60")
    if computed.status_code != 200:
        sys.exit(f"summary not computed: {computed.status_code} {computed.text[:300]}")
    return url


async def measure(client: httpx.AsyncClient, name: str, url: str, n: int, workers: int) -> Result:
    latencies: list[float] = []
    remaining = iter(range(n))

    async def worker() -> None:
        for _ in remaining:
            started = time.perf_counter()
            response = await client.get(url)
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"{url}: HTTP {response.status_code}")

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(workers)))
    seconds = time.perf_counter() - started
    return Result(name, n, seconds, latencies, time.process_time() - cpu)


async def run(base: str, args: argparse.Namespace) -> list[tuple[Result, Result]]:
    n = args.concurrency
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    headers = {"Authorization": f"Bearer {KEY}"}
    # A long timeout: on a busy machine (or under nice) one request can wait seconds for a CPU.
    timeout = httpx.Timeout(120.0)
    client = httpx.AsyncClient(base_url=base, limits=limits, headers=headers, timeout=timeout)
    async with client:
        url = await prepare(client)
        await measure(client, "warmup", url, 200, args.concurrency)
        await measure(client, "warmup", "/bench/bare", 200, args.concurrency)
        rounds = []
        for _ in range(args.rounds):
            plan = [(1, args.serial, "serial"), (n, args.requests, f"c{n}")]
            for workers, count, tag in plan:
                bare = await measure(client, f"bare/{tag}", "/bench/bare", count, workers)
                cached = await measure(client, f"cached/{tag}", url, count, workers)
                rounds.append((bare, cached))
        return rounds


def report(rounds: list[tuple[Result, Result]], args: argparse.Namespace) -> None:
    for bare, cached in rounds:
        print(bare.line())
        print(cached.line(), f" ratio {cached.rps / bare.rps:.2f}x of bare")
    serial = [pair for pair in rounds if pair[0].name.endswith("serial")]
    loaded = [pair for pair in rounds if not pair[0].name.endswith("serial")]
    p50 = statistics.median(c.quantile(0.5) for _, c in serial)
    p99 = statistics.median(c.quantile(0.99) for _, c in serial)
    bare_p50 = statistics.median(b.quantile(0.5) for b, _ in serial)
    ratio = statistics.median(c.rps / b.rps for b, c in loaded)
    rps = statistics.median(c.rps for _, c in loaded)
    cpu = statistics.median(c.cpu_ms / b.cpu_ms for b, c in serial)
    cpu_loaded = statistics.median(b.cpu_ms / c.cpu_ms for b, c in loaded)
    print(
        f"median of {args.rounds} rounds: cached GET p50 {p50:.2f} ms, p99 {p99:.2f} ms one at a "
        f"time (bare {bare_p50:.2f} ms: {p50 / bare_p50:.2f}x); at concurrency {args.concurrency} "
        f"{rps:.0f} req/s = {ratio:.2f}x the bare route (issue 16: <= 1.3x the p50, >= 0.8x)"
    )
    print(
        f"CPU per request, cached over bare: {cpu:.2f}x one at a time; at concurrency "
        f"{args.concurrency} bare over cached (the CPU-bound throughput ratio) {cpu_loaded:.2f}x"
    )
    print(
        "command: PYTHONPATH=. python bench/bench_api.py --requests "
        f"{args.requests} --serial {args.serial} --concurrency {args.concurrency} "
        f"--rounds {args.rounds}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--serial", type=int, default=500, help="One-at-a-time requests.")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, BackgroundServer(Config(latency=0.0)) as model:
        settings = api_settings(Path(tmp), model)
        server = ThreadedServer(bench_app(settings))
        # uvicorn closes a connection idle for 5 s; on a busy machine the pool's idle ones
        # pass that during the serial rounds, and a reuse racing the close fails (ReadError).
        server.server.config.timeout_keep_alive = 600
        with server as base:
            rounds = asyncio.run(run(base, args))
    report(rounds, args)


if __name__ == "__main__":
    main()
