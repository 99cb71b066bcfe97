from service.artifacts import ChunkOutcome, TranslatedParagraph, status_of
from service.checks.quality import QualityReport


def _outcomes(*statuses: str) -> list[ChunkOutcome]:
    return [ChunkOutcome(chunk_id=f"c{i}", status=s) for i, s in enumerate(statuses)]  # type: ignore[arg-type]


def test_status_ok_only_when_every_chunk_succeeded() -> None:
    assert status_of(_outcomes("ok", "ok")) == "ok"
    assert status_of(_outcomes("ok", "failed")) == "partial"
    assert status_of(_outcomes("ok", "fallback")) == "partial"
    assert status_of(_outcomes("fallback", "failed")) == "partial"
    assert status_of(_outcomes("failed", "failed")) == "failed"


def test_artifacts_stored_before_the_repairs_still_load() -> None:
    stored = {"id": "p1", "zh": "一", "en": "One", "chunk_id": "c0"}  # no ``repairs`` field
    assert TranslatedParagraph.model_validate(stored).repairs.empty
    report = QualityReport.model_validate({"issues": [], "numbers_total": 3})
    assert (report.numbers_repaired, report.terms_replaced) == (0, 0)
