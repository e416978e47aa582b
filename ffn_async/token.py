"""Token and client credentials: values that hold secrets and never show them.

``repr``/``str`` print a short fingerprint instead of any secret, so tokens can be logged and
compared by a person without leaking them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs
import orjson

if TYPE_CHECKING:
    from .environment import Environment

__all__ = ["MAX_EXPIRES_IN", "ClientCredentials", "Token", "TokenOrigin", "fingerprint"]

#: Longest access-token life accepted from a token endpoint (a year); JTL's is ~1800 s.
MAX_EXPIRES_IN = 366 * 86400.0
_DEFAULT_EXPIRES_IN = 1800.0
_MAX_TOKEN_LENGTH = 16384
# RFC 6750 §2.1 b64token is narrower; any visible ASCII is accepted, but nothing that could
# break a header (space, CR, LF) or the record. Refresh tokens: RFC 6749 VSCHAR.
_ACCESS_CHARS = re.compile(r"[\x21-\x7e]+")
_REFRESH_CHARS = re.compile(r"[\x20-\x7e]+")


def _expires_in(raw: Any) -> float:
    """``expires_in`` as a finite, positive, bounded number of seconds, else ``ValueError``."""
    if raw is None:
        return _DEFAULT_EXPIRES_IN
    # bool is an int in Python, and "inf"/"nan" are floats to float(): refuse them all.
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ValueError(f"expires_in is a {type(raw).__name__}, not a number of seconds")
    if isinstance(raw, str):
        if not re.fullmatch(r"\s*\d+(\.\d+)?\s*", raw):
            raise ValueError("expires_in is not a number of seconds")
        raw = float(raw)
    try:
        value = float(raw)
    except OverflowError:  # an integer beyond any float
        value = math.inf
    if not math.isfinite(value) or not 0 < value <= MAX_EXPIRES_IN:
        raise ValueError(
            f"expires_in must be a finite number of seconds above 0 and at most "
            f"{MAX_EXPIRES_IN:.0f}, got {value!r}"
        )
    return value


def _repaired_expires_in(raw: Any) -> float:
    """An ``expires_in`` :func:`_expires_in` refused, made usable: a number beyond the limit is
    clamped to it, anything else (not a number, not positive, not finite) is the default."""
    try:
        value = float(raw) if not isinstance(raw, bool) else math.nan
    except OverflowError:  # an integer too large for a float: beyond the limit if positive
        value = math.inf if raw > 0 else math.nan
    except (TypeError, ValueError):
        value = math.nan
    if value > MAX_EXPIRES_IN:  # inf too
        return MAX_EXPIRES_IN
    return _DEFAULT_EXPIRES_IN


def _read_answer(payload: Mapping[str, Any], now: float | None) -> tuple[Token, list[str]]:
    """A token-endpoint answer read field by field: the token with every unusable field
    repaired (see :meth:`Token.salvage`), and what was wrong, in the order checked."""
    problems: list[str] = []
    access = _read_access_token(payload.get("access_token"), problems)
    refresh = _read_refresh_token(payload.get("refresh_token"), problems)
    expires_in = _read_expires_in(payload.get("expires_in"), problems)
    scope = payload.get("scope")
    scopes = tuple(scope.split()) if isinstance(scope, str) else _jwt_scopes(access)
    token_type = payload.get("token_type") or "Bearer"
    issued = time.time() if now is None else now
    token = Token(
        access_token=access,
        refresh_token=refresh or None,
        # Without a usable access token the token is due at once (its refresh token is not).
        expires_at=issued + expires_in if access else issued,
        token_type=str(token_type),
        scopes=scopes,
        issued_at=issued,
    )
    return token, problems


def _read_access_token(raw: Any, problems: list[str]) -> str:
    """The access token, or ``""`` with the reason added to ``problems``."""
    if not isinstance(raw, str) or not raw:
        problems.append("the response has no access_token")
        return ""
    if len(raw) > _MAX_TOKEN_LENGTH or not _ACCESS_CHARS.fullmatch(raw):
        problems.append("access_token holds characters a bearer token cannot carry")
        return ""
    return raw


def _read_refresh_token(raw: Any, problems: list[str]) -> str | None:
    """The refresh token as sent (``None`` or ``""`` when absent), or ``None`` with the reason
    added to ``problems``."""
    if raw is not None and not isinstance(raw, str):
        problems.append("refresh_token is not a string")
        return None
    if raw and (len(raw) > _MAX_TOKEN_LENGTH or not _REFRESH_CHARS.fullmatch(raw)):
        problems.append("refresh_token holds characters a refresh token cannot carry")
        return None
    return raw


def _read_expires_in(raw: Any, problems: list[str]) -> float:
    """``expires_in`` in seconds, or a repaired one with the reason added to ``problems``."""
    try:
        return _expires_in(raw)
    except ValueError as exc:
        problems.append(str(exc))
        return _repaired_expires_in(raw)


def fingerprint(secret: str) -> str:
    """A short, non-reversible label for a secret (first 8 hex digits of its SHA-256)."""
    return hashlib.sha256(secret.encode()).hexdigest()[:8]


def _check_client_id(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError("client_id must be a non-empty string")
    if ":" in value:  # HTTP Basic (RFC 7617) cannot carry a ':' in the user id
        raise ValueError("client_id must not contain ':'")


def _check_client_secret(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError("client_secret must be a non-empty string")


@attrs.frozen(repr=False)
class ClientCredentials:
    """The application's OAuth client: id, secret and registered redirect URI."""

    client_id: str = attrs.field(validator=_check_client_id)
    client_secret: str = attrs.field(validator=_check_client_secret)
    redirect_uri: str | None = None

    def __repr__(self) -> str:
        return (
            f"ClientCredentials(client_id={self.client_id!r}, client_secret=<redacted>, "
            f"redirect_uri={self.redirect_uri!r})"
        )

    __str__ = __repr__


def _jwt_scopes(access_token: str) -> tuple[str, ...] | None:
    """Read the ``scopes`` (or ``scope``) claim of a JWT without checking its signature.

    The claim only tells us what the token may do, to fail early; the API still decides.
    """
    parts = access_token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = orjson.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        return None
    if not isinstance(claims, dict):
        return None
    raw = claims.get("scopes", claims.get("scope"))
    if isinstance(raw, str):
        return tuple(raw.split())
    if isinstance(raw, list) and all(isinstance(s, str) for s in raw):
        return tuple(raw)
    return None


@attrs.frozen
class TokenOrigin:
    """Where a token was issued: the environment's name, its API and its token endpoint.

    Production and sandbox share one token endpoint, so the API URL is what tells them apart.
    Stored with the token (since 0.2.0) so that a store's reader can say where a token belongs
    without being configured for it.
    """

    environment: str
    api_url: str
    token_url: str

    @classmethod
    def of(cls, environment: Environment) -> TokenOrigin:
        return cls(environment.name, str(environment.api_url), str(environment.token_url))

    def to_dict(self) -> dict[str, str]:
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> TokenOrigin:
        """Inverse of :meth:`to_dict`; ``TypeError`` when it is not three strings."""
        if not isinstance(data, Mapping):
            raise TypeError("issued_for is not an object")
        environment, api_url, token_url = (
            data.get(k) for k in ("environment", "api_url", "token_url")
        )
        if not (
            isinstance(environment, str) and isinstance(api_url, str) and isinstance(token_url, str)
        ):
            raise TypeError("issued_for needs environment, api_url and token_url strings")
        return cls(environment, api_url, token_url)


@attrs.frozen(repr=False)
class Token:
    """An OAuth2 token pair as issued by the token endpoint.

    ``expires_at`` is Unix time in seconds, computed from ``expires_in`` when the response
    arrived. ``scopes`` is ``None`` when neither the response nor the JWT says.
    ``issued_for`` is the environment whose token endpoint issued it (set by the token request;
    ``None`` for a token read from a record saved before 0.2.0, or built by hand).
    """

    access_token: str
    refresh_token: str | None
    expires_at: float
    token_type: str = "Bearer"
    scopes: tuple[str, ...] | None = None
    issued_at: float | None = None
    issued_for: TokenOrigin | None = None

    @classmethod
    def from_response(cls, payload: Mapping[str, Any], *, now: float | None = None) -> Token:
        """Build a token from a token-endpoint JSON object; raise ``ValueError`` if it is none.

        Everything that would be stored is checked here, so nothing unreadable reaches a
        store: the tokens are non-empty visible ASCII of bounded length, and ``expires_in``
        is a finite number of seconds in ``(0, MAX_EXPIRES_IN]`` (1800 when absent).
        """
        token, problems = _read_answer(payload, now)
        if problems:
            raise ValueError(problems[0])
        return token

    @classmethod
    def salvage(
        cls, payload: Mapping[str, Any], *, now: float | None = None
    ) -> tuple[Token, tuple[str, ...]]:
        """What can be kept of an answer :meth:`from_response` refuses, and why it refused.

        A rotating server has spent the old refresh token once it answers, so an answer that
        carries a usable refresh token must be kept whatever else is wrong with it: an
        ``expires_in`` beyond :data:`MAX_EXPIRES_IN` is clamped to it, one that is no usable
        number becomes the default (1800 s), an unusable access token becomes ``""`` (due for
        refresh at once). Raises ``ValueError`` when there is no usable refresh token: then
        nothing was issued that could be kept.
        """
        token, problems = _read_answer(payload, now)
        if token.refresh_token is None:
            raise ValueError(problems[0] if problems else "the response has no refresh_token")
        return token, tuple(problems)

    def expires_in(self, now: float | None = None) -> float:
        """Seconds until the access token expires (negative once expired)."""
        return self.expires_at - (time.time() if now is None else now)

    def is_expired(self, leeway: float = 0.0, now: float | None = None) -> bool:
        """Whether the access token expires within ``leeway`` seconds."""
        return self.expires_in(now) <= leeway

    def refresh_due_at(self, leeway: float) -> float:
        """Unix time from which the token should be refreshed.

        ``leeway`` seconds before expiry, but never earlier than half-way through the token's
        life: a short-lived token (a test server's 2 s) must not look due the moment it is issued.
        """
        if self.issued_at is not None:
            leeway = min(leeway, (self.expires_at - self.issued_at) / 2)
        return self.expires_at - leeway

    def with_refresh_token(self, refresh_token: str | None) -> Token:
        """A copy whose refresh token is replaced (a server may omit it on refresh)."""
        return attrs.evolve(self, refresh_token=refresh_token)

    def to_dict(self) -> dict[str, Any]:
        """The token as a JSON-ready dict (secrets included: for storage only)."""
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at,
            "token_type": self.token_type,
            "scopes": list(self.scopes) if self.scopes is not None else None,
            "issued_at": self.issued_at,
            # Readers before 0.2.0 ignore this key; records without it read as None.
            "issued_for": self.issued_for.to_dict() if self.issued_for is not None else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Token:
        """Inverse of :meth:`to_dict`; raise ``ValueError``/``KeyError`` on a malformed dict."""
        scopes = data.get("scopes")
        expires_at = float(data["expires_at"])
        if not math.isfinite(expires_at):
            raise ValueError("expires_at is not finite")
        refresh = data.get("refresh_token")
        if refresh is not None and not isinstance(refresh, str):
            raise TypeError("refresh_token is not a string")
        return cls(
            access_token=str(data["access_token"]),
            refresh_token=refresh,
            expires_at=expires_at,
            token_type=str(data.get("token_type") or "Bearer"),
            scopes=tuple(scopes) if scopes is not None else None,
            issued_at=float(data["issued_at"]) if data.get("issued_at") is not None else None,
            issued_for=(
                TokenOrigin.from_dict(data["issued_for"])
                if data.get("issued_for") is not None
                else None
            ),
        )

    @property
    def fingerprint(self) -> str:
        """Short label of the access token, safe to log."""
        return fingerprint(self.access_token)

    def __repr__(self) -> str:
        scopes = " ".join(self.scopes) if self.scopes is not None else "unknown"
        return (
            f"Token(access_token=<{self.fingerprint}>, "
            f"refresh_token={'<redacted>' if self.refresh_token else None}, "
            f"expires_in={self.expires_in():.0f}s, scopes={scopes!r})"
        )

    __str__ = __repr__
