"""Library: documents in and out of the store, idempotent by content, filters, artifacts."""

from __future__ import annotations

import datetime as dt

import pytest

from service.config import Settings
from service.errors import EmptyInput, NotFound
from service.library import Library
from service.models import DocumentMeta
from service.store.store import Store
from tests.samples import SEEDS


@pytest.fixture
def library(settings: Settings) -> Library:
    return Library(settings, Store(settings.db_url))


def test_adding_the_same_content_twice_returns_the_same_document(library: Library) -> None:
    first, created = library.add_path(SEEDS[0])
    again, created_again = library.add_bytes(SEEDS[0].read_bytes(), "copy.txt")
    assert created and not created_again
    assert again.id == first.id
    assert library.get(first.id).text == first.text


def test_user_metadata_wins_and_is_marked_as_user_supplied(library: Library) -> None:
    meta = DocumentMeta(title_en="Reform meeting", outlet="Test outlet")
    doc, _ = library.add_bytes("深圳要加快建设光明科学城。".encode(), "upload", meta)
    assert doc.meta.title_en == "Reform meeting"
    assert doc.meta.provenance["outlet"] == "user"


def test_list_filters_by_date_and_outlet_and_paginates(library: Library) -> None:
    for path in SEEDS:
        library.add_path(path)
    page, total = library.list(limit=2)
    assert total == len(SEEDS) and len(page) == 2
    dated, _ = library.list(date_from=dt.date(2023, 1, 1))
    assert dated and all(d.meta.date and d.meta.date >= dt.date(2023, 1, 1) for d in dated)
    southern, _ = library.list(outlet="南方都市报")
    assert [d.source_name for d in southern] == [SEEDS[1].name]


def test_delete_removes_the_document_and_unknown_ids_are_not_found(library: Library) -> None:
    doc, _ = library.add_path(SEEDS[2])
    library.delete(doc.id)
    assert library.find(doc.id) is None
    with pytest.raises(NotFound):
        library.delete(doc.id)


def test_bad_input_is_a_clear_error(library: Library) -> None:
    with pytest.raises(EmptyInput):
        library.add_bytes(b"   \n", "blank.txt")


def test_chunks_tile_the_document(library: Library) -> None:
    doc, _ = library.add_path(SEEDS[4])
    chunks = library.chunks(doc, 300)
    assert "".join(c.text for c in chunks) == doc.text
    assert len(chunks) > 1
