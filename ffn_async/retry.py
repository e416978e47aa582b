"""The one retry policy: which failures are retried, and how long to wait before the next try.

Idempotent requests (GET, HEAD, OPTIONS, PUT, DELETE) are retried on 429, 502, 503, 504 and on
transport errors. A non-idempotent request (POST, PATCH) is retried only when it provably never
reached the server: the connection could not be established. FFN documents no idempotency keys,
so a lost answer to a POST may mean the order was created; the caller must look it up (for
example by ``merchantOutboundNumber``) rather than blindly send it again.

Waits use exponential backoff with full jitter, capped, and honour ``Retry-After`` (seconds or
HTTP date, RFC 9110 §10.2.3); the whole sequence is bounded by attempts and by elapsed time.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime

import attrs

__all__ = ["IDEMPOTENT_METHODS", "RetryPolicy", "parse_retry_after"]

# The one wait between attempts (the pipeline's and safe creates'): tests replace it to
# observe the waits without sleeping.
_sleep = asyncio.sleep

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), or ``None``."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a naive result means no zone was given
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _full_jitter(ceiling: float) -> float:
    return random.uniform(0.0, ceiling)


@attrs.frozen
class RetryPolicy:
    """How many times and how patiently requests are retried. Pass one to ``FFNClient(retry=)``.

    Attributes:
        max_attempts: tries in all, the first included (1 disables retries).
        max_elapsed: no retry starts after this many seconds since the first try.
        base_delay, max_delay: backoff grows ``base_delay * 2**n`` up to ``max_delay``.
        max_retry_after: a server's ``Retry-After`` longer than this is not waited for; the
            error is raised instead, so a worker never sleeps for an hour unasked.
        statuses: HTTP statuses worth another try for idempotent requests.
        jitter: maps a ceiling to the actual wait; replace it for deterministic tests.
    """

    max_attempts: int = 4
    max_elapsed: float = 60.0
    base_delay: float = 0.25
    max_delay: float = 8.0
    max_retry_after: float = 120.0
    statuses: frozenset[int] = frozenset({429, 502, 503, 504})
    jitter: Callable[[float], float] = _full_jitter

    def is_idempotent(self, method: str, override: bool | None = None) -> bool:
        """Whether ``method`` may be repeated safely (``override`` wins when given)."""
        return method.upper() in IDEMPOTENT_METHODS if override is None else override

    def retries_status(self, status: int, *, idempotent: bool) -> bool:
        """Whether a response with ``status`` deserves another try."""
        return idempotent and status in self.statuses

    def retries_transport_error(self, *, sent: bool, idempotent: bool) -> bool:
        """Whether a failed connection deserves another try (``sent``: it may have arrived)."""
        return idempotent or not sent

    def delay(
        self, attempt: int, *, headers: Mapping[str, str] | None = None, started: float
    ) -> float | None:
        """Seconds to wait before try ``attempt + 1``, or ``None`` to give up.

        ``attempt`` counts tries made so far (1 after the first); ``started`` is the
        ``time.monotonic()`` of the first try.
        """
        if attempt >= self.max_attempts:
            return None
        retry_after = parse_retry_after(headers.get("Retry-After")) if headers else None
        if retry_after is not None:
            if retry_after > self.max_retry_after:
                return None
            wait = retry_after
        else:
            wait = self.jitter(min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))
        if time.monotonic() - started + wait > self.max_elapsed:
            return None
        return wait


#: Retries switched off: every failure is raised at once.
NO_RETRY = RetryPolicy(max_attempts=1)
