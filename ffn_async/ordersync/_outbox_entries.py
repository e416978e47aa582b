"""How an outbox entry is written into a queue entry, and read back (also from 0.1.0's record).

One entry is one queue entry: a JSON object with a ``format`` number
(:mod:`ffn_async.ordersync._records`) holding the kept create and its state. The whole outbox of
ffn-async 0.1.0 was one record (``{"next", "entries": [...]}``); :func:`legacy_entries` reads it so
the outbox can move its entries into the queue on upgrade."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from typing import Any

import attrs
import orjson

from . import _records

__all__ = ["EntryState", "OutboxEntry", "decode", "encode", "legacy_entries", "needs", "provides"]


class EntryState(enum.Enum):
    """Where an entry stands."""

    WAITING = "waiting"
    """In line: the next replay sends it, in order."""
    HELD = "held"
    """Set aside: it kept failing while later entries went through, or it names a product
    that is not at FFN yet. Every replay tries it again after the waiting ones."""
    FAILED = "failed"
    """FFN refused this payload for good (a 4xx about it). Sent again only after a person
    retries it (``ffn-async outbox retry``)."""


@attrs.frozen
class OutboxEntry:
    """One kept create.

    Attributes:
        id: its number in the outbox, in the order it was kept (a retried entry gets a new one).
        kind: the :data:`~ffn_async.api.creates.KINDS` name (``"outbound"``).
        number: the merchant's own number of the object.
        body: the encoded JSON request, sent byte for byte on replay.
        path_params, params: path and query parameters of the create.
        kept_at: when it was kept (UTC).
        reason: why it was kept, or the last error that stopped it.
        state: waiting, held (set aside) or failed.
        attempts: sends of it that failed with an error of this entry (5xx, lost answer);
            failures for want of a login or of FFN as a whole are not counted.
    """

    id: int
    kind: str
    number: str
    body: bytes = attrs.field(repr=False)
    path_params: Mapping[str, str | int] = attrs.field(factory=dict)
    params: Mapping[str, Any] = attrs.field(factory=dict)
    kept_at: dt.datetime = attrs.field(factory=lambda: dt.datetime.now(dt.UTC))
    reason: str = ""
    state: EntryState = EntryState.WAITING
    attempts: int = 0

    @property
    def failed(self) -> str | None:
        """Why FFN refused it, if it did (``None`` for waiting and held entries)."""
        return self.reason if self.state is EntryState.FAILED else None


def encode(entry: OutboxEntry) -> bytes:
    """The queue entry's bytes."""
    return _records.dump(
        {
            "id": entry.id,
            "kind": entry.kind,
            "number": entry.number,
            "body": entry.body.decode(),
            "path_params": dict(entry.path_params),
            "params": dict(entry.params),
            "kept_at": entry.kept_at.isoformat(),
            "reason": entry.reason,
            "state": entry.state.value,
            "attempts": entry.attempts,
        }
    )


def _from_json(raw: Mapping[str, Any], item_id: int | None) -> OutboxEntry:
    failed = raw.get("failed")  # 0.1.0: a refusal's text, else None
    state = EntryState(raw.get("state") or (EntryState.FAILED.value if failed else "waiting"))
    return OutboxEntry(
        id=int(raw["id"]) if item_id is None else item_id,
        kind=str(raw["kind"]),
        number=str(raw["number"]),
        body=str(raw["body"]).encode(),
        path_params=dict(raw.get("path_params") or {}),
        params=dict(raw.get("params") or {}),
        kept_at=dt.datetime.fromisoformat(raw["kept_at"]),
        reason=str(failed or raw.get("reason") or ""),
        state=state,
        attempts=int(raw.get("attempts") or 0),
    )


def decode(data: bytes, item_id: int | None = None) -> OutboxEntry:
    """An entry from its bytes; ``item_id`` (the queue's id) overrides the id it carries.

    Raises :class:`~ffn_async.errors.FFNError` when the bytes are not an entry.
    """
    with _records.reading("an outbox entry"):
        return _from_json(_records.load(data), item_id)


def legacy_entries(data: bytes) -> list[OutboxEntry]:
    """The entries of a 0.1.0 outbox record, oldest first (``FFNError`` if unreadable)."""
    with _records.reading("an outbox record of ffn-async 0.1.0"):
        return [_from_json(raw, None) for raw in _records.load(data)["entries"]]


# --------------------------------------------------------------------------- products first

#: Kinds whose items name products: they must not reach FFN before a kept create of it.
_ITEM_KINDS = frozenset({"outbound", "inbound", "return"})


def needs(entry: OutboxEntry) -> frozenset[str]:
    """The products (merchant SKUs and JFSKUs) the items of ``entry`` name."""
    if entry.kind not in _ITEM_KINDS:
        return frozenset()
    try:
        items = orjson.loads(entry.body).get("items") or ()
    except (orjson.JSONDecodeError, AttributeError):
        return frozenset()
    return frozenset(
        str(item[field])
        for item in items
        if isinstance(item, dict)
        for field in ("merchantSku", "jfsku")
        if item.get(field)
    )


def provides(entry: OutboxEntry) -> frozenset[str]:
    """The product a product create makes (its merchant SKU, and its JFSKU if it sets one)."""
    if entry.kind != "product":
        return frozenset()
    try:
        body = orjson.loads(entry.body)
    except orjson.JSONDecodeError:
        return frozenset()
    if not isinstance(body, dict):
        return frozenset()
    return frozenset(str(body[f]) for f in ("merchantSku", "jfsku") if body.get(f))
