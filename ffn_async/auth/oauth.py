"""The OAuth2 wire protocol of JTL's authorization server (RFC 6749 §4.1 and §6).

Builds the authorize URL and performs the two token-endpoint calls (code exchange, refresh)
with HTTP Basic client authentication, turning every kind of bad answer into a typed error.
Coordination (who refreshes, when, and where the result goes) lives in :mod:`ffn_async.auth`.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urlencode

import aiohttp
import attrs
import orjson
from aiohttp.abc import AbstractStreamWriter
from aiohttp.payload import BytesPayload
from yarl import URL

from .._redact import Secrets, scrub
from ..environment import Environment
from ..errors import InvalidClient, InvalidGrant, TokenEndpointError, TransportError
from ..http._bodies import read_limited
from ..observe._logfields import logger
from ..token import ClientCredentials, Token, TokenOrigin

__all__ = [
    "MAX_TOKEN_ANSWER_SIZE",
    "TOKEN_TEMPLATE",
    "InvalidGrant",
    "authorize_url",
    "basic_authorization",
    "request_token",
    "scrub",
]

log = logger("ffn_async.auth")

#: The ``template`` a token-endpoint call carries in aiohttp's ``trace_request_ctx``.
TOKEN_TEMPLATE = "<token endpoint>"
#: Largest token-endpoint answer read, in bytes: two tokens of at most 16 KiB each (see
#: :mod:`ffn_async.token`) and their fields fit many times over; JTL's answer is ~2 KiB.
MAX_TOKEN_ANSWER_SIZE = 256 * 1024
_LIMIT = (MAX_TOKEN_ANSWER_SIZE, "ffn_async.auth.oauth.MAX_TOKEN_ANSWER_SIZE")


def authorize_url(
    environment: Environment, credentials: ClientCredentials, scopes: Iterable[str], state: str
) -> URL:
    """The URL to send a person's browser to for consent."""
    query = {
        "response_type": "code",
        "client_id": credentials.client_id,
        "scope": " ".join(scopes),
        "state": state,
    }
    if credentials.redirect_uri:
        query["redirect_uri"] = credentials.redirect_uri
    return environment.authorize_url.update_query(query)


def basic_authorization(credentials: ClientCredentials) -> str:
    """The ``Authorization`` value for the token endpoint: HTTP Basic (RFC 7617) over
    ``client_id:client_secret``, as JTL documents it. Built here rather than with aiohttp's
    ``BasicAuth``, which aiohttp 3.14 deprecates."""
    raw = f"{credentials.client_id}:{credentials.client_secret}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


async def request_token(
    session: aiohttp.ClientSession,
    environment: Environment,
    credentials: ClientCredentials,
    form: dict[str, str],
    *,
    timeout: float,
    trace_request_ctx: dict[str, Any] | None = None,
    fence: Callable[[], Awaitable[None]] | None = None,
) -> Token:
    """POST ``form`` to the token endpoint and return the issued :class:`Token`.

    ``fence`` runs right before the request's first byte leaves (see :class:`_FencedForm`);
    what it raises is raised instead of sending anything.

    Raises:
        InvalidClient: the client id or secret was rejected.
        InvalidGrant: the code or refresh token is dead.
        TokenEndpointError: any other error answer, a redirect (never followed), HTML,
            malformed JSON, or a token that is not usable (see :meth:`Token.from_response`).
        TransportError: the endpoint could not be reached or did not answer in ``timeout``.
        ResponseTooLarge: the answer is over :data:`MAX_TOKEN_ANSWER_SIZE` (not read further;
            like a lost answer, the grant may have been used).

    An answer that carries a usable refresh token is returned even if other fields are
    unusable (repaired, with a warning: see :meth:`Token.salvage`): the server has spent the
    grant, and dropping what it issued would cost the chain.
    """
    authorization = basic_authorization(credentials)
    # Secrets that must never appear in an error message, whatever the server echoes (made
    # into a Secrets only for an error: building one is not free, and a refresh holds the lock).
    secrets = (
        credentials.client_secret,
        form.get("refresh_token"),
        form.get("code"),
        authorization.removeprefix("Basic "),
    )
    answer = await _post(
        session,
        environment,
        form,
        authorization,
        timeout=timeout,
        trace_request_ctx=trace_request_ctx,
        fence=fence,
    )
    if 300 <= answer.status < 400:
        raise _redirect_refused(environment, answer)
    payload = _parse_json(answer.body, answer.status, answer.content_type, environment)
    if answer.status == 200 and isinstance(payload, dict) and "error" not in payload:
        return _issued_token(payload, environment, secrets)
    raise _rejection(payload, answer.status, credentials, secrets)


async def _post(
    session: aiohttp.ClientSession,
    environment: Environment,
    form: dict[str, str],
    authorization: str,
    *,
    timeout: float,
    trace_request_ctx: dict[str, Any] | None,
    fence: Callable[[], Awaitable[None]] | None,
) -> _Answer:
    """Send ``form`` once and read the answer; no answer is a :class:`TransportError` (or
    what the fence raised)."""
    body_out = form if fence is None else _FencedForm(form, fence)
    try:
        async with session.post(
            environment.token_url,
            data=body_out,
            headers={"Accept": "application/json", "Authorization": authorization},
            timeout=aiohttp.ClientTimeout(total=timeout),
            # Never follow a redirect: the body carries the refresh token or the code, and a
            # 307/308 would re-send it to wherever the Location points.
            allow_redirects=False,
            trace_request_ctx=trace_request_ctx or {"attempt": 1, "template": TOKEN_TEMPLATE},
        ) as response:
            status = response.status
            content_type = response.content_type
            location = response.headers.get("Location")
            body = (
                b""
                if 300 <= status < 400
                else await read_limited(response, _LIMIT, "POST", environment.token_url)
            )
    except aiohttp.ClientConnectorError as exc:
        raise TransportError(
            f"cannot reach the token endpoint {environment.token_url}: {exc.os_error}", sent=False
        ) from None
    except (TimeoutError, aiohttp.ClientError) as exc:
        refused = body_out.refused if isinstance(body_out, _FencedForm) else None
        if refused is not None:
            raise refused from None  # the fence stopped it: not a byte was sent
        # The request may have reached the server: with a refresh grant, its refresh token may
        # already be spent. Never retried here; the caller re-reads the store instead.
        raise TransportError(
            f"the token endpoint {environment.token_url} did not answer "
            f"({type(exc).__name__}); the grant may or may not have been used"
        ) from None
    return _Answer(status, content_type, location, body)


class _FencedForm(BytesPayload):
    """The form body, written only once ``fence`` has passed.

    aiohttp writes a body once the connection is established, and sends the request's headers
    along with its first bytes; so the fence runs after any connect (and TLS handshake), right
    before the first byte of the request leaves. If it raises, nothing at all was sent: the
    connection is closed, and :func:`request_token` raises what the fence raised.
    """

    def __init__(self, form: dict[str, str], fence: Callable[[], Awaitable[None]]) -> None:
        super().__init__(
            urlencode(form).encode("ascii"), content_type="application/x-www-form-urlencoded"
        )
        self._fence = fence
        self.refused: BaseException | None = None

    async def _pass(self) -> None:
        try:
            await self._fence()
        except BaseException as exc:
            self.refused = exc
            raise

    async def write(self, writer: AbstractStreamWriter) -> None:
        await self._pass()
        await super().write(writer)

    async def write_with_length(
        self, writer: AbstractStreamWriter, content_length: int | None
    ) -> None:
        await self._pass()
        await super().write_with_length(writer, content_length)


@attrs.frozen
class _Answer:
    """The token endpoint's answer, read before its connection is released."""

    status: int
    content_type: str
    location: str | None
    body: bytes  # empty for a redirect: not read


def _redirect_refused(environment: Environment, answer: _Answer) -> TokenEndpointError:
    target = environment.token_url.join(URL(answer.location)) if answer.location else None
    where = f"host {target.host!r}" if target is not None and target.host else "nowhere"
    return TokenEndpointError(
        f"the token endpoint {environment.token_url} answered {answer.status}, redirecting to "
        f"{where}; the redirect was not followed (it would re-send the grant). If the "
        "endpoint really moved, set Environment.token_url to the new URL",
        status=answer.status,
    )


def _parse_json(body: bytes, status: int, content_type: str, environment: Environment) -> Any:
    if not body.strip():
        if status == 401:  # some servers send a bare 401 for bad client credentials
            return {}
        raise TokenEndpointError(
            f"the token endpoint {environment.token_url} answered {status} with an empty body",
            status=status,
        )
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        looks_html = "html" in content_type or body.lstrip()[:1] == b"<"
        what = (
            f"an HTML page ({content_type})" if looks_html else f"malformed JSON ({content_type})"
        )
        raise TokenEndpointError(
            f"the token endpoint {environment.token_url} answered {status} with {what} "
            f"({len(body)} bytes) instead of a JSON token; check Environment.token_url and any "
            "proxy in between",
            status=status,
        ) from None


def _issued_token(
    payload: dict[str, Any], environment: Environment, secrets: tuple[str | None, ...]
) -> Token:
    """The token of a 200 answer, stamped with where it was issued; salvaged if need be."""
    origin = TokenOrigin.of(environment)
    try:
        return attrs.evolve(Token.from_response(payload), issued_for=origin)
    except ValueError as exc:
        refused = exc
    try:
        token, problems = Token.salvage(payload)
    except ValueError:
        reason = scrub(str(refused), secrets)
        raise TokenEndpointError(
            f"the token endpoint answered 200 without a usable token: {reason}",
            status=200,
        ) from None
    log.warning(
        "the token endpoint's answer carries a refresh token but is otherwise unusable "
        "(%s); keeping it with those fields repaired",
        scrub("; ".join(problems), secrets),
    )
    return attrs.evolve(token, issued_for=origin)


def _rejection(
    payload: Any, status: int, credentials: ClientCredentials, secrets: tuple[str | None, ...]
) -> TokenEndpointError:
    """The error for an answer without a token, by its OAuth ``error`` code (RFC 6749 §5.2)."""
    error, description = _error_fields(payload, secrets)
    suffix = f": {description}" if description else ""
    if error == "invalid_client" or status == 401:
        return InvalidClient(
            f"the token endpoint rejected client {credentials.client_id!r} "
            f"(status {status}, {error or 'no error code'}){suffix}; check the client id and "
            "secret of your ClientCredentials",
            status=status,
            error=error or "invalid_client",
        )
    if error == "invalid_grant":
        return InvalidGrant(
            f"the token endpoint rejected the grant (invalid_grant){suffix}",
            status=status,
            error=error,
        )
    return TokenEndpointError(
        f"the token endpoint answered {status} ({error or 'no OAuth error code'}){suffix}",
        status=status,
        error=error,
    )


def _error_fields(payload: Any, secrets: tuple[str | None, ...]) -> tuple[str | None, str]:
    """The answer's ``error`` and ``error_description``, scrubbed of the request's secrets."""
    redactor = Secrets(secrets)
    raw_error = payload.get("error") if isinstance(payload, dict) else None
    error = scrub(str(raw_error), redactor, limit=64) if raw_error is not None else None
    raw_description = payload.get("error_description") if isinstance(payload, dict) else None
    description = scrub(str(raw_description), redactor) if raw_description else ""
    return error, description
