"""Spans named by operation id (:mod:`ffn_async.observe.tracing`) with the real
``opentelemetry-instrumentation-aiohttp-client`` and the OpenTelemetry SDK's in-memory
exporter, against the fake server."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.instrumentation.aiohttp_client import (
    AioHttpClientInstrumentor,
    create_trace_config,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ffn_async import FFNClient, TokenManager
from ffn_async.observe.tracing import request_hook
from ffn_async.testing import FakeFFN
from ffn_async.testing.pytest_plugin import RunningFake
from token_stores import MemoryTokenStore


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


async def logged_in(ffn_fake: RunningFake) -> TokenManager:
    auth = TokenManager(
        ffn_fake.credentials, MemoryTokenStore(), key="acme", environment=ffn_fake.environment
    )
    await auth.store_token(ffn_fake.server.token())
    return auth


async def test_a_typed_call_is_one_span_named_by_its_operation(
    ffn_fake: RunningFake, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    auth = await logged_in(ffn_fake)
    trace_config = create_trace_config(request_hook=request_hook, tracer_provider=provider)
    async with FFNClient(auth, trace_configs=[trace_config]) as ffn:
        await ffn.shared.users.current()
        await ffn.merchant.outbounds.list(top=1)
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["shared.UsersGetCurrent", "merchant.OutboundsGetAll"]
    first = dict(spans[0].attributes or {})
    assert first["ffn.operation"] == "shared.UsersGetCurrent"
    assert first["url.template"] == "/v1/users/current"
    assert first["ffn.attempt"] == 1
    assert first["http.method"] == "GET" or first.get("http.request.method") == "GET"


@pytest.mark.ffn_fake(token_lifetime=2.0)
async def test_a_retry_and_a_token_call_keep_their_own_spans(
    ffn_fake: RunningFake,
    provider: TracerProvider,
    exporter: InMemorySpanExporter,
    sleeps: list[float],
) -> None:
    """A retried attempt is a second span of the same operation with ``ffn.attempt`` 2; the
    TokenManager's token call through the same session keeps the instrumentation's name."""
    auth = await logged_in(ffn_fake)
    trace_config = create_trace_config(request_hook=request_hook, tracer_provider=provider)
    async with FFNClient(auth, trace_configs=[trace_config]) as ffn:
        await auth.refresh()  # through the client's (traced) session
        ffn_fake.server.faults.inject_next("unavailable")
        await ffn.shared.users.current()
    names = [
        (s.name, (s.attributes or {}).get("ffn.attempt")) for s in exporter.get_finished_spans()
    ]
    assert names == [
        ("POST", None),
        ("shared.UsersGetCurrent", 1),
        ("shared.UsersGetCurrent", 2),
    ]


def test_the_instrumentor_recipe(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    """The README's setup: the global instrumentor with the hook (undone afterwards)."""

    async def main() -> None:
        fake = FakeFFN()
        async with fake.run() as environment:
            auth = TokenManager(
                fake.credentials, MemoryTokenStore(), key="acme", environment=environment
            )
            await auth.store_token(fake.token())
            async with FFNClient(auth) as ffn:
                await ffn.shared.users.current()
            ffn = FFNClient(auth)  # not entered: its session is made by the first call
            try:
                await ffn.merchant.outbounds.list(top=1)
            finally:
                await ffn.aclose()

    instrumentor = AioHttpClientInstrumentor()
    instrumentor.instrument(request_hook=request_hook, tracer_provider=provider)
    try:
        asyncio.run(main())
    finally:
        instrumentor.uninstrument()
    names = [s.name for s in exporter.get_finished_spans()]
    assert names == ["shared.UsersGetCurrent", "merchant.OutboundsGetAll"]
