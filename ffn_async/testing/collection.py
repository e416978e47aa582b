"""``Collection``: the in-memory store behind every fake resource, with its change feed."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

from yarl import URL

from .clock import FakeClock
from .http import ApiFailure
from .query import format_time, from_micros, micros, parse_time

__all__ = ["Collection", "check_version"]

View = Callable[[Mapping[str, Any]], dict[str, Any]]


class Collection:
    """Objects of one resource by id, stamped with ``modificationInfo`` on every change.

    Deleted objects stay as tombstones (``state: Deleted``) so the change feed can report them;
    :meth:`get` and :meth:`live` skip them. Change times are strictly increasing, so a feed
    window never splits two changes that happened "at the same time".

    Args:
        id_field: the object's id property (``outboundId``).
        not_found: the FFN error code for a missing id (``Outbounds_OutboundNotFound``).
        clock: the server clock.
        key: how to get the id when it is not a plain property (stock changes).
    """

    def __init__(
        self,
        id_field: str,
        not_found: str,
        clock: FakeClock,
        key: Callable[[Mapping[str, Any]], str] | None = None,
    ) -> None:
        self.id_field = id_field
        self.key = key or (lambda obj: str(obj[id_field]))
        self.not_found = not_found
        self.clock = clock
        self._objects: dict[str, dict[str, Any]] = {}
        self._changed: dict[str, int] = {}  # id -> change time in microseconds
        self._external: set[str] = set()  # last changed by the fake itself, not via the API
        self._last = 0

    def __len__(self) -> int:
        return len(self.live())

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.live())

    def _stamp(self, key: str, external: bool) -> str:
        self._last = max(micros(self.clock.now_datetime()), self._last + 1)
        self._changed[key] = self._last
        (self._external.add if external else self._external.discard)(key)
        return format_time(from_micros(self._last))

    def insert(self, obj: dict[str, Any], *, external: bool = False) -> dict[str, Any]:
        """Store a new object (its id already set); stamps ``createdAt``, state ``New``."""
        key = self.key(obj)
        now = self._stamp(key, external)
        obj["modificationInfo"] = {"createdAt": now, "updatedAt": now, "state": "New"}
        self._objects[key] = obj
        return obj

    def get(self, key: str) -> dict[str, Any]:
        """The live object with this id; 404 ``not_found`` otherwise."""
        obj = self._objects.get(key)
        if obj is None or obj["modificationInfo"]["state"] == "Deleted":
            raise ApiFailure(
                404, self.not_found, f"{self.id_field} {key!r} not found", {self.id_field: key}
            )
        return obj

    def known(self, key: Any) -> dict[str, Any]:
        """The object a request body names: :meth:`get`, but a 400 whose metadata names the id
        as FFN does (``{"WarehouseId": …}``)."""
        try:
            return self.get(str(key))
        except ApiFailure as exc:
            name = self.id_field[0].upper() + self.id_field[1:]
            raise ApiFailure(400, exc.code, exc.message, {name: key}) from None

    def find(self, field: str, value: Any) -> dict[str, Any] | None:
        """The first live object whose ``field`` equals ``value``."""
        return next((obj for obj in self.live() if obj.get(field) == value), None)

    def live(self) -> list[dict[str, Any]]:
        """Every object not deleted, oldest first."""
        return [o for o in self._objects.values() if o["modificationInfo"]["state"] != "Deleted"]

    def live_rows(self, request: object) -> list[dict[str, Any]]:
        """:meth:`live`, callable as a list handler's row source."""
        return self.live()

    def update(
        self, key: str, changes: Mapping[str, Any] | None = None, *, external: bool = False
    ) -> dict[str, Any]:
        """Apply top-level ``changes`` to a live object and stamp it ``Modified``."""
        obj = self.get(key)
        obj.update(copy.deepcopy(dict(changes or {})))
        obj["modificationInfo"].update(updatedAt=self._stamp(key, external), state="Modified")
        return obj

    def delete(self, key: str, *, external: bool = False) -> None:
        """Turn a live object into a tombstone the change feed still reports."""
        obj = self.get(key)
        obj["modificationInfo"].update(updatedAt=self._stamp(key, external), state="Deleted")

    def feed(
        self,
        query: Mapping[str, str],
        url: URL,
        chunk_size: int,
        view: View,
        keep: Callable[[Mapping[str, Any]], bool] | None = None,
    ) -> dict[str, Any]:
        """A change-feed chunk: ``{from, to, data, moreDataAvailable, nextChunkUrl}``.

        The window is ``[fromDate, toDate)`` (default: everything until now); a ``toDate``
        later than the server clock is rejected, as the real API does. ``nextChunkUrl`` is
        absolute and repeats the resolved window with ``page + 1``. ``ignoreOwn…=true`` hides
        changes made through the API (everything but the fake's own helpers). ``keep`` limits
        the feed to the objects it accepts.
        """
        now = self.clock.now_datetime()
        end = parse_time(query["toDate"], "toDate") if "toDate" in query else now
        if end > now:
            raise ApiFailure(
                400,
                "Shared_ModelValidation",
                "toDate must not be later than the server time",
                {"toDate": query["toDate"], "ServerTime": format_time(now)},
            )
        start = parse_time(query["fromDate"], "fromDate") if "fromDate" in query else None
        if start is not None and start > end:
            raise ApiFailure(400, "Shared_ModelValidation", "fromDate is later than toDate")
        raw_page = query.get("page", "1")
        if not raw_page.isdigit() or int(raw_page) < 1:
            raise ApiFailure(400, "Shared_ModelValidation", "page must be a positive integer")
        number = int(raw_page)
        skip_own = any(
            query.get(k) == "true" for k in ("ignoreOwnApplicationId", "ignoreOwnUserId")
        )

        low = micros(start) if start is not None else 0
        high = micros(end)
        changed = sorted(
            (at, key)
            for key, at in self._changed.items()
            if low <= at < high
            and not (skip_own and key not in self._external)
            and (keep is None or keep(self._objects[key]))
        )
        chunk = changed[(number - 1) * chunk_size : number * chunk_size]
        more = len(changed) > number * chunk_size
        window_start = start if start is not None else from_micros(0)
        body: dict[str, Any] = {
            "from": format_time(window_start),
            "to": format_time(end),
            "data": [view(self._objects[key]) for _, key in chunk],
            "moreDataAvailable": more,
        }
        if more:
            next_query = {**query, "fromDate": body["from"], "toDate": body["to"]}
            body["nextChunkUrl"] = str(url.with_query({**next_query, "page": str(number + 1)}))
        return body


def check_version(obj: Mapping[str, Any], given: str | None, key: str) -> None:
    """400 ``Shared_OutdatedObject`` when ``objectVersion`` is not the object's last change."""
    if given is None:
        return
    current = obj["modificationInfo"].get("updatedAt") or obj["modificationInfo"]["createdAt"]
    if parse_time(given, "objectVersion") != datetime.fromisoformat(current):
        raise ApiFailure(
            400,
            "Shared_OutdatedObject",
            "The given version of this object is outdated.",
            {"Pk": key, "CurrentObjectVersion": current, "GivenObjectVersion": given},
        )
