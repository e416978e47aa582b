"""Handlers and request helpers shared by every resource family: list, get, change feed, the
three reads of one kind of object, PATCH bodies and numbered request items."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Container, Mapping
from typing import Any

from aiohttp import web

from .collection import Collection
from .http import invalid, json_response, require
from .query import page
from .state import FakeState
from .views import Side, project, viewer

__all__ = [
    "Finder",
    "Handler",
    "feed_handler",
    "get_handler",
    "list_handler",
    "numbered_items",
    "patch_changes",
    "read_routes",
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Rows = Callable[[web.Request], list[dict[str, Any]]]
Finder = Callable[[web.Request], dict[str, Any]]


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


def feed_handler(state: FakeState, side: Side, schema: str, collection: Collection) -> Handler:
    """A change feed (``…/updates``) of ``schema`` objects, in chunks of ``state.chunk_size``."""
    view = viewer(side, schema)

    async def handler(request: web.Request) -> web.Response:
        body = collection.feed(request.query, request.url, state.chunk_size, view)
        return json_response(body)

    return handler


def read_routes(
    state: FakeState,
    side: Side,
    path: str,
    schema: str,
    collection: Collection,
    key: str,
    find: Finder | None = None,
) -> list[web.RouteDef]:
    """The three reads of one kind of object on ``side``'s API: the list at ``path``, its
    change feed at ``path/updates`` and one object at ``path/{key}``.

    ``find`` finds the object (by default, the one with that id in ``collection``). Register
    other fixed paths below ``path`` before these, or ``{key}`` would catch them.
    """
    if find is None:
        find = lambda request: collection.get(request.match_info[key])  # noqa: E731
    return [
        web.get(path, list_handler(side, schema, collection)),
        web.get(f"{path}/updates", feed_handler(state, side, schema, collection)),
        web.get(f"{path}/{{{key}}}", get_handler(side, schema, find)),
    ]


def numbered_items(
    items: Any,
    id_field: str,
    resolve: Callable[[Mapping[str, Any]], Mapping[str, Any] | None],
) -> list[dict[str, Any]]:
    """Copy request items, numbering them, resolving their product, setting ``quantityOpen``.

    ``resolve(item)`` returns the item's product, raises the 400, or returns ``None`` to keep
    the item as sent.
    """
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise invalid("items must be a non-empty list of objects", "items")
    result = []
    for number, item in enumerate(items, 1):
        require(item, "quantity")
        product = resolve(item)
        known = (
            {"jfsku": product["jfsku"], "merchantSku": product["merchantSku"]} if product else {}
        )
        result.append(
            {
                id_field: str(item.get(id_field) or number),
                **item,
                **known,
                "quantityOpen": item["quantity"],
            }
        )
    return result


def patch_changes(
    obj: Mapping[str, Any],
    body: Mapping[str, Any],
    read_only: Container[str],
    merged: tuple[str, ...] = (),
) -> dict[str, Any]:
    """A PATCH body as changes to ``obj``: every field but the ``read_only`` ones, the nested
    objects named in ``merged`` (an address) changed field by field rather than replaced."""
    changes = {k: v for k, v in body.items() if k not in read_only}
    for field in merged:
        if isinstance(changes.get(field), dict):
            changes[field] = {**(obj.get(field) or {}), **changes[field]}
    return changes
