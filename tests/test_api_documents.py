"""Documents over HTTP: add (JSON, upload, HTML, GB18030), idempotency, list, read, delete."""

from __future__ import annotations

import httpx

from service.reader import Reader
from service.store import CallRecord
from tests.fakes import add_text
from tests.samples import SEEDS, TEXT


async def test_json_text_is_created_then_found_again_by_content(client: httpx.AsyncClient) -> None:
    first = await client.post("/v1/documents", json={"text": TEXT, "title": "高质量发展大会"})
    again = await client.post("/v1/documents", json={"text": TEXT})
    assert (first.status_code, again.status_code) == (201, 200)
    body = first.json()
    assert again.json()["id"] == body["id"]
    assert body["meta"]["title_zh"] == "高质量发展大会"
    assert body["meta"]["provenance"]["title_zh"] == "user"
    assert body["script"] == "simplified"
    assert body["paragraph_count"] == 3
    assert body["chunk_count"] == 1 and body["chunk_budget"] == 3000
    assert body["cleaning"]["chars_raw"] == len(TEXT)
    assert body["links"]["summary"] == f"/v1/documents/{body['id']}/summary"
    assert body["text"] is None and body["paragraphs"] is None  # light by default


async def test_upload_html_in_gb18030_with_a_hostile_file_name(client: httpx.AsyncClient) -> None:
    html = f"<html><head><title>会议</title></head><body><p>{TEXT}</p></body></html>"
    files = {"file": ("../../etc/passwd\x00<b>.html", html.encode("gb18030"), "text/html")}
    response = await client.post("/v1/documents", files=files, data={"published": "2024-03-01"})
    assert response.status_code == 201, response.text
    body = response.json()
    name = body["source_name"]
    assert name.startswith("passwd") and name.endswith(".html")
    assert not set(name) & set("/\\\x00<>") and ".." not in name
    assert body["cleaning"]["encoding"] == "gb18030"
    assert body["cleaning"]["input_format"] == "html"
    assert body["meta"]["date"] == "2024-03-01"


async def test_a_seed_document_reports_what_cleaning_removed(client: httpx.AsyncClient) -> None:
    files = {"file": (SEEDS[0].name, SEEDS[0].read_bytes(), "text/plain")}
    body = (await client.post("/v1/documents", files=files)).json()
    cleaning = body["cleaning"]
    assert cleaning["chars_raw"] > cleaning["chars_clean"]
    assert sum(cleaning["removed"].values()) > 0
    assert body["source_name"] == SEEDS[0].name


async def test_get_includes_text_and_paragraphs_on_request(client: httpx.AsyncClient) -> None:
    doc_id = (await add_text(client, TEXT))["id"]
    light = (await client.get(f"/v1/documents/{doc_id}")).json()
    full = (await client.get(f"/v1/documents/{doc_id}?include=text,paragraphs")).json()
    assert light["text"] is None
    assert full["text"] == TEXT.replace("\n\n", "\n")  # cleaning folds blank lines
    p = full["paragraphs"][1]
    assert full["text"][p["start"] : p["end"]] == p["text"]
    bad = await client.get(f"/v1/documents/{doc_id}?include=secrets")
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_request"


async def test_list_paginates_and_filters(client: httpx.AsyncClient) -> None:
    for path in SEEDS:
        await client.post("/v1/documents", files={"file": (path.name, path.read_bytes())})
    page = (await client.get("/v1/documents?limit=2&offset=1")).json()
    assert page["total"] == len(SEEDS) and len(page["items"]) == 2 and page["offset"] == 1
    dated = (await client.get("/v1/documents?date_from=2023-01-01")).json()
    assert dated["items"] and all(d["meta"]["date"] >= "2023-01-01" for d in dated["items"])
    outlet = (await client.get("/v1/documents", params={"outlet": "南方都市报"})).json()
    assert [d["source_name"] for d in outlet["items"]] == [SEEDS[1].name]
    assert (await client.get("/v1/documents?limit=0")).status_code == 422


async def test_delete_removes_document_and_artifacts_but_keeps_the_cache(
    client: httpx.AsyncClient, reader: Reader
) -> None:
    doc_id = (await add_text(client, TEXT))["id"]
    store = reader.library.store
    call = CallRecord(
        cache_key="k1", task="summary", prompt_id="summary", prompt_version="v1",
        model="gpt-4o-mini", tokens_in=1, tokens_out=1,
    )  # fmt: skip
    store.put_cached(call, "{}")
    store.save_artifact(doc_id, "summary", "variant", {"doc_id": doc_id})
    assert (await client.delete(f"/v1/documents/{doc_id}")).status_code == 204
    assert (await client.get(f"/v1/documents/{doc_id}")).status_code == 404
    assert store.get_artifact(doc_id, "summary") is None
    assert store.cache_keys() == ["k1"]
    again = await client.delete(f"/v1/documents/{doc_id}")
    assert again.status_code == 404 and again.json()["code"] == "not_found"
