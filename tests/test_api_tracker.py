"""The tracker over HTTP: commitments computed by the rules_en strategy on a mocked model (respx),
then read across documents with no model call."""

from __future__ import annotations

import httpx

from service.tasks.commitments.extract import TASK
from service.tasks.commitments.names import NAME_TASK
from tests.fakes import ScriptedModel, add_text
from tests.test_tracker import MEETING_2021, REPORT_2020, REPORT_TITLE, VISIT_2023

# What a model answers for each concrete commitment (quote fragment → English).
ENGLISH = {
    "優化光明科學城": "The city will optimise the institutions and mechanisms for building "
    "Guangming Science City.",
    "自由電子激光": "Shenzhen will strive to start building the free-electron laser facility "
    "by the end of 2021.",
    "合作区深圳园区": "The city will push forward the Shenzhen Park of the Cooperation Zone to "
    "high standards.",
    "设施互联": "The city will promote connected facilities and shared services across the "
    "linked parks.",
    "1+N": 'The city will draw up and implement a "1+N" planning system for the cooperation zone.',
    "光明云谷": "The city will speed up major projects such as Guangming Cloud Valley and "
    "Guangming Town.",
    "配套支持政策": "The city will push for supporting policies to be issued.",
}


async def _computed(client: httpx.AsyncClient, model: ScriptedModel) -> dict[str, str]:
    for fragment, english in ENGLISH.items():
        model.script(TASK, english, when=fragment)
    # The glossary lacks 光明云谷: its name is asked once (a Chinese answer is re-asked).
    model.script(NAME_TASK, "光明云谷", "Guangming Cloud Valley", when="Name: 光明云谷")
    model.script(NAME_TASK, "Guangming Town", when="Name: 光明小镇")
    docs = {
        "2021": await add_text(client, MEETING_2021, published="2021-02-20"),
        "2023": await add_text(client, VISIT_2023, published="2023-09-19"),
        "2020": await add_text(client, "\n".join(REPORT_2020), title=REPORT_TITLE),
    }
    for doc in docs.values():
        url = f"/v1/documents/{doc['id']}/commitments?versions={TASK}:v2&wait=30"
        response = await client.post(url)
        assert response.status_code == 200, response.text
    assert model.calls(TASK) == len(ENGLISH)  # one call per concrete commitment
    assert model.calls(NAME_TASK) == 3
    return {year: doc["id"] for year, doc in docs.items()}


async def test_entities_most_linked_first(client: httpx.AsyncClient, model: ScriptedModel) -> None:
    await _computed(client, model)
    response = await client.get("/v1/entities")
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == len(body["items"]) >= 2
    first = body["items"][0]
    assert (first["key"], first["documents"]) == ("光明科学城", 3)
    assert (first["name_en"], first["name_source"]) == ("Guangming Science City", "glossary")
    cloud = next(e for e in body["items"] if e["key"] == "光明云谷")
    assert (cloud["name_en"], cloud["name_source"]) == ("Guangming Cloud Valley", "model")


async def test_one_entity_with_every_commitment_in_english(
    client: httpx.AsyncClient, model: ScriptedModel
) -> None:
    ids = await _computed(client, model)
    response = await client.get("/v1/entities/光明科學城")  # Traditional finds it too
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["entity"]["key"] == "光明科学城"
    rows = body["commitments"]
    assert [r["doc_id"] for r in rows] == [ids["2020"], ids["2021"], ids["2023"], ids["2023"]]
    assert all(r["english_status"] == "rendered" and r["english"] for r in rows)
    assert rows[1]["english"] == ENGLISH["優化光明科學城"] and rows[1]["paragraph_id"] == "p1"
    by_id = await client.get(f"/v1/entities/{body['entity']['id']}")
    assert by_id.json() == body
    alias = await client.get("/v1/entities/河套")
    assert alias.status_code == 200 and alias.json()["entity"]["key"] == "深港科技创新合作区"


async def test_unknown_entity_is_404(client: httpx.AsyncClient, model: ScriptedModel) -> None:
    await _computed(client, model)
    response = await client.get("/v1/entities/不存在的园区")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


async def test_commitments_filtered_by_entity_year_and_tier(
    client: httpx.AsyncClient, model: ScriptedModel
) -> None:
    ids = await _computed(client, model)
    everything = (await client.get("/v1/commitments")).json()
    assert everything["total"] == 7 + 1  # the general one of the report too
    assert {r["tier"] for r in everything["items"]} == {"concrete", "general"}
    in_2021 = (await client.get("/v1/commitments?entity=光明科学城&year=2021")).json()
    assert [r["doc_id"] for r in in_2021["items"]] == [ids["2021"]]
    general = (await client.get("/v1/commitments?tier=general")).json()
    assert [r["english_status"] for r in general["items"]] == ["not_rendered"]
    none = (await client.get("/v1/commitments?entity=不存在的园区")).json()
    assert none == {"items": [], "total": 0}


async def test_bad_parameters_are_422(client: httpx.AsyncClient) -> None:
    for query in ("year=abc", "year=3000", "tier=vague", "entity="):
        response = await client.get(f"/v1/commitments?{query}")
        assert response.status_code == 422, query
    long_key = "区" * 101
    assert (await client.get(f"/v1/entities/{long_key}")).status_code == 422
