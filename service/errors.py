"""One error tree for the whole service: the HTTP status lives on the class.

The API renders every ``ServiceError`` as ``{"code", "message", "detail"?}`` with ``status``;
the CLI prints one red line and exits non-zero.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    status: int = 500
    code: str = "internal_error"
    # Set by the gateway on a model call that failed (its CallRecord: attempts, tokens spent),
    # so the task's provenance counts that call too.
    call_record: Any = None

    def __init__(self, message: str, *, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.detail is not None:
            body["detail"] = self.detail
        return body


class InputError(ServiceError):
    """Bad input from the user: undecodable, empty, invalid."""

    status = 422
    code = "invalid_input"


class UndecodableInput(InputError):
    code = "undecodable"


class EmptyInput(InputError):
    code = "empty"


class FetchRefused(InputError):
    """A URL the service will not fetch: fetching is off, or the address is not public."""

    status = 403
    code = "fetch_refused"


class InputTooLarge(ServiceError):
    status = 413
    code = "too_large"


class UnsupportedMedia(ServiceError):
    status = 415
    code = "unsupported_media"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class NotComputed(NotFound):
    code = "not_computed"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class ConfigError(ServiceError):
    """Misconfiguration the operator must fix (bad prompt file, missing extra, ...)."""

    status = 500
    code = "config_error"


class ModelError(ServiceError):
    """The model endpoint answered, but not with something we can use."""

    status = 502
    code = "model_error"


class ModelUnavailable(ServiceError):
    """The model endpoint cannot be reached (connection refused, exhausted retries on 5xx)."""

    status = 503
    code = "model_unavailable"


# --- llm gateway (service/llm/) ------------------------------------------------------------


class ModelRefused(ModelError):
    """The model declined (message.refusal set, or finish_reason content_filter)."""

    code = "model_refused"


class ModelTruncated(ModelError):
    """The answer hit max_tokens even after one retry with a larger budget."""

    code = "model_truncated"


class ModelInvalidOutput(ModelError):
    """The output was not valid JSON of the schema after the allowed re-asks."""

    code = "model_invalid_output"


class RetriesExhausted(ModelUnavailable):
    """429/5xx/timeouts/connection errors persisted through every retry."""

    code = "retries_exhausted"


# --- local model server (service/llm/local.py) -------------------------------------------------
# Start-up failures of the embedded llama.cpp server; each message says how to fix it.


class LocalExtraMissing(ConfigError):
    code = "local_extra_missing"


class LocalModelMissing(ConfigError):
    code = "local_model_missing"


class LocalModelPartsMissing(LocalModelMissing):
    """A part package of an embedded model is not installed, or not at its pinned version."""

    code = "local_model_parts_missing"


class LocalModelCorrupt(LocalModelMissing):
    """The part packages assemble into a file of the wrong size or sha256."""

    code = "local_model_corrupt"


class LocalPortBusy(ConfigError):
    code = "local_port_busy"


class LocalServerFailed(ModelUnavailable):
    """The local server exited during start-up or never became ready."""

    code = "local_server_failed"


# --- batch api (service/run/prefill.py) ------------------------------------------------------


class Deferred(ModelUnavailable):
    """A cache miss while prefilling for the Batch API: the request was collected, not sent.

    A ``ModelUnavailable`` on purpose, not a ``ModelError``: tasks record a ModelError as a
    failed chunk and carry on, but let ModelUnavailable propagate, so a deferred call aborts
    the task run instead of being saved as a failure.
    """

    code = "deferred"


class BatchIncomplete(ModelUnavailable):
    """A Batch API batch failed, expired or was cancelled before answering every request."""

    code = "batch_incomplete"


# --- api (service/api/) ----------------------------------------------------------------------


class Unauthorized(ServiceError):
    """Missing or wrong API key (READER_API_KEY); answered with WWW-Authenticate: Bearer."""

    status = 401
    code = "unauthorized"


class Busy(ServiceError):
    """Too many jobs queued or running; answered with Retry-After."""

    status = 503
    code = "busy"


class TimedOut(ServiceError):
    """An inline computation took longer than the caller allowed."""

    status = 504
    code = "timeout"
