"""The request pipeline against mocked HTTP: URLs, headers, errors, retries, scopes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime

import aiohttp
import orjson
import pytest
from yarl import URL

from ffn_async import ClientCredentials, FFNClient, RetryPolicy, StaticToken, Token, TokenManager
from ffn_async.errors import (
    ApiError,
    BadRequest,
    Conflict,
    DecodeError,
    Forbidden,
    Gone,
    MissingScope,
    NotFound,
    RateLimited,
    ServerError,
    TransportError,
    Unauthorized,
)
from tests.http_mock import CallbackResult, aioresponses
from token_stores import MemoryTokenStore

from ..conftest import TEST_ENV, make_jwt, token_response

API = "https://api.ffn.test/api"
FAST = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.02, jitter=lambda c: c)


@pytest.fixture
async def ffn() -> AsyncIterator[FFNClient]:
    async with FFNClient(StaticToken(make_jwt()), environment=TEST_ENV, retry=FAST) as client:
        yield client


def sent(mock: aioresponses) -> list[tuple[str, URL, dict[str, object]]]:
    return [(m, u, call.kwargs) for (m, u), calls in mock.requests.items() for call in calls]


async def test_json_body_headers_and_user_agent(ffn: FFNClient) -> None:
    with aioresponses() as mock:
        mock.post(f"{API}/v1/things", status=201, payload={"id": 1})
        result = await ffn.request("POST", "/v1/things", json={"amount": Decimal("10.10")})
        ((_, _, kw),) = sent(mock)
    assert result == {"id": 1}
    assert kw["data"] == b'{"amount":10.10}'
    headers = kw["headers"]
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"].startswith("ffn-async/")
    assert headers["Authorization"].startswith("Bearer ")


async def test_empty_body_decodes_to_none(ffn: FFNClient) -> None:
    with aioresponses() as mock:
        mock.delete(f"{API}/v1/things/1", status=204)
        assert await ffn.request("DELETE", "/v1/things/1") is None


async def test_bearer_token_only_sent_to_the_api_origin(ffn: FFNClient) -> None:
    with aioresponses() as mock:
        mock.get("https://elsewhere.example/v1/x?page=2", payload={})
        mock.get(f"{API}/v1/x?page=2", payload={})
        await ffn.request("GET", "https://elsewhere.example/v1/x?page=2")
        await ffn.request("GET", f"{API}/v1/x?page=2")
        calls = sent(mock)
    foreign = next(kw for _, u, kw in calls if u.host == "elsewhere.example")
    own = next(kw for _, u, kw in calls if u.host == "api.ffn.test")
    assert "Authorization" not in foreign["headers"]
    assert "Authorization" in own["headers"]


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, BadRequest),
        (401, Unauthorized),
        (403, Forbidden),
        (404, NotFound),
        (409, Conflict),
        (410, Gone),
        (418, ApiError),
        (500, ServerError),
    ],
)
async def test_error_response_bodies_become_typed_errors(
    ffn: FFNClient, status: int, error_type: type[ApiError]
) -> None:
    body = {
        "errorCode": {"code": "Products_DuplicateProduct", "description": "Duplicate"},
        "errorMessages": [{"message": "already exists", "target": "merchantSku"}],
        "errorMetaData": {"MerchantSku": "SKU-1", "Jfsku": "MERC01ABCDE"},
    }
    with aioresponses() as mock:
        mock.post(f"{API}/v1/merchant/products", status=status, payload=body)
        with pytest.raises(error_type) as info:
            await ffn.request("POST", "/v1/merchant/products", json={})
    err = info.value
    assert type(err) is error_type
    assert err.status == status
    assert err.code == "Products_DuplicateProduct"
    assert err.messages == ["merchantSku: already exists"]
    assert err.metadata["Jfsku"] == "MERC01ABCDE"
    assert "Products_DuplicateProduct" in str(err)
    assert str(status) in str(err)


async def test_error_metadata_alternate_spelling(ffn: FFNClient) -> None:
    body = {"errorCode": {"code": "X"}, "errorMessages": [], "errorMetadata": {"A": 1}}
    with aioresponses() as mock:
        mock.get(f"{API}/v1/x", status=400, payload=body)
        with pytest.raises(BadRequest) as info:
            await ffn.request("GET", "/v1/x")
    assert info.value.metadata == {"A": 1}


async def test_users_current_404_tells_to_log_into_the_portal(ffn: FFNClient) -> None:
    with aioresponses() as mock:
        mock.get(f"{API}/v1/users/current", status=404)
        with pytest.raises(NotFound, match="logged into the FFN portal"):
            await ffn.request("GET", "/v1/users/current")


async def test_html_error_body_is_described_not_dumped(ffn: FFNClient, sleeps: list[float]) -> None:
    with aioresponses() as mock:
        for _ in range(4):
            mock.get(f"{API}/v1/x", status=503, body="<html>down</html>", content_type="text/html")
        with pytest.raises(ServerError, match=r"non-JSON error body \(text/html"):
            await ffn.request("GET", "/v1/x")
    assert len(sleeps) == 3  # four attempts in all


async def test_non_json_success_body_raises_decode_error(ffn: FFNClient) -> None:
    with aioresponses() as mock:
        mock.get(f"{API}/v1/x", status=200, body="<html>", content_type="text/html")
        with pytest.raises(DecodeError, match="not JSON"):
            await ffn.request("GET", "/v1/x")


async def test_503_then_success_is_retried(ffn: FFNClient, sleeps: list[float]) -> None:
    with aioresponses() as mock:
        mock.get(f"{API}/v1/x", status=503)
        mock.get(f"{API}/v1/x", status=502)
        mock.get(f"{API}/v1/x", payload={"ok": 1})
        assert await ffn.request("GET", "/v1/x") == {"ok": 1}
    assert sleeps == [0.01, 0.02]  # exponential backoff, capped


async def test_429_honours_retry_after_seconds(ffn: FFNClient, sleeps: list[float]) -> None:
    with aioresponses() as mock:
        mock.get(f"{API}/v1/x", status=429, headers={"Retry-After": "3"})
        mock.get(f"{API}/v1/x", payload=[1])
        assert await ffn.request("GET", "/v1/x") == [1]
    assert sleeps == [3.0]


async def test_429_honours_retry_after_http_date(ffn: FFNClient, sleeps: list[float]) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    with aioresponses() as mock:
        mock.get(f"{API}/v1/x", status=429, headers={"Retry-After": when})
        mock.get(f"{API}/v1/x", payload=[1])
        await ffn.request("GET", "/v1/x")
    assert 17 < sleeps[0] <= 20


async def test_429_exhausted_raises_rate_limited_with_retry_after(sleeps: list[float]) -> None:
    policy = RetryPolicy(max_attempts=2, jitter=lambda c: c)
    async with FFNClient(StaticToken("t"), environment=TEST_ENV, retry=policy) as ffn:
        with aioresponses() as mock:
            mock.get(f"{API}/v1/x", status=429, headers={"Retry-After": "1"}, repeat=True)
            with pytest.raises(RateLimited) as info:
                await ffn.request("GET", "/v1/x")
    assert info.value.retry_after == 1.0
    assert sleeps == [1.0]


async def test_retry_after_beyond_the_cap_is_not_waited_for(sleeps: list[float]) -> None:
    policy = RetryPolicy(max_retry_after=10)
    async with FFNClient(StaticToken("t"), environment=TEST_ENV, retry=policy) as ffn:
        with aioresponses() as mock:
            mock.get(f"{API}/v1/x", status=429, headers={"Retry-After": "3600"})
            with pytest.raises(RateLimited):
                await ffn.request("GET", "/v1/x")
    assert sleeps == []


async def test_post_is_not_retried_after_a_timeout(ffn: FFNClient, sleeps: list[float]) -> None:
    with aioresponses() as mock:
        mock.post(f"{API}/v1/merchant/outbounds", exception=TimeoutError())
        mock.post(f"{API}/v1/merchant/outbounds", status=201, payload={})
        with pytest.raises(TransportError, match="may have reached the server") as info:
            await ffn.request("POST", "/v1/merchant/outbounds", json={})
        assert len(sent(mock)) == 1
    assert info.value.sent is True
    assert sleeps == []


async def test_post_is_not_retried_on_503(ffn: FFNClient, sleeps: list[float]) -> None:
    with aioresponses() as mock:
        mock.post(f"{API}/v1/merchant/outbounds", status=503)
        with pytest.raises(ServerError):
            await ffn.request("POST", "/v1/merchant/outbounds", json={})
        assert len(sent(mock)) == 1


async def test_post_is_retried_when_it_never_left(ffn: FFNClient, sleeps: list[float]) -> None:
    refused = aiohttp.ClientConnectorError(
        aiohttp.client_reqrep.ConnectionKey("api.ffn.test", 443, True, True, None, None, None),
        ConnectionRefusedError(111, "Connection refused"),
    )
    with aioresponses() as mock:
        mock.post(f"{API}/v1/merchant/outbounds", exception=refused)
        mock.post(f"{API}/v1/merchant/outbounds", status=201, payload={"id": "X"})
        assert await ffn.request("POST", "/v1/merchant/outbounds", json={}) == {"id": "X"}
    assert len(sleeps) == 1


async def test_get_is_retried_after_a_disconnect(ffn: FFNClient, sleeps: list[float]) -> None:
    with aioresponses() as mock:
        mock.get(f"{API}/v1/x", exception=aiohttp.ServerDisconnectedError())
        mock.get(f"{API}/v1/x", payload={"ok": 1})
        assert await ffn.request("GET", "/v1/x") == {"ok": 1}


async def test_transport_retries_are_bounded(ffn: FFNClient, sleeps: list[float]) -> None:
    with aioresponses() as mock:
        mock.get(f"{API}/v1/x", exception=aiohttp.ServerDisconnectedError(), repeat=True)
        with pytest.raises(TransportError):
            await ffn.request("GET", "/v1/x")
    assert len(sleeps) == FAST.max_attempts - 1


async def test_missing_scope_raises_before_sending() -> None:
    auth = StaticToken(make_jwt(["ffn.merchant.read"]))
    async with FFNClient(auth, environment=TEST_ENV) as ffn:
        with aioresponses() as mock:
            with pytest.raises(MissingScope, match=r"ffn\.merchant\.write") as info:
                await ffn.request(
                    "POST", "/v1/merchant/outbounds", json={}, scope="ffn.merchant.write"
                )
            assert sent(mock) == []
    assert info.value.granted == ["ffn.merchant.read"]
    assert isinstance(info.value, Forbidden)


async def test_unknown_or_finer_scopes_are_left_to_the_server() -> None:
    for auth in (
        StaticToken("opaque-token"),
        StaticToken(make_jwt(["ffn.merchant.outbounds.write"])),
    ):
        async with FFNClient(auth, environment=TEST_ENV) as ffn:
            with aioresponses() as mock:
                mock.post(f"{API}/v1/merchant/outbounds", status=201, payload={})
                await ffn.request(
                    "POST", "/v1/merchant/outbounds", json={}, scope="ffn.merchant.write"
                )


async def test_401_forces_one_refresh_and_one_retry(creds: ClientCredentials) -> None:
    store = MemoryTokenStore()
    auth = TokenManager(creds, store, key="acct", environment=TEST_ENV)
    first = token_response()
    second = token_response()
    with aioresponses() as mock:
        mock.post(str(TEST_ENV.token_url), payload=first)
        mock.post(str(TEST_ENV.token_url), payload=second)
        await auth.exchange_code("code-1")
        seen: list[str] = []

        def answer(url: URL, **kw: object) -> CallbackResult:
            seen.append(kw["headers"]["Authorization"])  # type: ignore[index]
            return CallbackResult(status=401 if len(seen) == 1 else 200, payload={"userId": "MERC"})

        mock.get(f"{API}/v1/users/current", callback=answer, repeat=True)
        async with FFNClient(auth) as ffn:
            assert await ffn.request("GET", "/v1/users/current") == {"userId": "MERC"}
        token_calls = len(mock.requests[("POST", URL(str(TEST_ENV.token_url)))])
    assert seen == [f"Bearer {first['access_token']}", f"Bearer {second['access_token']}"]
    assert token_calls == 2  # the code exchange and exactly one refresh


async def test_a_due_token_is_refreshed_once_for_concurrent_requests(
    creds: ClientCredentials,
) -> None:
    """The pipeline's synchronous token fast path never sends a due token: every request of
    a burst waits for the one shared refresh and carries its token."""
    auth = TokenManager(creds, MemoryTokenStore(), key="acct", environment=TEST_ENV)
    first, second = token_response(), token_response(expires_in=3600)
    with aioresponses() as mock:
        mock.post(str(TEST_ENV.token_url), payload=first)
        await auth.exchange_code("code-1")
        old = (await auth.stored()).token
        assert old is not None
        await auth.store_token(Token(old.access_token, old.refresh_token, time.time() - 1))
        mock.post(str(TEST_ENV.token_url), payload=second)
        seen: list[str] = []

        def answer(url: URL, **kw: object) -> CallbackResult:
            seen.append(kw["headers"]["Authorization"])  # type: ignore[index]
            return CallbackResult(payload={})

        mock.get(f"{API}/v1/x", callback=answer, repeat=True)
        async with FFNClient(auth) as ffn:
            await asyncio.gather(*(ffn.request("GET", "/v1/x") for _ in range(20)))
        token_calls = len(mock.requests[("POST", URL(str(TEST_ENV.token_url)))])
    assert token_calls == 2  # the code exchange and exactly one refresh
    assert seen == [f"Bearer {second['access_token']}"] * 20


class _CountingAuth:
    """An auth strategy of a user's own: ``access_token()`` only (maybe ``fresh_token()``)."""

    def __init__(self, fresh: str | None = None, *, has_fresh: bool = False) -> None:
        self.awaited = 0
        if has_fresh:
            self.fresh_token = lambda: fresh

    async def access_token(self) -> str:
        self.awaited += 1
        return f"awaited-{self.awaited}"

    async def handle_unauthorized(self, failed_access_token: str) -> bool:
        return False

    def granted_scopes(self) -> tuple[str, ...] | None:
        return None


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        (_CountingAuth(), ["Bearer awaited-1", "Bearer awaited-2"]),  # no fast path: awaited
        (_CountingAuth(None, has_fresh=True), ["Bearer awaited-1", "Bearer awaited-2"]),
        (_CountingAuth("at-hand", has_fresh=True), ["Bearer at-hand", "Bearer at-hand"]),
    ],
)
async def test_the_token_fast_path_falls_back_to_access_token(
    auth: _CountingAuth, expected: list[str]
) -> None:
    with aioresponses() as mock:
        mock.get(f"{API}/v1/x", payload={}, repeat=True)
        async with FFNClient(auth, environment=TEST_ENV) as ffn:
            await ffn.request("GET", "/v1/x")
            await ffn.request("GET", "/v1/x")
            calls = sent(mock)
    assert [kw["headers"]["Authorization"] for _, _, kw in calls] == expected  # type: ignore[index]
    assert auth.awaited == (0 if expected[0] == "Bearer at-hand" else 2)


async def test_replacing_the_auth_replaces_the_token_sent(ffn: FFNClient) -> None:
    with aioresponses() as mock:
        mock.get(f"{API}/v1/x", payload={}, repeat=True)
        await ffn.request("GET", "/v1/x")
        ffn.auth = StaticToken("replacement")
        await ffn.request("GET", "/v1/x")
        calls = sent(mock)
    assert calls[-1][2]["headers"]["Authorization"] == "Bearer replacement"  # type: ignore[index]
    assert calls[0][2]["headers"]["Authorization"] != "Bearer replacement"  # type: ignore[index]


async def test_401_twice_raises_unauthorized(creds: ClientCredentials) -> None:
    auth = TokenManager(creds, MemoryTokenStore(), key="acct", environment=TEST_ENV)
    with aioresponses() as mock:
        mock.post(str(TEST_ENV.token_url), payload=token_response())
        mock.post(str(TEST_ENV.token_url), payload=token_response())
        await auth.exchange_code("code-1")
        mock.get(f"{API}/v1/x", status=401, repeat=True)
        async with FFNClient(auth) as ffn:
            with pytest.raises(Unauthorized):
                await ffn.request("GET", "/v1/x")
        assert len(mock.requests[("GET", URL(f"{API}/v1/x"))]) == 2


async def test_max_concurrency_caps_requests_in_flight() -> None:
    in_flight = peak = 0

    async def slow(url: URL, **kw: object) -> CallbackResult:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return CallbackResult(payload={})

    async with FFNClient(StaticToken("t"), environment=TEST_ENV, max_concurrency=3) as ffn:
        with aioresponses() as mock:
            mock.get(f"{API}/v1/x", callback=slow, repeat=True)
            await asyncio.gather(*(ffn.request("GET", "/v1/x") for _ in range(20)))
    assert peak == 3


async def test_request_raw_returns_bytes(ffn: FFNClient) -> None:
    with aioresponses() as mock:
        mock.get(f"{API}/v1/pic", body=b"\x89PNG", content_type="image/png")
        response = await ffn.request_raw("GET", "/v1/pic")
    assert response.content == b"\x89PNG"
    assert response.status == 200


def test_retry_policy_idempotency_rules() -> None:
    policy = RetryPolicy()
    assert policy.is_idempotent("get")
    assert policy.is_idempotent("PUT")
    assert not policy.is_idempotent("POST")
    assert not policy.is_idempotent("PATCH")
    assert policy.is_idempotent("POST", override=True)
    assert policy.retries_transport_error(sent=False, idempotent=False)
    assert not policy.retries_transport_error(sent=True, idempotent=False)


def test_encoded_body_is_compact_json() -> None:
    assert orjson.loads(b'{"amount":10.10}') == {"amount": 10.1}


async def test_a_session_passed_in_is_used_and_left_open() -> None:
    async with aiohttp.ClientSession() as session:
        ffn = FFNClient(StaticToken("t"), environment=TEST_ENV, session=session)
        async with ffn:
            with aioresponses() as mock:
                mock.get(f"{API}/v1/x", payload={})
                await ffn.request("GET", "/v1/x")
        assert not session.closed


async def test_a_client_left_can_be_used_again_with_a_new_session() -> None:
    ffn = FFNClient(StaticToken("t"), environment=TEST_ENV)
    with aioresponses() as mock:
        mock.get(f"{API}/v1/x", payload={"n": 1}, repeat=True)
        async with ffn:
            first = ffn._session
            assert await ffn.request("GET", "/v1/x") == {"n": 1}
        assert first is not None
        assert first.closed
        assert ffn._session is None
        assert await ffn.request("GET", "/v1/x") == {"n": 1}  # a session of its own again
        assert ffn._session is not None
        assert ffn._session is not first
        await ffn.aclose()


async def test_a_callers_session_closed_under_the_client_is_an_error_not_replaced() -> None:
    """Replacing it silently would drop the caller's connector, headers and tracing."""
    session = aiohttp.ClientSession()
    ffn = FFNClient(StaticToken("t"), environment=TEST_ENV, session=session)
    await session.close()
    with pytest.raises(RuntimeError, match="Session is closed"):
        await ffn.request("GET", "/v1/x")
    assert ffn._session is session
