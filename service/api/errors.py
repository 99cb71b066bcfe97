"""Every error the API returns has one shape: ``{"code", "message", "detail"?}``.

One handler renders every ``ServiceError`` with the status on its class; request validation
errors become 422 and Starlette's own HTTP errors (404 route, 405 with every method of the path
in Allow, 413 body limit) keep their status, all in the same shape; a body FastAPI cannot parse
(its 400) is a 422 like any other unreadable body. Anything else is a 500 ``internal_error``
that says nothing about its cause (the traceback goes to the log). ``error_responses`` gives
a route's error statuses for the OpenAPI document. Secrets are scrubbed from every error body,
because upstream error messages can echo what we sent.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from service.api.openapi import STATUS_MEANINGS, allowed_methods
from service.api.schemas import ErrorOut
from service.errors import Busy, ServiceError, Unauthorized

log = logging.getLogger("service.api")

REDACTED = "[redacted]"
# Provider key shapes, in case a key we were never told about is echoed (sk-..., sk-proj-...).
KEY_PATTERN = re.compile(r"\b(sk|rk|pk)-[A-Za-z0-9_\-]{8,}")
RETRY_AFTER_S = 5
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "too_large",
    415: "unsupported_media",
}


class Redactor:
    """Replaces known secret values (and key-shaped strings) in error bodies."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self.secrets:
            value = value.replace(secret, REDACTED)
        return KEY_PATTERN.sub(REDACTED, value)

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses, each with the ``ErrorOut`` body."""
    return {s: {"model": ErrorOut, "description": STATUS_MEANINGS[s]} for s in statuses}


def error_body(code: str, message: str, detail: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if detail is not None:
        body["detail"] = detail
    return body


def install_error_handlers(app: FastAPI, redactor: Redactor) -> None:
    """Register the handlers; ``redactor`` knows the secrets to keep out of bodies."""

    def respond(
        status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> JSONResponse:
        return JSONResponse(redactor.value(body), status_code=status, headers=headers)

    async def service_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ServiceError)
        return respond(exc.status, exc.to_dict(), _headers_for(exc))

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        detail = [_issue(e) for e in exc.errors()]
        message = "; ".join(f"{d['loc']}: {d['msg']}" for d in detail[:5])
        body = error_body("invalid_request", f"Invalid request: {message}", detail)
        return respond(422, body)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 400:
            # Only the frameworks raise HTTPException; their 400 is a body FastAPI could not
            # parse (not UTF-8), which the API answers like any other unreadable body: 422.
            return respond(422, unparsable_body(exc))
        code = HTTP_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        headers = dict(exc.headers) if exc.headers else {}
        if exc.status_code == 405:
            # Starlette names only the first route's methods; the document knows them all.
            headers["Allow"] = ", ".join(allowed_methods(request.app.openapi(), request.url.path))
        return respond(exc.status_code, error_body(code, message), headers or None)

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        body = error_body("internal_error", "Internal error; the server log has the details.")
        return respond(500, body)

    app.add_exception_handler(ServiceError, service_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)


def unparsable_body(exc: HTTPException) -> dict[str, Any]:
    issue = {"loc": "body", "msg": str(exc.detail), "type": "body_unparsable"}
    return error_body("invalid_request", f"Invalid request: body: {exc.detail}", [issue])


def _headers_for(exc: ServiceError) -> dict[str, str] | None:
    if isinstance(exc, Unauthorized):
        return {"WWW-Authenticate": 'Bearer realm="policy-reader"'}
    if isinstance(exc, Busy):
        return {"Retry-After": str(RETRY_AFTER_S)}
    return None


def _issue(error: Any) -> dict[str, Any]:
    """One validation problem without the offending input (it may be huge or secret)."""
    loc = ".".join(str(part) for part in error.get("loc", ()))
    return {"loc": loc, "msg": str(error.get("msg", "")), "type": str(error.get("type", ""))}
