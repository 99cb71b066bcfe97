"""Liveness (``/healthz``), readiness (``/readyz``) and usage (``/v1/usage``).

``/healthz`` and ``/readyz`` are open even when an API key is set (orchestrators probe them
without credentials); they show the model name, profile and endpoint host, never a key.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service import __version__
from service.api.deps import LibraryDep, ReaderDep
from service.api.errors import Redactor
from service.api.schemas import CheckOut, HealthOut, ModelCheckOut, ReadyOut, UsageOut
from service.reader import Reader
from service.store.store import Store

router = APIRouter(tags=["health"])
usage_router = APIRouter(tags=["health"])

PROBE_TIMEOUT_S = 2.0


@router.get("/healthz", response_model=HealthOut, operation_id="healthz")
async def healthz() -> HealthOut:
    """The process is up (no dependency is checked)."""
    return HealthOut(version=__version__)


@router.get(
    "/readyz",
    response_model=ReadyOut,
    responses={503: {"model": ReadyOut, "description": "Not ready: the failing checks say why."}},
    operation_id="readyz",
)
async def readyz(request: Request, reader: ReaderDep) -> JSONResponse:
    """The database takes a write and the model endpoint answers; 503 with reasons if not."""
    redactor: Redactor = request.app.state.redactor
    db, model = await asyncio.gather(
        asyncio.to_thread(check_database, reader.library.store, redactor), check_model(reader)
    )
    body = ReadyOut(ready=db.ok and model.ok, database=db, model=model)
    return JSONResponse(redactor.value(body.model_dump()), status_code=200 if body.ready else 503)


@usage_router.get("/usage", response_model=UsageOut, operation_id="get_usage")
def usage(library: LibraryDep) -> UsageOut:
    """Model calls, cache hits, tokens and estimated cost from the call ledger."""
    return UsageOut.of(library.store.cache_stats())


def check_database(store: Store, redactor: Redactor) -> CheckOut:
    """A real write (a table created and a row inserted), rolled back."""
    started = time.perf_counter()
    try:
        with store.engine.connect() as conn:
            tx = conn.begin()
            try:
                conn.exec_driver_sql("CREATE TABLE readyz_probe (x INTEGER)")
                conn.exec_driver_sql("INSERT INTO readyz_probe (x) VALUES (1)")
            finally:
                tx.rollback()
    except Exception as exc:  # any driver error means "not ready"; the reason is reported
        reason = redactor.text(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        return CheckOut(ok=False, detail=f"database not writable: {reason}")
    return CheckOut(ok=True, latency_ms=_ms(started))


async def check_model(reader: Reader) -> ModelCheckOut:
    """GET {base_url}/models with a short timeout (any 2xx means reachable)."""
    gateway = reader.gateway
    out = ModelCheckOut(
        ok=False, endpoint=host(reader.endpoint), model=gateway.model, profile=gateway.profile.name
    )
    key = gateway.settings.openai_api_key
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    started = time.perf_counter()
    try:
        async with httpx.AsyncClient(timeout=PROBE_TIMEOUT_S) as client:
            response = await client.get(reader.endpoint.rstrip("/") + "/models", headers=headers)
    except httpx.HTTPError as exc:
        out.detail = f"model endpoint unreachable: {type(exc).__name__}"
        return out
    out.latency_ms = _ms(started)
    if response.is_success:
        out.ok = True
    else:
        out.detail = f"model endpoint answered HTTP {response.status_code} to GET /models"
    return out


def host(url: str) -> str:
    """Scheme, host and port only: never a path or credentials."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}" if parts.hostname else ""


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
