"""Secrets a server echoes back, replaced before its text reaches an exception or a log line.

A server, or a proxy in front of it, may quote a credential it was sent: whole,
percent-encoded, or cut in pieces. :class:`Secrets` replaces every such form by
``<redacted>``; :func:`scrub` also makes a server's text short and printable for a message.
Used for token-endpoint answers (:mod:`ffn_async.auth.oauth`) and API error answers
(:func:`ffn_async.errors.error_for_status`). Imports nothing of ffn_async.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Final
from urllib.parse import quote, quote_plus

__all__ = ["REDACTED", "Secrets", "credentials_in", "redact_cookies", "scrub"]

REDACTED: Final = "<redacted>"

# A piece of a secret this long is treated as the secret; shorter ones are ordinary text.
_PIECE: Final = 8
# A secret of a few characters (a test's code "c") cannot be told from ordinary text.
_SHORTEST: Final = 4
# Runs of token characters: only inside them are pieces of a secret looked for.
_TOKENISH: Final = re.compile(rf"[A-Za-z0-9\-._~+/=%]{{{_PIECE},}}")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]+")


# Request headers whose value (after the scheme) is a credential.
_CREDENTIAL_HEADERS: Final = frozenset({"authorization", "proxy-authorization"})


def _cookie_values(header: str) -> list[str]:
    """The values of a ``Cookie`` (``a=1; b=2``) or ``Set-Cookie`` (``a=1; Path=/``) header."""
    values = []
    for part in header.split(";"):
        _, eq, value = part.strip().partition("=")
        if eq and value.strip():
            values.append(value.strip().strip('"'))
    return values


def credentials_in(headers: Iterable[Mapping[str, str]]) -> list[str]:
    """The credentials a request carried in ``headers`` (each mapping searched): the value
    of ``Authorization``/``Proxy-Authorization`` after its scheme, and every cookie's value
    (a session cookie is a bearer credential too)."""
    found: list[str] = []
    for mapping in headers:
        for name, value in mapping.items():
            lowered = name.lower()
            if lowered in _CREDENTIAL_HEADERS:
                scheme, _, credential = value.strip().partition(" ")
                found.append(credential.strip() or scheme)
            elif lowered == "cookie":
                found += _cookie_values(value)
    return found


def redact_cookies(name: str, value: str) -> str:
    """A response header's ``value`` with the cookie it sets redacted when it is a
    ``Set-Cookie`` (its name and attributes stay readable), else ``value`` unchanged."""
    if name.lower() != "set-cookie":
        return value
    cookie, sep, attributes = value.partition(";")
    cookie_name, eq, _ = cookie.partition("=")
    return f"{cookie_name}{eq}{REDACTED}{sep}{attributes}" if eq else value


class Secrets:
    """The secrets one request carried, ready to be looked for in a server's answer.

    Each secret counts raw and percent-encoded (``quote`` and ``quote_plus``); any
    :data:`_PIECE` characters of one of these forms found inside a run of token characters
    count too, so a secret cut short, split in parts or glued to other text is found.
    Building costs one set of the secrets' 8-character pieces (about 900 for a JTL access
    token: a fraction of a millisecond); :meth:`redact` looks each window of the text's token
    runs up in it once (microseconds for a usual error answer, milliseconds for 64 KiB).
    """

    __slots__ = ("_forms", "_pieces")

    def __init__(self, secrets: Iterable[str | None]) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if secret and len(secret) >= _SHORTEST:
                forms |= {secret, quote(secret, safe=""), quote_plus(secret)}
        self._forms = sorted(forms, key=len, reverse=True)  # longest first: no half-replaced
        self._pieces = {
            form[i : i + _PIECE] for form in forms for i in range(len(form) - _PIECE + 1)
        }

    def __bool__(self) -> bool:
        return bool(self._forms)

    def redact(self, text: str) -> str:
        """``text`` with every form of every secret, or a piece of one, as ``<redacted>``."""
        if not self._forms:
            return text
        for form in self._forms:
            if form in text:
                text = text.replace(form, REDACTED)
        if not self._pieces:
            return text
        pieces = self._pieces
        spans: list[tuple[int, int]] = []  # the text's characters covered by pieces
        for run in _TOKENISH.finditer(text):
            start, end = run.span()
            for i in range(start, end - _PIECE + 1):
                if text[i : i + _PIECE] in pieces:
                    if spans and spans[-1][1] >= i:
                        spans[-1] = (spans[-1][0], i + _PIECE)
                    else:
                        spans.append((i, i + _PIECE))
        if not spans:
            return text
        out, done = [], 0
        for start, end in spans:
            out += [text[done:start], REDACTED]
            done = end
        out.append(text[done:])
        return "".join(out)

    def redact_bytes(self, data: bytes) -> bytes:
        """:meth:`redact` for a body: bytes that are not UTF-8 stay exactly as they were."""
        if not self._forms or not data:
            return data
        text = data.decode("utf-8", "surrogateescape")
        redacted = self.redact(text)
        return data if redacted is text else redacted.encode("utf-8", "surrogateescape")


def scrub(text: str, secrets: Secrets | Iterable[str | None], limit: int = 300) -> str:
    """``text`` from a server, made safe for an exception or a log line.

    Every secret (client secret, refresh token, code, the Basic header …) is replaced by
    ``<redacted>``, raw or percent-encoded, whole or in part (see :class:`Secrets`); control
    characters are dropped; the result is bounded to ``limit`` characters.
    """
    if not isinstance(secrets, Secrets):
        secrets = Secrets(secrets)
    text = _CONTROL.sub(" ", secrets.redact(text))
    return text if len(text) <= limit else text[:limit] + "…"
