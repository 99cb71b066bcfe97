"""Retries of an endpoint request: which failures are retried, and how long to wait between.

Backoff is exponential with jitter, or the server's Retry-After when it gives one.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Awaitable, Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import TypeVar

import openai

from service.errors import RetriesExhausted, ServiceError

BASE_DELAY_S = 0.5
MAX_DELAY_S = 30.0
MAX_RETRY_AFTER_S = 300.0
RETRYABLE_STATUS = frozenset({408, 409, 429})
Sleep = Callable[[float], Awaitable[None]]
_T = TypeVar("_T")


async def with_retries(
    send: Callable[[], Awaitable[_T]],
    *,
    max_retries: int,
    sleep: Sleep,
    rejected: Callable[[openai.APIStatusError], ServiceError],
    exhausted: Callable[[str], str],
) -> _T:
    """Await ``send()``, retried on 429/5xx/timeouts/connection errors.

    Another HTTP status raises ``rejected(exc)``; when the retries run out, ``RetriesExhausted``
    with ``exhausted(last failure)`` as its message.
    """
    last = "no attempt"
    for attempt in range(max_retries + 1):
        try:
            return await send()
        except openai.APITimeoutError:
            last, delay = "timeout", backoff_delay(attempt)
        except openai.APIConnectionError as exc:
            last, delay = f"connection error ({exc.__cause__ or exc})", backoff_delay(attempt)
        except openai.APIStatusError as exc:
            if not is_retryable_status(exc.status_code):
                raise rejected(exc) from None
            last = f"HTTP {exc.status_code}"
            asked = retry_after(exc.response.headers)
            delay = backoff_delay(attempt) if asked is None else asked
        if attempt < max_retries:
            await sleep(delay)
    raise RetriesExhausted(exhausted(last))


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUS or status >= 500


def backoff_delay(attempt: int, rand: Callable[[], float] = random.random) -> float:
    """Delay before retry ``attempt`` (0-based): half fixed, half jitter, capped."""
    cap = min(MAX_DELAY_S, BASE_DELAY_S * 2**attempt)
    return float(cap / 2 + rand() * cap / 2)


def retry_after(headers: Mapping[str, str], now: dt.datetime | None = None) -> float | None:
    """Seconds the server asked us to wait (retry-after-ms, Retry-After seconds or date)."""
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return min(MAX_RETRY_AFTER_S, max(0.0, float(ms) / 1000))
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return min(MAX_RETRY_AFTER_S, max(0.0, float(value)))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = now or dt.datetime.now(dt.UTC)
    return min(MAX_RETRY_AFTER_S, max(0.0, (when - now).total_seconds()))
