"""A strict OAuth2 authorization server, as JTL's behaves or stricter (RFC 6749 §4.1, §6).

``GET /authorize`` approves every valid request at once and redirects with a code and the
caller's ``state``. ``POST /token`` takes HTTP Basic client authentication and a form body and
serves two grants: ``authorization_code`` (single-use code bound to its ``redirect_uri``) and
``refresh_token`` with strict single-use rotation. Every login starts a token *family*; a
refresh token presented twice is treated as theft: the attempt is counted and the whole family
(every access and refresh token descended from that login) is revoked.

All bookkeeping between reading the request and answering it is synchronous, so any number of
concurrent requests, from any number of client processes, cannot race on the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import secrets
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import attrs
import orjson
from aiohttp import web
from yarl import URL

from .clock import FakeClock
from .stats import FakeStats

__all__ = ["DEFAULT_SCOPES", "OAuthServer", "TokenFault"]

DEFAULT_SCOPES: tuple[str, ...] = (
    "ffn.merchant.read",
    "ffn.merchant.write",
    "ffn.fulfiller.read",
    "ffn.fulfiller.write",
)

TokenFault = Literal["html", "truncated_json"]
"""How :attr:`OAuthServer.token_fault` breaks the token endpoint.

``"html"``: a proxy's 502 HTML page; the grant is *not* processed. ``"truncated_json"``: the
grant is processed (a refresh token is spent) but the 200 answer is cut in half.
"""

_CODE_LIFETIME = 60.0
_HTML_ERROR = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
    b"<body><h1>502 Bad Gateway</h1><p>The upstream server did not answer.</p></body></html>"
)


@attrs.define(eq=False)
class _Family:
    """Every token descended from one login; revoked as a whole on refresh-token reuse."""

    id: str
    subject: str
    scopes: tuple[str, ...]
    revoked: bool = False


@attrs.define(eq=False)
class _Grant:
    """A code or refresh token: single use, and its family."""

    family: _Family
    used: bool = False
    redirect_uri: str | None = None
    expires_at: float = float("inf")


@attrs.define(eq=False)
class _Access:
    family: _Family
    expires_at: float


class _GrantError(Exception):
    """An OAuth error answer: ``error`` code, description and HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class OAuthServer:
    """State and handlers of the fake authorization server (mount with :meth:`routes`).

    Args:
        client_id, client_secret: the one registered client; Basic auth must match both.
        redirect_uri: the registered redirect URI (``None``: any absolute URI is accepted).
        token_lifetime: access-token lifetime in seconds (float, e.g. ``2.0`` in tests).
        token_latency: seconds a refresh answer is held back. The refresh token is spent when
            the request arrives, like a server that worked but whose answer is slow.
        scopes: scopes granted to every login; ``None`` grants what was requested (all of
            :data:`DEFAULT_SCOPES` when nothing was).
        include_scope: add a ``scope`` field to token responses; off by default so clients must
            read the JWT's ``scopes`` claim, as with JTL's server.
        subject: the JWT ``sub`` (JTL puts a numeric customer-centre user id there).
        clock, stats: shared with the rest of the fake server.
    """

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        redirect_uri: str | None = None,
        token_lifetime: float = 1800.0,
        token_latency: float = 0.0,
        scopes: Iterable[str] | None = None,
        include_scope: bool = False,
        subject: str = "100042",
        clock: FakeClock | None = None,
        stats: FakeStats | None = None,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.token_lifetime = token_lifetime
        self.token_latency = token_latency
        self.scopes = tuple(scopes) if scopes is not None else None
        self.include_scope = include_scope
        self.subject = subject
        self.clock = clock or FakeClock()
        self.stats = stats or FakeStats()
        self.token_fault: TokenFault | None = None
        self._key = secrets.token_bytes(32)
        self._ids = itertools.count(1)
        self._codes: dict[str, _Grant] = {}
        self._refresh: dict[str, _Grant] = {}
        self._access: dict[str, _Access] = {}

    def routes(self) -> list[web.RouteDef]:
        """``GET /authorize`` and ``POST /token``."""
        return [web.get("/authorize", self.authorize), web.post("/token", self.token)]

    # ------------------------------------------------------------------ helpers for tests

    def issue_tokens(self, scopes: Iterable[str] | None = None) -> dict[str, Any]:
        """Log in without the browser dance: a new family and its token-endpoint JSON."""
        family = self._new_family(self._granted(scopes))
        return self._issue(family)

    def is_valid_access_token(self, token: str) -> bool:
        """Whether ``token`` was issued here, is unexpired and its family is not revoked."""
        return self.access_token_scopes(token) is not None

    def access_token_scopes(self, token: str) -> tuple[str, ...] | None:
        """The scopes of a valid access token; ``None`` if unknown, expired or revoked."""
        access = self._access.get(token)
        if access is None or access.family.revoked or access.expires_at <= self.clock.now():
            return None
        return access.family.scopes

    def revoke_all(self) -> None:
        """Revoke every family, as if the user withdrew consent: everyone must log in again."""
        for grant in (*self._codes.values(), *self._refresh.values()):
            grant.family.revoked = True

    @property
    def families_revoked(self) -> int:
        """How many token families are revoked (by reuse, code replay or :meth:`revoke_all`)."""
        return len({id(g.family) for g in self._refresh.values() if g.family.revoked})

    # ------------------------------------------------------------------ GET /authorize

    async def authorize(self, request: web.Request) -> web.StreamResponse:
        """Auto-approve: redirect to ``redirect_uri`` with ``code`` and ``state``."""
        self.stats.authorizations += 1
        query = request.query
        redirect_uri = query.get("redirect_uri") or self.redirect_uri
        # RFC 6749 §4.1.2.1: a bad client or redirect URI must not be redirected to.
        if query.get("client_id") != self.client_id:
            return _html_error(400, "unknown client_id")
        if redirect_uri is None or not URL(redirect_uri).is_absolute():
            return _html_error(400, "missing or relative redirect_uri")
        if self.redirect_uri is not None and redirect_uri != self.redirect_uri:
            return _html_error(400, "redirect_uri does not match the registered one")

        answer: dict[str, str] = {}
        if query.get("response_type") != "code":
            answer = {
                "error": "unsupported_response_type",
                "error_description": "only response_type=code is supported",
            }
        else:
            requested = query.get("scope", "").split() or None
            family = self._new_family(self._granted(requested))
            code = secrets.token_urlsafe(24)
            self._codes[code] = _Grant(
                family,
                redirect_uri=query.get("redirect_uri"),
                expires_at=self.clock.now() + _CODE_LIFETIME,
            )
            answer = {"code": code}
        if "state" in query:
            answer["state"] = query["state"]
        raise web.HTTPFound(URL(redirect_uri).update_query(answer))

    # ------------------------------------------------------------------ POST /token

    async def token(self, request: web.Request) -> web.StreamResponse:
        """The token endpoint: Basic client auth, then the grant named by ``grant_type``."""
        self.stats.token_requests += 1
        if self.token_fault == "html":
            return web.Response(status=502, body=_HTML_ERROR, content_type="text/html")
        form = await request.post()
        # Everything below runs without awaiting: check-and-rotate is atomic on the loop.
        try:
            self._authenticate(request.headers.get("Authorization"))
            grant_type = form.get("grant_type")
            if grant_type == "authorization_code":
                payload = self._exchange_code(_field(form, "code"), form.get("redirect_uri"))
                self.stats.code_exchanges += 1
                delay = 0.0
            elif grant_type == "refresh_token":
                payload = self._rotate(_field(form, "refresh_token"))
                self.stats.refreshes += 1
                delay = self.token_latency
            else:
                raise _GrantError(
                    "unsupported_grant_type",
                    "grant_type must be authorization_code or refresh_token",
                )
        except _GrantError as exc:
            if exc.error == "invalid_grant":
                self.stats.invalid_grants += 1
            return _oauth_error(exc)
        if delay > 0:
            await asyncio.sleep(delay)
        body = orjson.dumps(payload)
        if self.token_fault == "truncated_json":
            body = body[: len(body) // 2]
        return web.Response(
            body=body, content_type="application/json", headers={"Cache-Control": "no-store"}
        )

    def _authenticate(self, header: str | None) -> None:
        login, password = _basic_credentials(header)
        ok = (
            login is not None
            and password is not None
            and hmac.compare_digest(login.encode(), self.client_id.encode())
            and hmac.compare_digest(password.encode(), self.client_secret.encode())
        )
        if not ok:
            self.stats.invalid_clients += 1
            raise _GrantError("invalid_client", "client authentication failed", 401)

    def _exchange_code(self, code: str, redirect_uri: Any) -> dict[str, Any]:
        grant = self._codes.get(code)
        if grant is None:
            raise _GrantError("invalid_grant", "unknown authorization code")
        if grant.used:
            # RFC 6749 §4.1.2: a replayed code revokes what it produced.
            grant.family.revoked = True
            raise _GrantError("invalid_grant", "authorization code already used")
        if grant.expires_at <= self.clock.now():
            raise _GrantError("invalid_grant", "authorization code expired")
        if grant.redirect_uri is not None and redirect_uri != grant.redirect_uri:
            raise _GrantError("invalid_grant", "redirect_uri differs from the authorize request")
        grant.used = True
        return self._issue(grant.family)

    def _rotate(self, refresh_token: str) -> dict[str, Any]:
        grant = self._refresh.get(refresh_token)
        if grant is None:
            raise _GrantError("invalid_grant", "unknown refresh token")
        if grant.used:
            self.stats.reuse_attempts += 1
            grant.family.revoked = True
            raise _GrantError(
                "invalid_grant", "refresh token already used; the token family is revoked"
            )
        if grant.family.revoked:
            raise _GrantError("invalid_grant", "refresh token revoked")
        grant.used = True
        self.stats.rotations[grant.family.id] += 1
        return self._issue(grant.family)

    # ------------------------------------------------------------------ issuing

    def _granted(self, requested: Iterable[str] | None) -> tuple[str, ...]:
        if self.scopes is not None:
            return self.scopes
        return tuple(requested) if requested else DEFAULT_SCOPES

    def _new_family(self, scopes: tuple[str, ...]) -> _Family:
        return _Family(id=f"family-{next(self._ids)}", subject=self.subject, scopes=scopes)

    def _issue(self, family: _Family) -> dict[str, Any]:
        now = self.clock.now()
        expires_at = now + self.token_lifetime
        access = self._jwt(
            {
                "iss": "ffn-async-fake",
                "sub": family.subject,
                "aud": self.client_id,
                "iat": int(now),
                "exp": int(expires_at),
                "scopes": list(family.scopes),
                "jti": secrets.token_hex(12),
            }
        )
        refresh = secrets.token_urlsafe(32)
        self._access[access] = _Access(family, expires_at)
        self._refresh[refresh] = _Grant(family)
        payload: dict[str, Any] = {
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": self.token_lifetime,
            "token_type": "Bearer",
        }
        if self.include_scope:
            payload["scope"] = " ".join(family.scopes)
        return payload

    def _jwt(self, claims: Mapping[str, Any]) -> str:
        signing_input = (
            f"{_b64(orjson.dumps({'alg': 'HS256', 'typ': 'JWT'}))}.{_b64(orjson.dumps(claims))}"
        )
        signature = hmac.new(self._key, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(signature)}"


def _basic_credentials(header: str | None) -> tuple[str | None, str | None]:
    """``(login, password)`` from an HTTP Basic ``Authorization`` header, or ``(None, None)``."""
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None, None
    login, sep, password = decoded.partition(":")
    return (login, password) if sep else (None, None)


def _field(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    if not isinstance(value, str) or not value:
        raise _GrantError("invalid_request", f"missing form field {name!r}")
    return value


def _oauth_error(exc: _GrantError) -> web.Response:
    headers = {"Cache-Control": "no-store"}
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="ffn-async-fake"'
    return web.json_response(
        {"error": exc.error, "error_description": exc.description},
        status=exc.status,
        headers=headers,
    )


def _html_error(status: int, message: str) -> web.Response:
    body = f"<!DOCTYPE html><html><body><h1>Authorization failed</h1><p>{message}</p></body></html>"
    return web.Response(status=status, text=body, content_type="text/html")
