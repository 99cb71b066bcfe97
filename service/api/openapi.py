"""The OpenAPI document as the API's contract: what FastAPI leaves out, added in one place.

Routes list the error statuses only they return (``errors.error_responses(404, ...)``); what
holds for every operation is applied here, so a new route gets it without doing anything:

- every 422 has the API's ``ErrorOut`` body (FastAPI's ``HTTPValidationError`` is dropped),
  and every operation that takes parameters or a body documents one;
- with READER_API_KEY set, every operation behind the key declares the Bearer scheme and
  documents 401; without it none declares a scheme (nothing would enforce it).

``undocumented(document)`` lists the operations that break these rules (the tests run it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

ERROR_REF = "#/components/schemas/ErrorOut"
FASTAPI_ERROR_SCHEMAS = ("HTTPValidationError", "ValidationError")
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
# Error statuses whose body is not an ErrorOut: the readiness probe answers its own report.
OWN_ERROR_BODIES = {("get", "/readyz", "503")}

Operation = dict[str, Any]
PATH_PARAMETER = re.compile(r"\\\{[^/]+?\\\}")

# What each error status means in this API: the OpenAPI document describes every route's error
# responses from this table (``error_responses``), so one status reads the same everywhere.
STATUS_MEANINGS: dict[int, str] = {
    401: "unauthorized: the server sets READER_API_KEY and the Bearer token is missing or wrong.",
    403: "fetch_refused: fetching by URL is off (READER_API_FETCH), or the URL's host is "
    "private, loopback or link-local (READER_FETCH_ALLOW_PRIVATE).",
    404: "not_found: no such document or job (not_computed: the artifact is not computed yet).",
    409: "conflict: a job without force computes this artifact; wait for it first.",
    413: "too_large: the body is over READER_MAX_INPUT_BYTES (plus the envelope).",
    415: "unsupported_media: the Content-Type is not one this operation takes.",
    422: "invalid_request: the request breaks this document's schema (detail lists each "
    "problem); invalid_input, undecodable, empty: the content cannot be read as a document.",
    502: "model_error: the model answered, but not with anything usable.",
    503: "model_unavailable: the model endpoint cannot be reached; busy: too many jobs "
    "(Retry-After).",
    504: "timeout: the inline computation took longer than ?timeout.",
}


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, Operation]]:
    """``(method, path, operation)`` for every operation of the document."""
    for path, item in document.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


def allowed_methods(document: dict[str, Any], path: str) -> list[str]:
    """The methods the document lists for the path template(s) matching ``path``."""
    methods: set[str] = set()
    for template, item in document.get("paths", {}).items():
        if re.fullmatch(PATH_PARAMETER.sub("[^/]+", re.escape(template)), path):
            methods |= {m.upper() for m in item if m in METHODS}
    return sorted(methods)


def error_response(status: int) -> dict[str, Any]:
    return {
        "description": STATUS_MEANINGS[status],
        "content": {"application/json": {"schema": {"$ref": ERROR_REF}}},
    }


def shape(document: dict[str, Any], *, secured: bool) -> dict[str, Any]:
    """Apply the rules above to FastAPI's document (in place); returns it."""
    for _, _, operation in operations(document):
        responses = operation.setdefault("responses", {})
        if "parameters" in operation or "requestBody" in operation:
            responses["422"] = error_response(422)
        if not secured:
            operation.pop("security", None)
        elif operation.get("security"):
            responses["401"] = error_response(401)
    components = document.setdefault("components", {})
    for name in FASTAPI_ERROR_SCHEMAS:
        components.get("schemas", {}).pop(name, None)
    if not secured:
        components.pop("securitySchemes", None)
    return document


def undocumented(document: dict[str, Any], *, secured: bool) -> list[str]:
    """Operations breaking the rules: a missing 401/422, or an error body not ``ErrorOut``."""
    problems: list[str] = []
    for method, path, operation in operations(document):
        where = f"{method.upper()} {path}"
        responses = operation.get("responses", {})
        takes_input = "parameters" in operation or "requestBody" in operation
        if takes_input and "422" not in responses:
            problems.append(f"{where}: no 422")
        if secured and path.startswith("/v1/") and "401" not in responses:
            problems.append(f"{where}: no 401")
        for status, response in responses.items():
            own = (method, path, status) in OWN_ERROR_BODIES
            if status[0] in "45" and not own and _schema_ref(response) != ERROR_REF:
                problems.append(f"{where}: {status} is not an ErrorOut")
    return problems


def _schema_ref(response: dict[str, Any]) -> str | None:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    ref: str | None = schema.get("$ref")
    return ref
