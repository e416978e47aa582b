"""A strategy of a user's own, written only against the documented :class:`Auth` protocol (no
TokenManager, no base class), goes through FFNClient end to end: the client uses every
optional capability it declares (fast path, environment, account key, 401 hint, observer,
session, closing), and nothing else, and closes it before its session."""

from __future__ import annotations

import aiohttp
import pytest
from yarl import URL

from ffn_async import FFNClient
from ffn_async.auth import Auth, AuthBase, with_defaults
from ffn_async.errors import Unauthorized
from ffn_async.observe._logfields import account_of
from ffn_async.observe.events import Event
from tests.http_mock import aioresponses

from ..conftest import TEST_ENV

API = "https://api.ffn.test/api"


class VaultAuth:
    """Tokens from a vault of the user's own; implements the protocol, subclasses nothing."""

    environment = TEST_ENV
    account_key = "vault-account"
    unauthorized_hint = "ask the vault team"

    def __init__(self) -> None:
        self.token = "vault-1"
        self.awaited = 0
        self.unauthorized: list[str] = []
        self.observer: object = None
        self.session: aiohttp.ClientSession | None = None
        self.closed_with: list[float | None] = []
        self.session_open_at_close: bool | None = None

    def fresh_token(self) -> str | None:
        return None if self.awaited == 0 else self.token

    async def access_token(self) -> str:
        self.awaited += 1
        return self.token

    async def handle_unauthorized(self, failed_access_token: str) -> bool:
        self.unauthorized.append(failed_access_token)
        if failed_access_token == "vault-1":
            self.token = "vault-2"
            return True
        return False

    def granted_scopes(self) -> tuple[str, ...] | None:
        return None

    def use_observer(self, observer: object) -> None:
        self.observer = observer

    def use_session(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def aclose(self, *, timeout: float | None = None) -> None:
        self.closed_with.append(timeout)
        assert self.session is not None
        self.session_open_at_close = not self.session.closed


def authorizations(mock: aioresponses, url: str) -> list[str]:
    return [call.kwargs["headers"]["Authorization"] for call in mock.requests[("GET", URL(url))]]


async def test_a_strategy_of_ones_own_works_end_to_end_and_is_closed() -> None:
    auth = VaultAuth()
    assert isinstance(auth, Auth)
    events: list[Event] = []
    with aioresponses() as mock:
        mock.get(f"{API}/v1/a", status=401, payload={})
        mock.get(f"{API}/v1/a", payload={"ok": 1})
        mock.get(f"{API}/v1/b", payload={"ok": 2})
        mock.get(f"{API}/v1/c", status=401, payload={}, repeat=True)
        async with FFNClient(auth, observer=events.append) as ffn:  # environment: the auth's
            assert ffn.environment is TEST_ENV
            assert auth.observer is not None  # the client's observer, lent
            assert await ffn.request("GET", "/v1/a") == {"ok": 1}  # a 401, then a retry
            assert await ffn.request("GET", "/v1/b") == {"ok": 2}  # from the fast path
            with pytest.raises(Unauthorized) as caught:
                await ffn.request("GET", "/v1/c")
            assert auth.session is ffn._http()  # the client's session, lent
            assert account_of(ffn) == "vault-account"  # its log records' ffn_account
        assert authorizations(mock, f"{API}/v1/a") == ["Bearer vault-1", "Bearer vault-2"]
        assert authorizations(mock, f"{API}/v1/b") == ["Bearer vault-2"]
    assert auth.awaited == 1  # once: then the fast path had the token
    assert auth.unauthorized == ["vault-1", "vault-2"]
    assert caught.value.hint == "ask the vault team"
    assert events  # requests were reported to the client's observer
    assert auth.closed_with == [None]  # closed once, with its own limit
    assert auth.session_open_at_close  # before the client's session went
    assert auth.session.closed


class Minimal:
    """Only what the protocol requires."""

    async def access_token(self) -> str:
        return "minimal"

    async def handle_unauthorized(self, failed_access_token: str) -> bool:
        return False

    def granted_scopes(self) -> tuple[str, ...] | None:
        return None


class Subclassed(AuthBase):
    """The required methods on the base class with the defaults."""

    async def access_token(self) -> str:
        return "subclassed"

    async def handle_unauthorized(self, failed_access_token: str) -> bool:
        return False

    def granted_scopes(self) -> tuple[str, ...] | None:
        return None


@pytest.mark.parametrize("auth", [Minimal(), Subclassed()], ids=["minimal", "subclassed"])
async def test_optional_capabilities_default_and_a_401_has_no_hint(auth: Auth) -> None:
    token = await auth.access_token()
    with aioresponses() as mock:
        mock.get(f"{API}/v1/x", payload={})
        mock.get(f"{API}/v1/y", status=401, payload={}, repeat=True)
        async with FFNClient(auth, environment=TEST_ENV) as ffn:
            await ffn.request("GET", "/v1/x")
            with pytest.raises(Unauthorized) as caught:
                await ffn.request("GET", "/v1/y")
        assert authorizations(mock, f"{API}/v1/x") == [f"Bearer {token}"]
    assert caught.value.hint is None
    completed = with_defaults(auth)
    assert completed.fresh_token() is None
    assert completed.environment is None
    assert completed.account_key is None
    assert (completed is auth) == isinstance(auth, AuthBase)


async def test_an_aclose_without_timeout_is_called_without_one() -> None:
    """A strategy written before 0.3.0 (``aclose()`` with no ``timeout``) still closes."""

    class OldStyle:
        closed = 0

        async def access_token(self) -> str:
            return "t"

        async def handle_unauthorized(self, failed_access_token: str) -> bool:
            return False

        def granted_scopes(self) -> tuple[str, ...] | None:
            return None

        async def aclose(self) -> None:
            self.closed += 1

    auth = OldStyle()
    async with FFNClient(auth, environment=TEST_ENV):
        pass
    assert auth.closed == 1
