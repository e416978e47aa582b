"""Handlers shared by every resource family: list, get, change feed, and id allocation."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from .collection import Collection
from .http import json_response
from .query import page
from .views import Side, project, viewer

__all__ = ["Finder", "Handler", "IdMaker", "feed_handler", "get_handler", "list_handler"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Rows = Callable[[web.Request], list[dict[str, Any]]]
Finder = Callable[[web.Request], dict[str, Any]]

_ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"


class IdMaker:
    """FFN-looking ids: owner, a two-digit type code and a base-34 serial (``MERC02000A1``)."""

    def __init__(self) -> None:
        self._serials: Counter[str] = Counter()

    def __call__(self, owner: str, code: str, width: int) -> str:
        number = self._serials[owner + code] = self._serials[owner + code] + 1
        digits = []
        for _ in range(width):
            number, rest = divmod(number, len(_ALPHABET))
            digits.append(_ALPHABET[rest])
        return f"{owner}{code}{''.join(reversed(digits))}"


def list_handler(side: Side, schema: str, rows: Rows | Collection) -> Handler:
    """A paged OData list (``$top/$skip/$filter/$orderBy/$select``) of ``schema`` objects."""
    source: Rows = rows.live_rows if isinstance(rows, Collection) else rows

    async def handler(request: web.Request) -> web.Response:
        items = [project(side, schema, obj) for obj in source(request)]
        return json_response(page(items, request.query))

    return handler


def get_handler(
    side: Side, schema: str, find: Callable[[web.Request], Mapping[str, Any]]
) -> Handler:
    """One object, found by ``find`` (which raises the 404)."""

    async def handler(request: web.Request) -> web.Response:
        return json_response(project(side, schema, find(request)))

    return handler


def feed_handler(
    side: Side, schema: str, collection: Collection, chunk_size: Callable[[], int]
) -> Handler:
    """A change feed (``…/updates``) of ``schema`` objects."""
    view = viewer(side, schema)

    async def handler(request: web.Request) -> web.Response:
        return json_response(collection.feed(request.query, request.url, chunk_size(), view))

    return handler
