"""Retry policy: bounded attempts, exponential backoff, ``Retry-After`` honoured."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

__all__ = ["RETRY_STATUSES", "RetryPolicy", "Timeouts", "parse_retry_after"]

# 429 Too Many Requests and the transient server errors (not 501/505: those are final)
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (RFC 9110 section 10.2.3).

    Either a non-negative integer of seconds or an HTTP-date; a date in the past
    means "now" (0). Anything else is ignored (None), as the RFC allows.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" in the date: treat as UTC, like HTTP-dates are
        when = when.replace(tzinfo=UTC)
    current = now if now is not None else datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 15.0
    read: float = 60.0  # between two chunks of a response, not the whole download
    write: float = 60.0
    pool: float = 15.0

    def to_httpx(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry 429/5xx answers and connection failures.

    The delay before retry ``n`` (1-based) is ``base_delay * 2**(n-1)`` capped at
    ``max_delay``; a ``Retry-After`` header replaces it, capped at ``max_retry_after``
    so that a hostile or confused server cannot stall us indefinitely.
    """

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 120.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_retry_after < 0:
            raise ValueError("RetryPolicy delays must not be negative")

    def backoff(self, retry: int) -> float:
        """Delay before the ``retry``-th retry (1-based), without ``Retry-After``."""
        return float(min(self.max_delay, self.base_delay * (2 ** (retry - 1))))

    def delay(self, retry: int, retry_after: str | None) -> float:
        hinted = parse_retry_after(retry_after)
        if hinted is not None:
            return min(hinted, self.max_retry_after)
        return self.backoff(retry)
