"""Backoff policy: exponential with jitter, and the server's Retry-After when it gives one."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime

BASE_DELAY_S = 0.5
MAX_DELAY_S = 30.0
MAX_RETRY_AFTER_S = 300.0
RETRYABLE_STATUS = frozenset({408, 409, 429})


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
