"""Every error has the {code, message, detail?} shape and the right status; auth; no secrets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx

from service.errors import ModelError
from service.reader import Reader
from tests.fakes import PROVIDER_KEY, Serve, add_text
from tests.samples import TEXT

LIMIT = 2000  # READER_MAX_INPUT_BYTES in these tests
KEY = "reader-key-8c1d"
JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def small_client(serve: Serve) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(READER_MAX_INPUT_BYTES=str(LIMIT)) as http:
        yield http


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code and body["message"]
    assert set(body) <= {"code", "message", "detail"}
    return body


class Chunks:
    """A streamed request body that counts how much of it the server pulled."""

    def __init__(self, n: int, size: int = 16 * 1024) -> None:
        self.n, self.size, self.sent = n, size, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.n):
            self.sent += 1
            yield b"x" * self.size


# --- 413 -------------------------------------------------------------------------------------


async def test_text_over_the_limit_is_413(small_client: httpx.AsyncClient) -> None:
    big = "深" * (LIMIT // 3 + 10)
    assert_error(await small_client.post("/v1/documents", json={"text": big}), 413, "too_large")
    files = {"file": ("big.txt", big.encode())}
    assert_error(await small_client.post("/v1/documents", files=files), 413, "too_large")
    summary = await small_client.post("/v1/summaries", json={"text": big})
    assert_error(summary, 413, "too_large")


async def test_declared_oversize_body_is_refused_before_it_is_read(
    small_client: httpx.AsyncClient,
) -> None:
    body = Chunks(100)
    headers = {"Content-Type": "application/json", "Content-Length": str(100 * 16 * 1024)}
    response = await small_client.post("/v1/documents", content=body, headers=headers)
    assert_error(response, 413, "too_large")
    assert body.sent <= 1


async def test_undeclared_oversize_body_is_cut_off_while_reading(
    small_client: httpx.AsyncClient,
) -> None:
    body = Chunks(100)
    headers = {"Content-Type": "application/json"}  # chunked: no Content-Length
    response = await small_client.post("/v1/documents", content=body, headers=headers)
    assert_error(response, 413, "too_large")
    assert body.sent <= 6  # (2,000 + 64 KiB) / 16 KiB, not all 100 chunks


# --- 415, 422 --------------------------------------------------------------------------------


async def test_unsupported_media_type_is_415(client: httpx.AsyncClient) -> None:
    plain_type = {"Content-Type": "text/plain"}
    plain = await client.post("/v1/documents", content=TEXT.encode(), headers=plain_type)
    assert_error(plain, 415, "unsupported_media")
    assert_error(await client.post("/v1/documents"), 415, "unsupported_media")
    summary = await client.post("/v1/summaries", content=b"text", headers=plain_type)
    assert_error(summary, 415, "unsupported_media")


@pytest.mark.parametrize(
    ("request_kw", "code"),
    [
        ({"files": {"file": ("x.txt", b"\x80\x80\x80abc\xff\xff")}}, "undecodable"),
        ({"files": {"file": ("x.bin", b"\x00\x01\x02\x03" * 50)}}, "undecodable"),
        ({"content": b'{"text": "\\ud800 x"}', "headers": JSON}, "invalid_request"),
        # The schema asks for some text besides whitespace: a schema violation, not ingest's.
        ({"json": {"text": "   \n\n  "}}, "invalid_request"),
        ({"files": {"file": ("blank.html", b"<html><body> </body></html>")}}, "empty"),
        ({"json": {"text": ""}}, "invalid_request"),
        ({"json": {"text": TEXT, "published": "yesterday"}}, "invalid_request"),
        ({"json": {"text": TEXT, "path": "/etc/passwd"}}, "invalid_request"),
        ({"json": ["not", "an", "object"]}, "invalid_request"),
        (
            {"content": b'{"text": ', "headers": {"Content-Type": "application/json"}},
            "invalid_request",
        ),
        ({"data": {"title": "no file"}, "files": {"other": ("a.txt", b"x")}}, "invalid_input"),
        (
            {"content": b"--x\r\n", "headers": {"Content-Type": "multipart/form-data"}},
            "invalid_input",
        ),
    ],
)
async def test_bad_input_is_422_never_500(
    client: httpx.AsyncClient, request_kw: dict[str, Any], code: str
) -> None:
    response = await client.post("/v1/documents", **request_kw)
    assert_error(response, 422, code)


async def test_validation_errors_do_not_echo_the_input(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/documents", json={"text": TEXT, "published": PROVIDER_KEY})
    body = assert_error(response, 422, "invalid_request")
    assert body["detail"][0]["loc"] == "body.published"
    assert PROVIDER_KEY not in response.text


# --- 404, 405, 500 ---------------------------------------------------------------------------


async def test_unknown_ids_and_routes_are_404(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/v1/documents/0123456789abcdef"), 404, "not_found")
    assert_error(await client.get("/v1/documents/nope/summary"), 404, "not_found")
    assert_error(await client.post("/v1/documents/nope/translation"), 404, "not_found")
    assert_error(await client.get("/v1/jobs/nope"), 404, "not_found")
    assert_error(await client.get("/v1/nothing-here"), 404, "not_found")
    assert_error(await client.put("/v1/documents"), 405, "method_not_allowed")


async def test_summary_not_computed_is_404_with_its_own_code(client: httpx.AsyncClient) -> None:
    doc_id = (await add_text(client, TEXT))["id"]
    body = assert_error(await client.get(f"/v1/documents/{doc_id}/summary"), 404, "not_computed")
    assert f"POST /v1/documents/{doc_id}/summary" in body["message"]


async def test_a_bug_is_a_500_that_reveals_nothing(
    client: httpx.AsyncClient, reader: Reader, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"boom at /srv/internal/path with {PROVIDER_KEY}")

    monkeypatch.setattr(reader.library, "list", broken)
    response = await client.get("/v1/documents")
    assert_error(response, 500, "internal_error")
    assert "boom" not in response.text and "/srv" not in response.text


async def test_model_errors_are_502_and_scrubbed_of_secrets(
    client: httpx.AsyncClient, reader: Reader, monkeypatch: pytest.MonkeyPatch
) -> None:
    def upstream(*args: object, **kwargs: object) -> None:
        echoed = f"Incorrect API key provided: {PROVIDER_KEY}; sk-proj-abcdefghijklmnop"
        raise ModelError(f"rejected (HTTP 400): {echoed}")

    monkeypatch.setattr(reader.library, "list", upstream)
    response = await client.get("/v1/documents")
    body = assert_error(response, 502, "model_error")
    assert PROVIDER_KEY not in response.text and "sk-proj-abcdefghijklmnop" not in response.text
    assert "Incorrect API key provided: [redacted]" in body["message"]


# --- auth ------------------------------------------------------------------------------------


@pytest.fixture
async def keyed_client(serve: Serve) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(READER_API_KEY=KEY) as http:
        yield http


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {KEY}", f"Bearer {KEY}x"])
async def test_v1_needs_the_bearer_key_when_one_is_set(
    keyed_client: httpx.AsyncClient, header: str | None
) -> None:
    headers = {"Authorization": header} if header else {}
    routes = ["GET /v1/documents", "POST /v1/documents", "GET /v1/usage", "GET /v1/jobs/x"]
    for method, path in (r.split() for r in routes):
        response = await keyed_client.request(method, path, headers=headers, json={"text": TEXT})
        assert_error(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert KEY not in response.text


async def test_the_right_key_opens_v1_and_probes_stay_open(
    keyed_client: httpx.AsyncClient, endpoint: respx.MockRouter
) -> None:
    models = {"object": "list", "data": []}
    endpoint.get("/models").mock(return_value=httpx.Response(200, json=models))
    auth = {"Authorization": f"Bearer {KEY}"}
    added = await keyed_client.post("/v1/documents", json={"text": TEXT}, headers=auth)
    assert added.status_code == 201
    assert (await keyed_client.get("/healthz")).status_code == 200
    assert (await keyed_client.get("/readyz")).status_code == 200
    assert (await keyed_client.get("/openapi.json")).status_code == 200
