"""The OpenAPI document is the contract: one error model, every status, strict inputs.

What schemathesis checks by sampling (tests/test_api_fuzz.py) pinned case by case here: the
rules ``service.api.openapi`` applies to every operation, and inputs the document rejects
being rejected by the code too.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import httpx
import pytest
from fastapi import FastAPI, Query
from starlette.requests import Request

from service.api.errors import Redactor, install_error_handlers
from service.api.openapi import operations, undocumented
from service.api.routes.artifacts import (
    READ_PARAMETERS,
    PromptVersion,
    PromptVersions,
    read_options,
)
from tests.fakes import Serve
from tests.samples import TEXT

KEY = "openapi-test-key"


async def document(http: httpx.AsyncClient) -> dict[str, Any]:
    response = await http.get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def test_with_a_key_every_v1_operation_declares_bearer_and_401(serve: Serve) -> None:
    async with serve(READER_API_KEY=KEY) as http:
        doc = await document(http)
    assert undocumented(doc, secured=True) == []
    v1 = [(m, p, op) for m, p, op in operations(doc) if p.startswith("/v1/")]
    assert len(v1) >= 12
    for method, path, op in v1:
        assert op["security"] == [{"HTTPBearer": []}], (method, path)
        assert op["responses"]["401"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorOut"
        }
    assert "HTTPBearer" in doc["components"]["securitySchemes"]


async def test_without_a_key_nothing_claims_auth(client: httpx.AsyncClient) -> None:
    doc = await document(client)
    assert undocumented(doc, secured=False) == []
    for _, _, op in operations(doc):
        assert "security" not in op and "401" not in op["responses"]
    assert "securitySchemes" not in doc["components"]


async def test_fastapi_validation_error_schema_is_gone(client: httpx.AsyncClient) -> None:
    text = json.dumps(await document(client))
    assert "HTTPValidationError" not in text and '"ValidationError"' not in text
    detail = (await client.get("/v1/documents?limit=0")).json()["detail"]
    assert detail == [
        {"loc": "query.limit", "msg": "Input should be greater than or equal to 1",
         "type": "greater_than_equal"}
    ]  # fmt: skip


def test_a_route_missing_its_statuses_is_reported() -> None:
    doc = {
        "paths": {
            "/v1/things/{id}": {
                "get": {
                    "parameters": [{"name": "id", "in": "path"}],
                    "responses": {"404": {"content": {"application/json": {"schema": {}}}}},
                }
            }
        }
    }
    assert undocumented(doc, secured=True) == [
        "GET /v1/things/{id}: no 422",
        "GET /v1/things/{id}: no 401",
        "GET /v1/things/{id}: 404 is not an ErrorOut",
    ]


async def test_prompt_versions_are_exactly_the_prompt_files(client: httpx.AsyncClient) -> None:
    doc = await document(client)
    doc_id = (await client.post("/v1/documents", json={"text": TEXT})).json()["id"]
    read = doc["paths"]["/v1/documents/{doc_id}/summary"]["get"]
    params = {p["name"]: p["schema"] for p in read["parameters"]}
    assert "v1" in params["prompt_version"]["enum"]
    assert (
        "summary:v1" in params["versions"]["pattern"] and "_:" not in params["versions"]["pattern"]
    )
    for version in params["prompt_version"]["enum"]:
        read = await client.get(f"/v1/documents/{doc_id}/summary?prompt_version={version}")
        assert read.json()["code"] == "not_computed", read.text  # accepted, just not computed
    rejected = await client.get(f"/v1/documents/{doc_id}/summary?versions=_:v0")
    assert rejected.status_code == 422


def declared_read() -> FastAPI:
    """The read with its query parameters declared on the route, as it was before they were
    read in the handler (``artifacts.read_options``), behind the API's error handlers."""
    app = FastAPI()
    install_error_handlers(app, Redactor([]))

    @app.get("/read/{doc_id}")
    async def read(
        doc_id: str,
        format: Literal["json", "markdown"] = "json",
        bilingual: Annotated[bool, Query(description="Translation Markdown with Chinese.")] = False,
        prompt_version: PromptVersion = None,
        versions: PromptVersions = None,
    ) -> dict[str, Any]:
        return {"format": format, "bilingual": bilingual, "prompt_version": prompt_version,
                "versions": versions}  # fmt: skip

    return app


READ_QUERIES = [
    "", "format=json", "format=markdown&bilingual=true", "bilingual=no", "bilingual=1",
    "format=json&format=markdown", "format=markdown&format=json", "other=1", "format=",
    "format=JSON", "format=xml&bilingual=maybe&prompt_version=q&versions=z", "bilingual=",
    "prompt_version=v1", "prompt_version=", "prompt_version=v12345", "versions=summary:v1",
    "versions=summary", "versions=", "prompt_version=v1&versions=a:v1,b:v2", "format=%00",
]  # fmt: skip


async def test_the_reads_query_parameters_are_the_declared_ones(
    client: httpx.AsyncClient,
) -> None:
    """Read in the handler, the read's query parameters are documented, accepted and refused
    (the same 422 body) exactly as declaring them on the route did."""
    declared = declared_read()
    document = declared.openapi()["paths"]["/read/{doc_id}"]["get"]["parameters"]
    assert READ_PARAMETERS["parameters"] == document[1:]  # after doc_id
    transport = httpx.ASGITransport(app=declared)
    async with httpx.AsyncClient(transport=transport, base_url="http://declared") as reference:
        for query in READ_QUERIES:
            expected = await reference.get(f"/read/x?{query}")
            if expected.status_code == 200:
                scope = {"type": "http", "query_string": query.encode(), "headers": []}
                assert read_options(Request(scope)).model_dump() == expected.json(), query
            else:
                ours = await client.get(f"/v1/documents/x/summary?{query}")
                assert (ours.status_code, ours.json()) == (422, expected.json()), query


@pytest.mark.parametrize("url", ["262210", "ftp://example.com/a", "http://", "www.gov.cn/a", ""])
async def test_source_url_must_be_an_http_url(client: httpx.AsyncClient, url: str) -> None:
    files = {"file": ("a.txt", TEXT.encode())}
    form = await client.post("/v1/documents", files=files, data={"source_url": url})
    assert form.status_code == 422 and form.json()["detail"][0]["loc"] == "form.source_url"
    body = await client.post("/v1/documents", json={"text": TEXT, "source_url": url})
    assert body.status_code == 422 and body.json()["detail"][0]["loc"] == "body.source_url"


async def test_a_url_is_stored_as_given(client: httpx.AsyncClient) -> None:
    url = "https://www.gov.cn/zhengce/content/2024-03/05/content_6936.htm?from=一#top"
    added = await client.post("/v1/documents", json={"text": TEXT, "source_url": url})
    assert added.status_code == 201 and added.json()["meta"]["source_url"] == url
    bare = await client.post(
        "/v1/documents", json={"text": TEXT + "。", "source_url": "http://a.cn"}
    )
    assert bare.json()["meta"]["source_url"] == "http://a.cn"  # not normalised to http://a.cn/


@pytest.mark.parametrize("date", ["2024-03-05T00:00:00", "1700000000", "20240305", "2024-3-5"])
async def test_dates_are_iso_only(client: httpx.AsyncClient, date: str) -> None:
    files = {"file": ("a.txt", TEXT.encode())}
    form = await client.post("/v1/documents", files=files, data={"published": date})
    assert form.status_code == 422, form.text
    body = await client.post("/v1/documents", json={"text": TEXT, "published": date})
    assert body.status_code == 422, body.text
    listed = await client.get("/v1/documents", params={"date_from": date})
    assert listed.status_code == 422 and listed.json()["code"] == "invalid_request"
    number = await client.post("/v1/documents", json={"text": TEXT, "published": 1700000000})
    assert number.status_code == 422


async def test_an_iso_date_still_reads(client: httpx.AsyncClient) -> None:
    added = await client.post("/v1/documents", json={"text": TEXT, "published": "2024-03-05"})
    assert added.status_code == 201 and added.json()["meta"]["date"] == "2024-03-05"
    listed = await client.get("/v1/documents?date_from=2024-03-01&date_to=2024-03-31")
    assert [d["id"] for d in listed.json()["items"]] == [added.json()["id"]]


async def test_405_names_every_method_of_the_path(client: httpx.AsyncClient) -> None:
    response = await client.request("PATCH", "/v1/documents")
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"
    assert {"GET", "POST"} <= set(response.headers["allow"].split(", "))
    one = await client.request("PUT", "/v1/documents/abc/summary")
    assert {"GET", "POST"} <= set(one.headers["allow"].split(", "))


async def test_an_unparsable_json_body_is_a_422_like_elsewhere(client: httpx.AsyncClient) -> None:
    headers = {"Content-Type": "application/json"}
    for path in ("/v1/summaries", "/v1/documents"):
        response = await client.post(path, content=b"\xff\xfe{", headers=headers)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["code"] == "invalid_request"
