"""The tracker's English on the embedded model, for real: a few calls, offline.

A short Traditional-script text about a zone the glossary names (光明科學城) and a project it
does not (光明雲谷) goes through the commitments task with the embedded model's own strategy
(rules_en): each concrete commitment gets one English sentence, the unnamed entity one English
name. Then the tracker, read from the store with no model call, shows them: every commitment
about the zone in English, the project's name from the model, no Chinese in either.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.config import Settings, get_settings
from service.reader import Reader
from service.tasks.commitments.tracker import Tracker
from tests.fakes import isolate_embedded
from tests.test_e2e_local import CJK, HAS_LLAMA

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not HAS_LLAMA, reason="llama-cpp-python[server] is not importable"),
]

DOCUMENT = "會議強調，要高標準建設光明科學城，加快光明雲谷建設。\n"


@pytest.fixture(scope="module")
def tracker(packaged_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tracker]:
    root = tmp_path_factory.mktemp("e2e-tracker")
    with pytest.MonkeyPatch.context() as mp:
        isolate_embedded(mp, root / "cache", packaged_model)
        yield asyncio.run(_compute(get_settings()))
    get_settings.cache_clear()


async def _compute(settings: Settings) -> Tracker:
    assert settings.uses_local_model
    async with Reader.open(settings) as reader:
        doc, _ = reader.library.add_bytes(DOCUMENT.encode("utf-8"), "e2e-tracker.txt")
        await reader.compute(doc.id, "commitments")
        return reader.library.tracker(reader.glossary)


def test_every_commitment_about_the_zone_is_in_english(tracker: Tracker) -> None:
    about = tracker.about("光明科学城")
    assert about, "the zone is linked"
    for c in about:
        assert c.tier == "concrete" and c.english_status == "rendered", c
        assert c.english and not CJK.search(c.english)


def test_the_name_the_glossary_lacks_comes_from_the_model(tracker: Tracker) -> None:
    zone, cloud = tracker.entity("光明科學城"), tracker.entity("光明雲谷")
    assert zone is not None and zone.name_source == "glossary"
    assert cloud is not None and cloud.name_source == "model"
    assert cloud.name_en and not CJK.search(cloud.name_en)
