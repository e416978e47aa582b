"""List and change-feed answers: OData paging (``$top/$skip/$filter/$orderBy/$select``) and
``…/updates`` windows (``fromDate/toDate/page``), in the API's envelope shapes.

Only ``$``-parameters filter, as on the real API: plain ``?status=Shipped`` is ignored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from yarl import URL

from .http import ApiFailure
from .odata import FilterError, compile_filter, resolve_path

__all__ = ["DEFAULT_TOP", "format_time", "from_micros", "micros", "page", "parse_time"]

DEFAULT_TOP = 50
_LIST_PARAMS = ("$filter", "$orderBy", "$select")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def micros(moment: datetime) -> int:
    """Exact microseconds since the epoch (the fake's unit for change times)."""
    return (moment - _EPOCH) // _MICRO


def from_micros(value: int) -> datetime:
    """Inverse of :func:`micros`."""
    return _EPOCH + value * _MICRO


def format_time(moment: datetime) -> str:
    """ISO-8601 in UTC with an offset (FFN writes milliseconds; the fake keeps microseconds)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def parse_time(value: str, name: str) -> datetime:
    """An ISO-8601 query value as an aware datetime (naive means UTC); 400 if unreadable."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _invalid(name, f"{name} is not an ISO-8601 date-time: {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _invalid(name: str, message: str) -> ApiFailure:
    return ApiFailure(400, "Shared_ModelValidation", message, {"Parameter": name})


def _int_param(query: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _invalid(name, f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise _invalid(name, f"{name} must be at least {minimum}")
    return value


def _sort_key(path: str) -> Any:
    def key(obj: Mapping[str, Any]) -> tuple[bool, Any]:
        value = resolve_path(obj, path)
        return (value is not None, value if value is not None else 0)

    return key


def page(objects: Sequence[Mapping[str, Any]], query: Mapping[str, str]) -> dict[str, Any]:
    """One page of ``objects`` as ``{items, _page, _links, nextPageLink, count}``.

    ``count`` is the number of matching objects; ``_page.total`` the number of pages (as FS
    documents it). ``nextPageLink`` and ``_links`` are relative query strings.
    """
    top = _int_param(query, "$top", DEFAULT_TOP, 1)
    skip = _int_param(query, "$skip", 0, 0)
    items = list(objects)
    if expression := query.get("$filter"):
        try:
            predicate = compile_filter(expression)
        except FilterError as exc:
            raise _invalid("$filter", str(exc)) from None
        items = [obj for obj in items if predicate(obj)]
    if order := query.get("$orderBy"):
        # Stable sorts applied from the last key to the first give a multi-key order.
        for clause in reversed([c.split() for c in order.split(",") if c.strip()]):
            if len(clause) > 2 or (len(clause) == 2 and clause[1] not in ("asc", "desc")):
                raise _invalid("$orderBy", f"cannot read $orderBy clause {' '.join(clause)!r}")
            try:
                items.sort(key=_sort_key(clause[0]), reverse=clause[-1] == "desc")
            except TypeError:
                raise _invalid("$orderBy", f"values of {clause[0]} are not comparable") from None
    count = len(items)
    chunk = items[skip : skip + top]
    if select := query.get("$select"):
        fields = [f.strip() for f in select.split(",") if f.strip()]
        chunk = [{f: obj[f] for f in fields if f in obj} for obj in chunk]

    kept = {k: query[k] for k in _LIST_PARAMS if k in query}

    def link(offset: int) -> str:
        return str(URL.build(query={**kept, "$top": str(top), "$skip": str(offset)}))

    links: dict[str, str] = {}
    if skip > 0:
        links["previous"] = link(max(skip - top, 0))
    if skip + top < count:
        links["next"] = link(skip + top)
    body: dict[str, Any] = {
        "items": chunk,
        "_page": {"total": -(-count // top), "limit": top, "offset": skip},
        "_links": links,
        "count": count,
    }
    if "next" in links:
        body["nextPageLink"] = links["next"]
    return body
