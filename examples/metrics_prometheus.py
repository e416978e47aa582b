"""Recipe: ffn-async metrics in Prometheus (``pip install prometheus-client``).

:class:`PrometheusObserver` turns the client's events (:mod:`ffn_async.observe`) into
counters and histograms; pass it as ``FFNClient(..., observer=...)`` and the TokenManager of
that client reports its refreshes, lock waits and store calls to it too. Label values are
bounded: operation ids (or path templates), methods, statuses and exception class names, never
URLs with ids, account keys or tokens.

Run ``python examples/metrics_prometheus.py`` after ``ffn-async login``: it calls the API once
and prints what Prometheus would scrape (in a service, ``prometheus_client.start_http_server``
or your web framework's ``/metrics`` route serves ``REGISTRY`` instead).
"""

from __future__ import annotations

import asyncio

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest

from ffn_async import FFNClient
from ffn_async.observe.events import (
    Event,
    LockWaitEvent,
    RefreshEvent,
    RequestEvent,
    RetryEvent,
    StoreEvent,
)

__all__ = ["PrometheusObserver"]

# Store and lock calls are fast (a millisecond) or slow (a contended lock, a failing store).
_STORE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class PrometheusObserver:
    """An observer recording every ffn-async event in ``registry`` (default: the global one)."""

    def __init__(self, registry: CollectorRegistry = REGISTRY, prefix: str = "ffn") -> None:
        self.requests = Counter(
            f"{prefix}_requests",
            "HTTP attempts by operation, method and status (or transport error)",
            ["operation", "method", "status"],
            registry=registry,
        )
        self.request_seconds = Histogram(
            f"{prefix}_request_duration_seconds",
            "Duration of one HTTP attempt, body included",
            ["operation", "method"],
            registry=registry,
        )
        self.retries = Counter(
            f"{prefix}_retries",
            "Attempts repeated after a retryable status or transport error",
            ["operation", "method", "reason"],
            registry=registry,
        )
        self.refreshes = Counter(
            f"{prefix}_token_refreshes",
            "Token-endpoint rotations by this process, by outcome and trigger",
            ["outcome", "trigger"],
            registry=registry,
        )
        self.refresh_seconds = Histogram(
            f"{prefix}_token_refresh_duration_seconds",
            "Duration of one token-endpoint rotation",
            registry=registry,
        )
        self.lock_wait_seconds = Histogram(
            f"{prefix}_token_lock_wait_seconds",
            "Time waited for the token store's refresh lock",
            ["acquired"],
            buckets=_STORE_BUCKETS,
            registry=registry,
        )
        self.store_seconds = Histogram(
            f"{prefix}_token_store_duration_seconds",
            "Duration of one token-store call (load, save, delete, lock)",
            ["operation", "outcome"],
            buckets=_STORE_BUCKETS,
            registry=registry,
        )

    def __call__(self, event: Event) -> None:
        match event:
            case RequestEvent():
                status = str(event.status) if event.status is not None else event.error or ""
                self.requests.labels(event.operation, event.method, status).inc()
                self.request_seconds.labels(event.operation, event.method).observe(event.duration)
            case RetryEvent():
                reason = str(event.status) if event.status is not None else event.error or ""
                self.retries.labels(event.operation, event.method, reason).inc()
            case RefreshEvent():
                trigger = "unauthorized" if event.unauthorized else "due"
                self.refreshes.labels(event.outcome, trigger).inc()
                self.refresh_seconds.observe(event.duration)
            case LockWaitEvent():
                acquired = "true" if event.acquired else "false"
                self.lock_wait_seconds.labels(acquired).observe(event.waited)
            case StoreEvent():
                outcome = event.error or "ok"
                self.store_seconds.labels(event.operation, outcome).observe(event.duration)


async def main() -> None:
    from ffn_env import open_account

    store, auth = await open_account()
    try:
        async with FFNClient(auth, observer=PrometheusObserver()) as ffn:
            user = await ffn.shared.users.current()
            print(f"logged in as {user.user_id}\n")
    finally:
        await store.close()
    print(generate_latest(REGISTRY).decode())


if __name__ == "__main__":
    asyncio.run(main())
