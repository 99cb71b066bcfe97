"""Schemathesis against the app's own OpenAPI schema: no generated request gets a 5xx.

Positive and negative cases for every operation, a few examples each (the whole file stays
well under a minute). The compute endpoints (POST summary/translation/commitments and
/v1/summaries) are left out: a 502/503 there reports a model failure, which is their job,
and they are covered by the job tests with a mocked model. The readiness probe sees a
healthy mocked endpoint, so a 503 from it would be a real failure too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import httpx
import hypothesis
import pytest
import respx
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis.generation import GenerationMode
from schemathesis.python import asgi

from service.api.app import create_app
from service.config import Settings
from service.reader import Reader
from tests.fakes import build_reader
from tests.samples import TEXT

MAX_EXAMPLES = 10
COMPUTE = ("/summary", "/translation", "/commitments", "/v1/summaries")


@pytest.fixture
def fuzz_reader(remote_settings: Settings, endpoint: respx.MockRouter) -> Iterator[Reader]:
    """A reader with one document, on an endpoint whose readiness probe succeeds."""
    endpoint.get("/models").mock(return_value=httpx.Response(200, json={"data": []}))
    reader = build_reader(remote_settings)
    reader.library.add_bytes(TEXT.encode(), "seed.txt")
    yield reader
    reader.library.store.close()


def fuzzed(path: str, method: str) -> bool:
    return not (method == "POST" and path.endswith(COMPUTE))


def test_no_generated_request_gets_a_server_error(
    remote_settings: Settings, fuzz_reader: Reader
) -> None:
    app = create_app(remote_settings, reader=fuzz_reader)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [r.ok() for r in schema.get_all_operations()]
    checked = [op for op in operations if fuzzed(op.path, op.method.upper())]
    assert len(checked) >= 9
    failures: list[str] = []
    seen: Counter[int] = Counter()
    # One client (one event loop, one lifespan) for the whole run, as a server would have.
    with asgi.get_client(app) as client:
        for operation in checked:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                failures += run_operation(operation, mode, client, seen)
    assert not failures, "\n".join(failures[:10])
    assert seen.total() >= 100 and {200, 201, 404, 422} <= set(seen), seen


def run_operation(
    operation: object, mode: GenerationMode, client: object, seen: Counter[int]
) -> list[str]:
    failures: list[str] = []

    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))  # type: ignore[attr-defined]
    def check(case: schemathesis.Case) -> None:
        response = case.call(session=client)  # type: ignore[arg-type]
        seen[response.status_code] += 1
        if response.status_code >= 500:
            failures.append(f"{response.status_code} {case.as_curl_command()}: {response.text}")

    try:
        check()
    except hypothesis.errors.Unsatisfiable:
        # Nothing to break: an operation without parameters or body has no negative cases.
        assert mode == GenerationMode.NEGATIVE
    return failures
