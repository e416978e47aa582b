"""TokenManager against a mocked token endpoint: flows, errors, ordering, fail-fast state."""

from __future__ import annotations

import asyncio
import base64
import time

import orjson
import pytest
from yarl import URL

from ffn_async import ClientCredentials, StaticToken, Token, TokenManager
from ffn_async.errors import (
    CorruptRecord,
    InvalidClient,
    InvalidState,
    ReauthorizationRequired,
    StoreUnavailable,
    TokenEndpointError,
    TokenMissing,
    TransportError,
)
from tests.http_mock import CallbackResult, aioresponses
from token_stores import MemoryTokenStore, Record

from ..conftest import TEST_ENV, make_jwt, token_response

TOKEN_URL = str(TEST_ENV.token_url)


_created: list[TokenManager] = []


def manager(
    creds: ClientCredentials, store: MemoryTokenStore | None = None, **kw: object
) -> TokenManager:
    kw.setdefault("request_timeout", 0.3)  # also the grace period after invalid_grant
    auth = TokenManager(creds, store or MemoryTokenStore(), key="acct", environment=TEST_ENV, **kw)  # type: ignore[arg-type]
    _created.append(auth)
    return auth


@pytest.fixture(autouse=True)
async def _close_managers() -> object:
    yield
    while _created:
        await _created.pop().aclose()


def token_calls(mock: aioresponses) -> list[dict[str, object]]:
    return [c.kwargs for c in mock.requests.get(("POST", URL(TOKEN_URL)), [])]


def slow_refreshes(mock: aioresponses, delay: float) -> None:
    """From now on the mocked token endpoint answers every call ``delay`` seconds late."""

    async def slow(url: URL, **kw: object) -> CallbackResult:
        await asyncio.sleep(delay)
        return CallbackResult(payload=token_response())

    mock.post(TOKEN_URL, callback=slow, repeat=True)


def peer_record(token: Token, rotation: int) -> bytes:
    """The bytes a peer process stores after rotating to ``token`` (the record format)."""
    return orjson.dumps({"format": 1, "token": token.to_dict(), "rotation": rotation})


async def peer_saves(store: MemoryTokenStore, token: Token, rotation: int) -> None:
    """A peer process saves its rotation to ``token`` over the record it just read (CAS)."""
    record = await store.load("acct")
    assert record is not None
    await store.save("acct", peer_record(token, rotation), record.version)


async def login_then_expire(auth: TokenManager, mock: aioresponses) -> None:
    """Log in through the mocked token endpoint, then make the token look expired."""
    mock.post(TOKEN_URL, payload=token_response())
    await auth.exchange_code("c")
    await expire(auth)


async def expire(auth: TokenManager) -> None:
    """Make the stored and cached token look expired."""
    stored = await auth.stored()
    assert stored.token is not None
    old = stored.token
    expired = Token(old.access_token, old.refresh_token, time.time() - 1, scopes=old.scopes)
    await auth.store_token(expired)


def test_authorization_url_carries_client_scopes_and_a_random_state(
    creds: ClientCredentials,
) -> None:
    auth = manager(creds)
    url, state = auth.authorization_url(["ffn.merchant.read", "ffn.merchant.write"])
    _, state2 = auth.authorization_url(["ffn.merchant.read"])
    query = URL(url).query
    assert URL(url).with_query(None) == TEST_ENV.authorize_url
    assert query["response_type"] == "code"
    assert query["client_id"] == "client-id"
    assert query["redirect_uri"] == "http://127.0.0.1/callback"
    assert query["scope"] == "ffn.merchant.read ffn.merchant.write"
    assert query["state"] == state
    assert len(state) >= 32
    assert state != state2


async def test_exchange_code_uses_basic_auth_and_stores_the_token(creds: ClientCredentials) -> None:
    auth = manager(creds)
    with aioresponses() as mock:
        mock.post(TOKEN_URL, payload=token_response())
        token = await auth.exchange_code("the-code")
        (call,) = token_calls(mock)
    assert call["data"] == {
        "grant_type": "authorization_code",
        "code": "the-code",
        "redirect_uri": "http://127.0.0.1/callback",
    }
    expected = base64.b64encode(b"client-id:s3cr3t-client-secret").decode()
    assert call["headers"]["Authorization"] == f"Basic {expected}"  # type: ignore[index]
    assert token.scopes == ("ffn.merchant.read", "ffn.merchant.write")  # read from the JWT claim
    stored = await auth.stored()
    assert stored.token == token
    assert stored.version == 1
    assert stored.rotation == 0


async def test_state_mismatch_raises_before_any_request(creds: ClientCredentials) -> None:
    auth = manager(creds)
    _, state = auth.authorization_url(["ffn.merchant.read"])
    with aioresponses() as mock:
        with pytest.raises(InvalidState):
            await auth.exchange_code("c", state="forged", expected_state=state)
        with pytest.raises(InvalidState):
            await auth.exchange_code("c", state="forged")  # checked against issued states
        assert token_calls(mock) == []
        mock.post(TOKEN_URL, payload=token_response())
        await auth.exchange_code("c", state=state)  # the issued state is accepted once


async def test_scope_field_of_the_response_wins_over_the_jwt(creds: ClientCredentials) -> None:
    auth = manager(creds)
    with aioresponses() as mock:
        mock.post(TOKEN_URL, payload={**token_response(), "scope": "ffn.fulfiller.read"})
        token = await auth.exchange_code("c")
    assert token.scopes == ("ffn.fulfiller.read",)
    assert auth.granted_scopes() == ("ffn.fulfiller.read",)


@pytest.mark.parametrize(
    ("answer", "error", "match"),
    [
        (
            {"status": 401, "payload": {"error": "invalid_client"}},
            InvalidClient,
            "client id and secret",
        ),
        ({"status": 400, "payload": {"error": "invalid_client"}}, InvalidClient, "client-id"),
        ({"status": 401, "body": ""}, InvalidClient, "rejected client"),
        (
            {
                "status": 502,
                "body": "<html><body>Bad gateway</body></html>",
                "content_type": "text/html",
            },
            TokenEndpointError,
            "HTML page",
        ),
        (
            {
                "status": 200,
                "body": '{"access_token": "abc", "refresh_tok',
                "content_type": "application/json",
            },
            TokenEndpointError,
            "malformed JSON",
        ),
        (
            {"status": 200, "payload": {"token_type": "Bearer"}},
            TokenEndpointError,
            "no access_token",
        ),
        (
            {"status": 400, "payload": {"error": "unsupported_grant_type"}},
            TokenEndpointError,
            "unsupported_grant_type",
        ),
    ],
)
async def test_token_endpoint_failures_are_typed(
    creds: ClientCredentials, answer: dict[str, object], error: type[Exception], match: str
) -> None:
    auth = manager(creds)
    with aioresponses() as mock:
        mock.post(TOKEN_URL, **answer)  # type: ignore[arg-type]
        with pytest.raises(error, match=match):
            await auth.exchange_code("c")
    assert (await auth.stored()).token is None  # nothing half-stored


async def test_error_description_echoing_a_secret_is_redacted(creds: ClientCredentials) -> None:
    auth = manager(creds)
    with aioresponses() as mock:
        mock.post(
            TOKEN_URL,
            status=400,
            payload={
                "error": "invalid_request",
                "error_description": "bad code the-code for s3cr3t-client-secret",
            },
        )
        with pytest.raises(TokenEndpointError) as info:
            await auth.exchange_code("the-code")
    assert "s3cr3t" not in str(info.value)
    assert "the-code" not in str(info.value)
    assert "<redacted>" in str(info.value)


async def test_no_token_stored_raises_token_missing(creds: ClientCredentials) -> None:
    with pytest.raises(TokenMissing, match="log in first"):
        await manager(creds).access_token()


async def test_fresh_token_is_served_without_io(creds: ClientCredentials) -> None:
    store = MemoryTokenStore()
    auth = manager(creds, store)
    with aioresponses() as mock:
        mock.post(TOKEN_URL, payload=token_response())
        token = await auth.exchange_code("c")

    async def no_io(key: str) -> Record | None:
        raise AssertionError("the fast path must not touch the store")

    store.load = no_io  # type: ignore[method-assign]
    assert await auth.access_token() == token.access_token


async def test_fresh_token_is_the_synchronous_fast_path_of_access_token(
    creds: ClientCredentials,
) -> None:
    """``fresh_token()`` (what the pipeline tries first) answers only while the token is not
    due; then it is ``None`` and ``access_token()`` refreshes."""
    auth = manager(creds)
    assert auth.fresh_token() is None  # nothing stored yet
    with aioresponses() as mock:
        await login_then_expire(auth, mock)
        assert auth.fresh_token() is None  # due: the pipeline must await access_token()
        mock.post(TOKEN_URL, payload=token_response())
        refreshed = await auth.access_token()
        assert len(token_calls(mock)) == 2
    assert auth.fresh_token() == refreshed
    assert StaticToken("t").fresh_token() == "t"


async def test_expired_token_is_refreshed_and_rotation_persisted(creds: ClientCredentials) -> None:
    auth = manager(creds)
    first, second = token_response(), token_response()
    with aioresponses() as mock:
        mock.post(TOKEN_URL, payload=first)
        mock.post(TOKEN_URL, payload=second)
        await auth.exchange_code("c")
        await expire(auth)
        assert await auth.access_token() == second["access_token"]
        calls = token_calls(mock)
    assert calls[-1]["data"] == {
        "grant_type": "refresh_token",
        "refresh_token": first["refresh_token"],
    }
    stored = await auth.stored()
    assert stored.token is not None
    assert stored.token.refresh_token == second["refresh_token"]
    assert stored.rotation == 1


async def test_refresh_without_new_refresh_token_keeps_the_old_one(
    creds: ClientCredentials,
) -> None:
    auth = manager(creds)
    first = token_response()
    with aioresponses() as mock:
        mock.post(TOKEN_URL, payload=first)
        mock.post(TOKEN_URL, payload={"access_token": make_jwt(), "expires_in": 1800})
        await auth.exchange_code("c")
        await expire(auth)
        token = await auth.token()
    assert token.refresh_token == first["refresh_token"]


async def test_invalid_grant_marks_the_account_dead_for_every_worker(
    creds: ClientCredentials,
) -> None:
    store = MemoryTokenStore()
    auth = manager(creds, store)
    with aioresponses() as mock:
        mock.post(TOKEN_URL, payload=token_response())
        mock.post(TOKEN_URL, status=400, payload={"error": "invalid_grant"})
        await auth.exchange_code("c")
        await expire(auth)
        with pytest.raises(ReauthorizationRequired, match="needs a new login"):
            await auth.access_token()
        # A second worker (own manager, same store) fails fast: no token-endpoint call.
        other = manager(creds, store)
        with pytest.raises(ReauthorizationRequired):
            await other.access_token()
        assert len(token_calls(mock)) == 2
    stored = await auth.stored()
    assert stored.reauthorization_required is not None


async def test_a_new_login_revives_a_dead_account(creds: ClientCredentials) -> None:
    store = MemoryTokenStore()
    auth = manager(creds, store)
    with aioresponses() as mock:
        mock.post(TOKEN_URL, payload=token_response())
        mock.post(TOKEN_URL, status=400, payload={"error": "invalid_grant"})
        await login_then_expire(auth, mock)
        with pytest.raises(ReauthorizationRequired):
            await auth.access_token()
        fresh = await manager(creds, store).exchange_code("c2")
    assert await auth.access_token() == fresh.access_token


async def test_invalid_grant_after_a_peer_rotated_adopts_the_peers_token(
    creds: ClientCredentials,
) -> None:
    """The lease ran out mid-refresh: a peer rotated meanwhile; its token is adopted."""
    store = MemoryTokenStore()
    auth = manager(creds, store)
    peer_token = Token.from_response(token_response())
    with aioresponses() as mock:
        await login_then_expire(auth, mock)

        async def peer_rotates(url: URL, **kw: object) -> CallbackResult:
            await peer_saves(store, peer_token, 1)
            return CallbackResult(status=400, payload={"error": "invalid_grant"})

        mock.post(TOKEN_URL, callback=peer_rotates)
        assert await auth.access_token() == peer_token.access_token
    assert (await auth.stored()).reauthorization_required is None


async def test_invalid_grant_waits_for_an_overrun_holders_save(creds: ClientCredentials) -> None:
    """Our lease was taken over from a holder that spent the token and saves a moment later."""
    store = MemoryTokenStore()
    auth = manager(creds, store)
    holders_token = Token.from_response(token_response())
    with aioresponses() as mock:
        await login_then_expire(auth, mock)

        async def late_save() -> None:
            await asyncio.sleep(0.1)
            # The version it read is the one our in-flight mark produced (a holder that
            # predates marks and overran its lease): CAS, no lock, as such a holder would.
            await peer_saves(store, holders_token, 1)

        mock.post(TOKEN_URL, status=400, payload={"error": "invalid_grant"})
        saver = asyncio.ensure_future(late_save())
        assert await auth.access_token() == holders_token.access_token
        await saver
    assert (await auth.stored()).reauthorization_required is None


async def test_lost_cas_keeps_the_newer_record(creds: ClientCredentials) -> None:
    """Our refresh succeeded but a peer wrote first: its record is not overwritten."""
    store = MemoryTokenStore()
    auth = manager(creds, store)
    peer_token = Token.from_response(token_response())
    with aioresponses() as mock:
        await login_then_expire(auth, mock)

        async def peer_writes_then_we_answer(url: URL, **kw: object) -> CallbackResult:
            await peer_saves(store, peer_token, 5)
            return CallbackResult(payload=token_response())

        mock.post(TOKEN_URL, callback=peer_writes_then_we_answer)
        assert await auth.access_token() == peer_token.access_token
    stored = await auth.stored()
    assert stored.token == peer_token
    assert stored.rotation == 5


async def test_store_failure_before_the_token_call_spends_nothing(creds: ClientCredentials) -> None:
    """The in-flight mark cannot be written: no token call, memory unchanged, a typed error."""
    store = MemoryTokenStore()
    auth = manager(creds, store, lock_ttl=0.5)  # the save is retried for one lease
    with aioresponses() as mock:
        mock.post(TOKEN_URL, payload=token_response())
        await login_then_expire(auth, mock)
        before = (await auth.stored()).token

        async def broken_save(key: str, data: bytes, expected_version: int | None) -> int:
            raise StoreUnavailable("disk gone")

        store.save = broken_save  # type: ignore[method-assign]
        with pytest.raises(StoreUnavailable):
            await auth.access_token()
        assert len(token_calls(mock)) == 1  # the login only
    assert auth._account.stored.token == before


async def test_a_short_store_outage_after_a_refresh_loses_no_token(
    creds: ClientCredentials,
) -> None:
    """The new refresh token exists nowhere else: its save is retried through the outage."""
    store = MemoryTokenStore()
    auth = manager(creds, store)
    real_save = store.save
    failures = 3

    async def flaky_save(key: str, data: bytes, expected_version: int | None) -> int:
        nonlocal failures
        if failures and b'"rotating":null' in data:  # the in-flight mark got through
            failures -= 1
            raise StoreUnavailable("redis restarting")
        return await real_save(key, data, expected_version)

    with aioresponses() as mock:
        mock.post(TOKEN_URL, payload=token_response())
        second = token_response()
        mock.post(TOKEN_URL, payload=second)
        await auth.exchange_code("c")
        await expire(auth)
        store.save = flaky_save  # type: ignore[method-assign]
        assert await auth.access_token() == second["access_token"]
    stored = await auth.stored()
    assert stored.token is not None
    assert stored.token.refresh_token == second["refresh_token"]
    assert failures == 0


async def test_a_save_whose_answer_was_lost_counts_as_saved(creds: ClientCredentials) -> None:
    """The first save landed but its answer did not; the retry's conflict is our own write."""
    store = MemoryTokenStore()
    auth = manager(creds, store)
    real_save = store.save
    calls = 0

    async def lost_answer(key: str, data: bytes, expected_version: int | None) -> int:
        nonlocal calls
        if b'"rotating":null' not in data:  # the in-flight mark
            return await real_save(key, data, expected_version)
        calls += 1
        version = await real_save(key, data, expected_version)
        if calls == 1:
            raise StoreUnavailable("connection reset after commit")
        return version

    with aioresponses() as mock:
        mock.post(TOKEN_URL, payload=token_response())
        second = token_response()
        mock.post(TOKEN_URL, payload=second)
        await auth.exchange_code("c")
        await expire(auth)
        store.save = lost_answer  # type: ignore[method-assign]
        assert await auth.access_token() == second["access_token"]
    assert calls == 2
    stored = await auth.stored()
    assert stored.rotation == 1
    assert stored.version == 5  # login, expired copy, in-flight mark, its fence, rotation


async def test_a_login_is_saved_through_a_short_store_outage(creds: ClientCredentials) -> None:
    """The authorization code is spent once exchanged: its token must not be lost either."""
    store = MemoryTokenStore()
    auth = manager(creds, store)
    real_save = store.save
    failures = 2

    async def flaky_save(key: str, data: bytes, expected_version: int | None) -> int:
        nonlocal failures
        if failures:
            failures -= 1
            raise StoreUnavailable("redis restarting")
        return await real_save(key, data, expected_version)

    store.save = flaky_save  # type: ignore[method-assign]
    with aioresponses() as mock:
        mock.post(TOKEN_URL, payload=token_response())
        token = await auth.exchange_code("c")
    stored = await auth.stored()
    assert stored.token == token
    assert stored.version == 1
    assert failures == 0


async def test_corrupt_record_is_reported_and_left_alone(creds: ClientCredentials) -> None:
    store = MemoryTokenStore()
    await store.save("acct", b"\x00not json", None)
    with pytest.raises(CorruptRecord, match="'acct'"):
        await manager(creds, store).access_token()
    record = await store.load("acct")
    assert record is not None
    assert record.data == b"\x00not json"


async def test_refresh_hook_runs_after_the_lock_is_released(creds: ClientCredentials) -> None:
    store = MemoryTokenStore()
    observed: list[bool] = []

    async def hook(token: Token) -> None:
        # A hook that takes the lock itself would deadlock if it ran under the lock.
        async with store.lock("acct", timeout=1):
            observed.append(True)

    auth = manager(creds, store, on_refresh=hook)
    with aioresponses() as mock:
        mock.post(TOKEN_URL, payload=token_response(), repeat=True)
        await auth.exchange_code("c")
        await expire(auth)
        await auth.access_token()
    assert len(observed) >= 2  # the login and the refresh


async def test_hooks_added_later_run_after_on_refresh(creds: ClientCredentials) -> None:
    seen: list[tuple[str, str]] = []

    async def exporter(token: Token) -> None:
        seen.append(("exporter", token.access_token))

    auth = manager(creds, on_refresh=lambda token: seen.append(("on_refresh", token.access_token)))
    auth.add_refresh_hook(exporter)
    auth.add_refresh_hook(lambda token: seen.append(("mirror", token.access_token)))
    with aioresponses() as mock:
        mock.post(TOKEN_URL, payload=token_response(), repeat=True)
        login = await auth.exchange_code("c")
        await expire(auth)
        fresh = await auth.access_token()
    hooks = ["on_refresh", "exporter", "mirror"]
    assert seen[:3] == [(h, login.access_token) for h in hooks]  # the login
    assert seen[-3:] == [(h, fresh) for h in hooks]  # the refresh
    assert [h for h, _ in seen] == hooks * (len(seen) // 3)  # store_token in between too


async def test_failing_hook_does_not_break_the_refresh(creds: ClientCredentials) -> None:
    def hook(token: Token) -> None:
        raise RuntimeError("metrics down")

    auth = manager(creds, on_refresh=hook)
    with aioresponses() as mock:
        mock.post(TOKEN_URL, payload=token_response())
        token = await auth.exchange_code("c")
    assert await auth.access_token() == token.access_token


async def test_token_call_is_retried_only_when_it_never_left(creds: ClientCredentials) -> None:
    import aiohttp

    refused = aiohttp.ClientConnectorError(
        aiohttp.client_reqrep.ConnectionKey("auth.ffn.test", 443, True, True, None, None, None),
        ConnectionRefusedError(111, "refused"),
    )
    auth = manager(creds)
    with aioresponses() as mock:
        mock.post(TOKEN_URL, exception=refused)
        mock.post(TOKEN_URL, payload=token_response())
        await auth.exchange_code("c")
        assert len(token_calls(mock)) == 2
        await expire(auth)
        mock.post(TOKEN_URL, exception=TimeoutError())
        mock.post(TOKEN_URL, payload=token_response())
        with pytest.raises(TransportError, match="may or may not have been used"):
            await auth.access_token()
        assert len(token_calls(mock)) == 3  # the ambiguous refresh was not repeated


async def test_500_coroutines_share_one_refresh_mocked(creds: ClientCredentials) -> None:
    auth = manager(creds)
    with aioresponses() as mock:
        await login_then_expire(auth, mock)
        slow_refreshes(mock, 0.05)
        tokens = await asyncio.gather(*(auth.access_token() for _ in range(500)))
        assert len(token_calls(mock)) == 2
    assert len(set(tokens)) == 1


async def test_two_managers_on_one_store_share_a_refresh(creds: ClientCredentials) -> None:
    store = MemoryTokenStore()
    a, b = manager(creds, store), manager(creds, store)
    with aioresponses() as mock:
        await login_then_expire(a, mock)
        slow_refreshes(mock, 0.05)
        ta, tb = await asyncio.gather(a.access_token(), b.access_token())
        assert len(token_calls(mock)) == 2
    assert ta == tb


async def test_cancelled_waiter_does_not_cancel_the_shared_refresh(
    creds: ClientCredentials,
) -> None:
    auth = manager(creds)
    with aioresponses() as mock:
        await login_then_expire(auth, mock)
        slow_refreshes(mock, 0.1)
        first = asyncio.ensure_future(auth.access_token())
        await asyncio.sleep(0.01)
        second = asyncio.ensure_future(auth.access_token())
        first.cancel()
        token = await second
        assert len(token_calls(mock)) == 2
    assert token


@pytest.mark.parametrize(
    ("client_id", "secret", "match"),
    [("", "s", "client_id"), ("a:b", "s", "':'"), ("id", "", "client_secret")],
)
def test_client_credentials_are_checked_where_they_are_made(
    client_id: str, secret: str, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        ClientCredentials(client_id, secret)


def test_token_repr_hides_secrets() -> None:
    payload = token_response()
    token = Token.from_response(payload)
    text = repr(token) + str(token)
    assert str(payload["access_token"]) not in text
    assert str(payload["refresh_token"]) not in text
    assert token.fingerprint in text
    creds = ClientCredentials("id", "topsecret")
    assert "topsecret" not in repr(creds) + str(creds)
    static = StaticToken("sometoken-abc")
    assert "sometoken-abc" not in repr(static)


def test_scopes_from_jwt_claim_in_either_form() -> None:
    def jwt(claims: dict[str, object]) -> str:
        body = base64.urlsafe_b64encode(orjson.dumps(claims)).rstrip(b"=").decode()
        return f"e30.{body}.x"

    assert Token.from_response({"access_token": jwt({"scopes": ["a", "b"]})}).scopes == ("a", "b")
    assert Token.from_response({"access_token": jwt({"scope": "a b"})}).scopes == ("a", "b")
    assert Token.from_response({"access_token": "opaque"}).scopes is None


def test_short_lived_tokens_are_not_due_at_once() -> None:
    token = Token.from_response({"access_token": "x", "expires_in": 2}, now=1000.0)
    assert token.refresh_due_at(leeway=60) == 1001.0
    assert (
        Token.from_response({"access_token": "x", "expires_in": 1800}, now=0).refresh_due_at(60)
        == 1740
    )


def test_request_timeout_must_be_shorter_than_the_lease(creds: ClientCredentials) -> None:
    with pytest.raises(ValueError, match="shorter than lock_ttl"):
        TokenManager(creds, MemoryTokenStore(), key="k", request_timeout=30, lock_ttl=10)
