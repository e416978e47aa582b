"""Recipe: ffn-async metrics through the OpenTelemetry metrics API (``pip install
opentelemetry-api``, plus ``opentelemetry-sdk`` and an exporter in the application).

:class:`OpenTelemetryObserver` records the client's events (:mod:`ffn_async.observe`) on
instruments of a ``Meter``; pass it as ``FFNClient(..., observer=...)`` and the TokenManager of
that client reports its refreshes, lock waits and store calls to it too. It uses only the API
package: without an SDK configured the instruments are no-ops. Attribute values are bounded:
operation ids (or path templates), methods, statuses and exception class names.

Run ``python examples/metrics_opentelemetry.py`` after ``ffn-async login``: it configures the
SDK with a console exporter, calls the API once and prints the metrics on exit.
"""

from __future__ import annotations

import asyncio

from opentelemetry import metrics

from ffn_async import FFNClient
from ffn_async.observe.events import (
    Event,
    LockWaitEvent,
    RefreshEvent,
    RequestEvent,
    RetryEvent,
    StoreEvent,
)

__all__ = ["OpenTelemetryObserver"]


class OpenTelemetryObserver:
    """An observer recording every ffn-async event on ``meter`` (default: ``ffn_async``'s meter
    from the global MeterProvider)."""

    def __init__(self, meter: metrics.Meter | None = None) -> None:
        meter = meter or metrics.get_meter("ffn_async")
        self.requests = meter.create_counter(
            "ffn.requests", unit="{request}", description="HTTP attempts by operation and status"
        )
        self.request_duration = meter.create_histogram(
            "ffn.request.duration", unit="s", description="Duration of one HTTP attempt"
        )
        self.retries = meter.create_counter(
            "ffn.retries", unit="{retry}", description="Attempts repeated after a failure"
        )
        self.refreshes = meter.create_counter(
            "ffn.token.refreshes", unit="{refresh}", description="Token-endpoint rotations"
        )
        self.refresh_duration = meter.create_histogram(
            "ffn.token.refresh.duration", unit="s", description="Duration of one rotation"
        )
        self.lock_wait = meter.create_histogram(
            "ffn.token.lock.wait", unit="s", description="Time waited for the refresh lock"
        )
        self.store_duration = meter.create_histogram(
            "ffn.token.store.duration", unit="s", description="Duration of one token-store call"
        )

    def __call__(self, event: Event) -> None:
        match event:
            case RequestEvent():
                status = str(event.status) if event.status is not None else event.error or ""
                where = {"ffn.operation": event.operation, "http.request.method": event.method}
                self.requests.add(1, where | {"http.response.status_code": status})
                self.request_duration.record(event.duration, where)
            case RetryEvent():
                reason = str(event.status) if event.status is not None else event.error or ""
                self.retries.add(
                    1,
                    {
                        "ffn.operation": event.operation,
                        "http.request.method": event.method,
                        "ffn.retry.reason": reason,
                    },
                )
            case RefreshEvent():
                trigger = "unauthorized" if event.unauthorized else "due"
                attributes = {"ffn.refresh.outcome": event.outcome, "ffn.refresh.trigger": trigger}
                self.refreshes.add(1, attributes)
                self.refresh_duration.record(event.duration, attributes)
            case LockWaitEvent():
                self.lock_wait.record(event.waited, {"ffn.lock.acquired": event.acquired})
            case StoreEvent():
                outcome = event.error or "ok"
                self.store_duration.record(
                    event.duration,
                    {"ffn.store.operation": event.operation, "ffn.store.outcome": outcome},
                )


async def main() -> None:
    from ffn_env import open_account
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import (
        ConsoleMetricExporter,
        PeriodicExportingMetricReader,
    )

    reader = PeriodicExportingMetricReader(ConsoleMetricExporter())
    provider = MeterProvider(metric_readers=[reader])
    metrics.set_meter_provider(provider)
    store, auth = await open_account()
    try:
        async with FFNClient(auth, observer=OpenTelemetryObserver()) as ffn:
            user = await ffn.shared.users.current()
            print(f"logged in as {user.user_id}")
    finally:
        await store.close()
        provider.shutdown()  # exports what was recorded


if __name__ == "__main__":
    asyncio.run(main())
