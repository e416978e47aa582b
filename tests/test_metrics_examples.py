"""The metrics recipes (examples/metrics_*.py) against the fake FFN server and the real
libraries' in-memory readers: a retried request, a token refresh and its store calls end up as
the metrics the recipes document. prometheus-client and opentelemetry-sdk are in the ``dev``
extra for these tests only; neither is a dependency of ffn-async."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from prometheus_client import CollectorRegistry

from ffn_async import FFNClient, RetryPolicy, TokenManager
from ffn_async.observe.events import Observer, RequestEvent
from ffn_async.testing import FakeFFN
from tests.helpers import examples_importable
from token_stores import MemoryTokenStore

FAST = RetryPolicy(base_delay=0.01, max_delay=0.02)


@pytest.fixture
def recipes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with examples_importable(monkeypatch, "metrics_prometheus", "metrics_opentelemetry"):
        yield


@pytest.fixture
async def fake() -> AsyncIterator[FakeFFN]:
    server = FakeFFN()
    async with server.run():
        yield server


async def exercise(fake: FakeFFN, observer: Observer) -> None:
    """One retried request (a forced 503) and one token refresh."""
    auth = TokenManager(
        fake.credentials, MemoryTokenStore(), key="acme", environment=fake.environment
    )
    await auth.store_token(fake.token())
    async with FFNClient(auth, retry=FAST, observer=observer) as ffn:
        fake.faults.inject_next("unavailable")
        user = await ffn.shared.users.current()
        assert user.user_id == "MERC"
        await auth.refresh()


async def test_prometheus_recipe(recipes: None, fake: FakeFFN) -> None:
    recipe = importlib.import_module("metrics_prometheus")
    registry = CollectorRegistry()
    await exercise(fake, recipe.PrometheusObserver(registry))

    def value(name: str, **labels: str) -> float | None:
        result: float | None = registry.get_sample_value(name, labels)
        return result

    op = {"operation": "shared.UsersGetCurrent", "method": "GET"}
    assert value("ffn_requests_total", status="503", **op) == 1
    assert value("ffn_requests_total", status="200", **op) == 1
    assert value("ffn_retries_total", reason="503", **op) == 1
    assert value("ffn_request_duration_seconds_count", **op) == 2
    assert value("ffn_token_refreshes_total", outcome="ok", trigger="due") == 1
    assert value("ffn_token_refresh_duration_seconds_count") == 1
    assert value("ffn_token_lock_wait_seconds_count", acquired="true") == 1
    for operation in ("load", "save", "lock"):
        count = value("ffn_token_store_duration_seconds_count", operation=operation, outcome="ok")
        assert count is not None
        assert count >= 1


async def test_opentelemetry_recipe(recipes: None, fake: FakeFFN) -> None:
    recipe = importlib.import_module("metrics_opentelemetry")
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    await exercise(fake, recipe.OpenTelemetryObserver(provider.get_meter("test")))
    data = reader.get_metrics_data()
    assert data is not None
    points: dict[str, list[Any]] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                points[metric.name] = list(metric.data.data_points)
    requests = {p.attributes["http.response.status_code"]: p.value for p in points["ffn.requests"]}
    assert requests == {"503": 1, "200": 1}
    assert {p.attributes["ffn.operation"] for p in points["ffn.requests"]} == {
        "shared.UsersGetCurrent"
    }
    ((retry,),) = [points["ffn.retries"]]
    assert (retry.attributes["ffn.retry.reason"], retry.value) == ("503", 1)
    ((refresh,),) = [points["ffn.token.refreshes"]]
    assert refresh.attributes == {"ffn.refresh.outcome": "ok", "ffn.refresh.trigger": "due"}
    assert sum(p.count for p in points["ffn.token.lock.wait"]) == 1
    store_ops = {p.attributes["ffn.store.operation"] for p in points["ffn.token.store.duration"]}
    assert store_ops >= {"load", "save", "lock"}
    provider.shutdown()


def test_the_recipes_run_without_a_configured_sdk(recipes: None) -> None:
    """The OpenTelemetry recipe needs only the API: with no MeterProvider set it records into
    no-op instruments (what a library user gets before configuring the SDK)."""
    recipe = importlib.import_module("metrics_opentelemetry")
    recipe.OpenTelemetryObserver()(RequestEvent("shared.UsersGetCurrent", "GET", 200, None, 0.1, 1))
