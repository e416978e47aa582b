"""Fault injection at rate 1.0 produces the fault; the token endpoint is spared by default."""

from __future__ import annotations

import aiohttp
import pytest

from ffn_async.testing import FakeFFN, Faults
from tests.testing.conftest import basic


async def _call(fake: FakeFFN, method: str, path: str, **kwargs: object) -> aiohttp.ClientResponse:
    token = fake.issue_token()["access_token"]
    async with aiohttp.ClientSession() as session:
        resp = await session.request(
            method,
            f"{fake.environment.api_url}{path}",
            headers={"Authorization": f"Bearer {token}"},
            **kwargs,  # type: ignore[arg-type]
        )
        await resp.read()
        resp.release()
        return resp


async def test_rate_limit_with_retry_after() -> None:
    fake = FakeFFN(faults=Faults(rate_limit=1.0, retry_after=3))
    async with fake.run():
        resp = await _call(fake, "GET", "/v1/users/current")
    assert resp.status == 429
    assert resp.headers["Retry-After"] == "3"
    assert fake.stats.faults == {"rate_limit": 1}


async def test_unavailable_is_html() -> None:
    fake = FakeFFN(faults=Faults(unavailable=1.0))
    async with fake.run():
        resp = await _call(fake, "GET", "/v1/users/current")
    assert resp.status == 503
    assert resp.content_type == "text/html"


async def test_drop_before_processing_creates_nothing() -> None:
    fake = FakeFFN(faults=Faults(drop=1.0))
    async with fake.run():
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await _call(
                fake, "POST", "/v1/merchant/products", json={"name": "a", "merchantSku": "a"}
            )
    assert len(fake.api.products.collection) == 0
    assert fake.stats.faults == {"drop": 1}


async def test_drop_after_processing_creates_but_does_not_answer() -> None:
    fake = FakeFFN(faults=Faults(drop_after=1.0))
    async with fake.run():
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await _call(
                fake, "POST", "/v1/merchant/products", json={"name": "a", "merchantSku": "a"}
            )
        # GETs are never "dropped after": reading twice is harmless, so only writes qualify.
        resp = await _call(fake, "GET", "/v1/merchant/products")
        assert resp.status == 200
    assert len(fake.api.products.collection) == 1


async def test_latency_and_forced_faults_in_order() -> None:
    fake = FakeFFN(faults=Faults(latency=0.05, latency_rate=1.0))
    async with fake.run():
        assert (await _call(fake, "GET", "/v1/users/current")).status == 200
        fake.faults.inject_next("unavailable", "rate_limit")
        statuses = [(await _call(fake, "GET", "/v1/users/current")).status for _ in range(2)]
    assert statuses == [503, 429]
    assert fake.stats.faults == {"latency": 1, "unavailable": 1, "rate_limit": 1}


async def test_token_endpoint_spared_unless_asked() -> None:
    fake = FakeFFN(faults=Faults(unavailable=1.0))
    async with fake.run() as env, aiohttp.ClientSession() as session:
        tokens = fake.issue_token()
        auth = {"Authorization": basic(fake.credentials.client_id, fake.credentials.client_secret)}
        form = {"grant_type": "refresh_token", "refresh_token": str(tokens["refresh_token"])}
        async with session.post(env.token_url, data=form, headers=auth) as resp:
            assert resp.status == 200
            form["refresh_token"] = (await resp.json())["refresh_token"]
        fake.faults.include_token_endpoint = True
        async with session.post(env.token_url, data=form, headers=auth) as resp:
            assert resp.status == 503
    assert fake.stats.refreshes == 1


async def test_seeded_rates_are_reproducible() -> None:
    def run(seed: int) -> list[str | None]:
        faults = Faults(rate_limit=0.3, unavailable=0.2, seed=seed)
        return [faults._pick(writes=False) for _ in range(50)]

    assert run(7) == run(7)
    assert run(7) != run(8)
    assert {"rate_limit", "unavailable", None} == set(run(7))


async def test_dropped_connections_log_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """Regression: the fault used to raise, and aiohttp logged it with a traceback."""
    import logging

    caplog.set_level(logging.DEBUG, logger="aiohttp")
    fake = FakeFFN(faults=Faults(drop=1.0))
    async with fake.run() as env, aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await session.get(f"{env.api_url}/v1/users/current")
    assert fake.stats.faults["drop"] >= 1  # aiohttp itself retries a GET once
    assert [r.getMessage() for r in caplog.records if r.name.startswith("aiohttp")] == []
