"""What the fake's API received, request by request, so tests can check what a client sent."""

from __future__ import annotations

from typing import Any

import attrs
import orjson

__all__ = ["ReceivedRequest"]


@attrs.frozen
class ReceivedRequest:
    """One API request as it reached the fake (kept in :attr:`FakeFFN.received`).

    Attributes:
        method: the HTTP method.
        path: the path exactly as sent, still percent-encoded (``/api/v1/…/outbounds/A%2F1``).
        query: the query's ``(name, value)`` pairs, decoded, in the order sent.
        body: the raw body (``b""`` when there was none).
        route: the route template that served it (``/api/v1/merchant/outbounds/{outboundId}``),
            or the path when no route matched.
        status: the status the fake answered.
    """

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    body: bytes
    route: str
    status: int

    def json(self) -> Any:
        """The body decoded as JSON (``None`` when there was none)."""
        return orjson.loads(self.body) if self.body else None
