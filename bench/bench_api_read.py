"""Where a cached artifact read spends its time, in process: bare route, shipped, Core read.

Run: PYTHONPATH=. python bench/bench_api_read.py [--requests 300] [--rounds 6]

The app is called through httpx's ASGI transport (no sockets, no server thread), one request
at a time, so the difference between ``GET /bench/bare`` and ``GET /v1/documents/{id}/summary``
is the route's own work: dependencies, the store read, the JSON body. Rounds alternate three
variants in one process: the bare route; the read as shipped (``Store.get_artifact``: an ORM
session, a statement built per call, ``model_validate`` from attributes); and the same read
with ``get_artifact`` swapped for a prebuilt SQLAlchemy Core statement (the call cache's hit
path already reads that way). The Core variant is an experiment for the store, not shipped.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
from sqlalchemy import bindparam, select

from bench.bench_api import KEY, api_settings, bench_app, prepare
from bench.common import emit
from bench.fake_provider import BackgroundServer, Config
from service.config import Settings
from service.store import Store
from service.store.store import StoredArtifact
from service.store.tables import ArtifactRow

_T: Any = ArtifactRow.__table__  # type: ignore[attr-defined]
_CORE_READ = (
    select(_T.c.doc_id, _T.c.kind, _T.c.variant, _T.c.payload)
    .add_columns(_T.c.provenance, _T.c.status, _T.c.created_at)
    .where(_T.c.doc_id == bindparam("d"), _T.c.kind == bindparam("k"))
    .where(_T.c.variant == bindparam("v"))
)


def core_get_artifact(
    self: Store, doc_id: str, kind: str, variant: str | None = None
) -> StoredArtifact | None:
    """``Store.get_artifact`` for a given variant through one prebuilt Core statement."""
    assert variant is not None  # the API's read always names its variant
    with self.engine.connect() as conn:
        row = conn.execute(_CORE_READ, {"d": doc_id, "k": kind, "v": variant}).mappings().first()
    return None if row is None else StoredArtifact.model_validate(dict(row))


@contextmanager
def variant(name: str) -> Iterator[None]:
    if name != "core":
        yield
        return
    with mock.patch.object(Store, "get_artifact", core_get_artifact):
        yield


async def serial_ms(client: httpx.AsyncClient, url: str, n: int) -> float:
    """Mean milliseconds per request, one at a time; every answer must be a 200."""
    t0 = time.perf_counter()
    for _ in range(n):
        if (await client.get(url)).status_code != 200:
            raise SystemExit(f"{url}: not 200")
    return (time.perf_counter() - t0) / n * 1000


async def measure(settings: Settings, args: argparse.Namespace) -> dict[str, float]:
    app = bench_app(settings)
    headers = {"Authorization": f"Bearer {KEY}"}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench", headers=headers
        ) as client,
    ):
        url = await prepare(client)
        shipped = (await client.get(url)).content
        with variant("core"):
            if (await client.get(url)).content != shipped:
                raise SystemExit("the Core read changes the response")
        plan = [("bare", "/bench/bare"), ("shipped", url), ("core", url)]
        times: dict[str, list[float]] = {name: [] for name, _ in plan}
        for _ in range(args.rounds):
            for name, path in plan:
                with variant(name):
                    times[name].append(await serial_ms(client, path, args.requests))
    return {name: statistics.median(ms) for name, ms in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, BackgroundServer(Config(latency=0.0)) as model:
        settings = api_settings(Path(tmp), model)
        ms = asyncio.run(measure(settings, args))
    emit(
        "api-read",
        {
            "median_ms_per_request": {k: round(v, 3) for k, v in ms.items()},
            "shipped_over_bare": round(ms["shipped"] / ms["bare"], 2),
            "core_over_bare": round(ms["core"] / ms["bare"], 2),
            "store_read_share_ms": round(ms["shipped"] - ms["core"], 3),
        },
    )


if __name__ == "__main__":
    main()
