"""Liveness, readiness (real database write, model endpoint probe) and usage."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import respx

from service.reader import Reader
from service.store import CallRecord
from service.store.db import make_engine
from tests.fakes import PROVIDER_KEY

MODELS = {"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model", "owned_by": "x"}]}


async def test_healthz_is_always_up(client: httpx.AsyncClient, endpoint: respx.MockRouter) -> None:
    endpoint.get("/models").mock(side_effect=httpx.ConnectError("refused"))
    response = await client.get("/healthz")
    assert response.status_code == 200 and response.json()["status"] == "ok"


async def test_ready_when_database_takes_a_write_and_model_answers(
    client: httpx.AsyncClient, endpoint: respx.MockRouter
) -> None:
    probe = endpoint.get("/models").mock(return_value=httpx.Response(200, json=MODELS))
    response = await client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["ready"] and body["database"]["ok"] and body["model"]["ok"]
    assert body["model"]["model"] == "gpt-4o-mini" and body["model"]["profile"] == "gpt-4o-mini"
    assert body["model"]["endpoint"] == "https://api.test"
    assert probe.calls.last.request.headers["Authorization"] == f"Bearer {PROVIDER_KEY}"
    again = await client.get("/readyz")  # the probe write was rolled back: no leftover table
    assert again.json()["database"]["ok"]


async def test_not_ready_when_the_model_endpoint_is_down(
    client: httpx.AsyncClient, endpoint: respx.MockRouter
) -> None:
    endpoint.get("/models").mock(side_effect=httpx.ConnectError("connection refused"))
    response = await client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert not body["ready"] and body["database"]["ok"]
    assert "unreachable" in body["model"]["detail"]


async def test_not_ready_when_the_endpoint_refuses_our_key_and_the_key_stays_secret(
    client: httpx.AsyncClient, endpoint: respx.MockRouter
) -> None:
    message = f"Incorrect API key provided: {PROVIDER_KEY}"
    error = {"error": {"message": message, "code": "invalid_api_key"}}
    endpoint.get("/models").mock(return_value=httpx.Response(401, json=error))
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert "HTTP 401" in response.json()["model"]["detail"]
    assert PROVIDER_KEY not in response.text


async def test_not_ready_when_the_database_is_read_only(
    client: httpx.AsyncClient,
    reader: Reader,
    endpoint: respx.MockRouter,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    endpoint.get("/models").mock(return_value=httpx.Response(200, json=MODELS))
    store = reader.library.store
    path = store.engine.url.database
    # make_engine makes the database's folder: in URI form that is the path's, not "file:".
    monkeypatch.chdir(tmp_path)
    read_only = make_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    monkeypatch.setattr(store, "engine", read_only)
    response = await client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert not body["database"]["ok"] and "not writable" in body["database"]["detail"]
    assert body["model"]["ok"]
    assert not (tmp_path / "file:").exists()
    read_only.dispose()


async def test_usage_reports_calls_hits_and_cost(client: httpx.AsyncClient, reader: Reader) -> None:
    store = reader.library.store
    call = CallRecord(
        cache_key="k", task="summary", prompt_id="summary", prompt_version="v1",
        model="gpt-4o-mini", tokens_in=1000, tokens_out=200, cost_usd=0.00027,
    )  # fmt: skip
    store.record_call(call)
    store.record_call(call.model_copy(update={"outcome": "hit"}))
    body = (await client.get("/v1/usage")).json()
    assert (body["calls"], body["hits"], body["hit_rate"]) == (2, 1, 0.5)
    assert body["tokens_saved"] == 1200
    assert body["cost_spent_usd"] == pytest.approx(0.00027)
    assert body["cost_saved_usd"] == pytest.approx(0.00027)
    assert body["by_prompt_model"][0]["prompt"] == "summary@v1"
