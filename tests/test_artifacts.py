from service.artifacts import ChunkOutcome, status_of


def _outcomes(*statuses: str) -> list[ChunkOutcome]:
    return [ChunkOutcome(chunk_id=f"c{i}", status=s) for i, s in enumerate(statuses)]  # type: ignore[arg-type]


def test_status_ok_only_when_every_chunk_succeeded() -> None:
    assert status_of(_outcomes("ok", "ok")) == "ok"
    assert status_of(_outcomes("ok", "failed")) == "partial"
    assert status_of(_outcomes("ok", "fallback")) == "partial"
    assert status_of(_outcomes("fallback", "failed")) == "partial"
    assert status_of(_outcomes("failed", "failed")) == "failed"
