"""``FFNClient(limiter=...)``: any async context manager around each HTTP attempt."""

from __future__ import annotations

import asyncio
from types import TracebackType

import pytest
from aiolimiter import AsyncLimiter

from ffn_async import FFNClient, RetryPolicy, StaticToken
from ffn_async.errors import TransportError
from tests.http_mock import CallbackResult, aioresponses

from ..conftest import TEST_ENV, make_jwt

API = "https://api.ffn.test/api"
FAST = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02, jitter=lambda c: c)


class Gate:
    """A semaphore-like limiter that records how many attempts were inside at once."""

    def __init__(self, size: int) -> None:
        self.semaphore = asyncio.Semaphore(size)
        self.inside = self.most = self.entered = self.exited = 0

    async def __aenter__(self) -> None:
        await self.semaphore.acquire()
        self.entered += 1
        self.inside += 1
        self.most = max(self.most, self.inside)

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.inside -= 1
        self.exited += 1
        self.semaphore.release()


async def slow_answer(url: object, **kwargs: object) -> CallbackResult:
    await asyncio.sleep(0.01)  # let the other requests pile up at the gate
    return CallbackResult(status=200, payload={"userId": "U"})


async def test_every_attempt_passes_the_limiter(sleeps: list[float]) -> None:
    gate = Gate(3)
    with aioresponses() as mock:
        mock.get(f"{API}/v1/users/current", callback=slow_answer, repeat=True)
        async with FFNClient(StaticToken(make_jwt()), environment=TEST_ENV, limiter=gate) as ffn:
            await asyncio.gather(*(ffn.shared.users.current() for _ in range(20)))
    assert (gate.entered, gate.exited, gate.inside) == (20, 20, 0)
    assert gate.most == 3


async def test_a_retry_is_another_attempt_and_a_failure_still_leaves(sleeps: list[float]) -> None:
    gate = Gate(1)
    answers = iter([503, 200])
    with aioresponses() as mock:
        mock.get(
            f"{API}/v1/users/current",
            callback=lambda url, **kw: CallbackResult(status=next(answers), payload={}),
            repeat=True,
        )
        mock.get(f"{API}/v1/nothing", exception=ConnectionResetError("reset"))
        async with FFNClient(
            StaticToken(make_jwt()), environment=TEST_ENV, retry=FAST, limiter=gate
        ) as ffn:
            await ffn.request("GET", "/v1/users/current")
            assert (gate.entered, gate.exited) == (2, 2)
            with pytest.raises(TransportError):
                await ffn.request("POST", "/v1/nothing", json={})
    assert gate.entered == gate.exited == 3
    assert gate.inside == 0


async def test_aiolimiter_paces_the_attempts() -> None:
    limiter = AsyncLimiter(5, 3600)  # five an hour: the sixth would wait
    with aioresponses() as mock:
        mock.get(f"{API}/v1/users/current", payload={"userId": "U"}, repeat=True)
        async with FFNClient(StaticToken(make_jwt()), environment=TEST_ENV, limiter=limiter) as ffn:
            for _ in range(5):
                await ffn.shared.users.current()
            assert not limiter.has_capacity()
            sixth = asyncio.ensure_future(ffn.shared.users.current())
            await asyncio.sleep(0.05)
            assert not sixth.done()  # held at the limiter, not sent
            sixth.cancel()
            await asyncio.gather(sixth, return_exceptions=True)
