"""The facade the CLI and the API share: stored artifacts, shared computations, variants."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import respx

from service.artifacts import KINDS, CommitmentsArtifact
from service.checks import repairs
from service.config import Settings
from service.reader import Reader
from service.tasks.commitments.extract import RECALL_TASK, TASK
from tests.fakes import CHAT, ScriptedModel, commitments_answer
from tests.samples import LASER_RECORD, PLEDGES, SCHOOLS_RECORD


def _script_one_run(model: ScriptedModel) -> None:
    model.script(TASK, commitments_answer(LASER_RECORD, SCHOOLS_RECORD))
    model.script(RECALL_TASK, commitments_answer())


async def test_compute_stores_the_artifact_and_a_second_compute_makes_no_call(
    reader: Reader, model: ScriptedModel
) -> None:
    doc, _ = reader.library.add_bytes(PLEDGES.encode(), "pledges.txt")
    assert reader.stored(doc.id, "commitments") is None
    _script_one_run(model)
    first = await reader.compute(doc.id, "commitments")
    assert isinstance(first, CommitmentsArtifact) and first.commitments
    calls = model.calls(TASK) + model.calls(RECALL_TASK)
    again = await reader.compute(doc.id, "commitments")
    assert again == first
    assert model.calls(TASK) + model.calls(RECALL_TASK) == calls
    assert reader.stored(doc.id, "commitments") == first


async def test_concurrent_computes_of_one_artifact_share_one_run(
    reader: Reader, model: ScriptedModel
) -> None:
    doc, _ = reader.library.add_bytes(PLEDGES.encode(), "pledges.txt")
    _script_one_run(model)  # scripted once: a second run would find no reply and fail
    results = await asyncio.gather(*(reader.compute(doc.id, "commitments") for _ in range(3)))
    assert results[0] == results[1] == results[2]
    assert model.calls(TASK) == len(reader.library.chunks(doc, reader.budget))


async def test_variant_depends_on_prompt_versions_and_model(reader: Reader) -> None:
    base = reader.variant("translation")
    assert reader.variant("translation") == base
    assert reader.variant("commitments") != base
    with pytest.raises(Exception, match="v9"):
        reader.variant("translation", {"translate": "v9"})  # unknown version: a clear error
    reader.gateway.model = "another-model"
    assert reader.variant("translation") != base


async def test_only_the_translation_variant_depends_on_the_repairs_version(
    reader: Reader, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = {kind: reader.variant(kind) for kind in KINDS}
    monkeypatch.setattr(repairs, "VERSION", repairs.VERSION + "-next")
    after = {kind: reader.variant(kind) for kind in KINDS}
    assert [kind for kind in KINDS if after[kind] != before[kind]] == ["translation"]


async def test_a_summary_of_the_translation_is_stale_when_the_translation_would_change(
    reader: Reader, monkeypatch: pytest.MonkeyPatch
) -> None:
    single = {"summary": "v1"}  # the JSON summary of the Chinese: independent of translation
    sections = {"summary": "v2"}  # the summary of the English translation
    before = [reader.variant("summary", single), reader.variant("summary", sections)]
    monkeypatch.setattr(repairs, "VERSION", repairs.VERSION + "-next")
    after = [reader.variant("summary", single), reader.variant("summary", sections)]
    assert after[0] == before[0] and after[1] != before[1]
    pinned = {**sections, "translate": "v2"}
    assert reader.variant("summary", pinned) != reader.variant("summary", sections)


async def test_closing_the_reader_cancels_computations_still_running(
    remote_settings: Settings,
) -> None:
    started = asyncio.Event()

    async def never_answers(request: httpx.Request) -> httpx.Response:
        started.set()
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    with respx.mock:
        respx.post(CHAT).mock(side_effect=never_answers)
        async with Reader.open(remote_settings, http_client=httpx.AsyncClient()) as reader:
            doc, _ = reader.library.add_bytes(PLEDGES.encode(), "pledges.txt")
            caller = asyncio.ensure_future(reader.compute(doc.id, "commitments"))
            await asyncio.wait_for(started.wait(), 10)
            caller.cancel()  # the caller gives up (Ctrl-C); the shielded computation goes on
            running = list(reader._inflight.values())
            assert running and not running[0].done()
    assert running[0].cancelled()
