"""The changes a feed checkpoint remembers near its watermark, packed so the record stays small.

A checkpoint drops a change it already delivered when the next window's overlap fetches it
again. It remembers each change as an 8-byte digest of the object's id and the modification
time in microseconds. The record packs them sorted by time: the digests side by side, the times
as varint steps from the first one. A change costs about 11 bytes (15 in base64) instead of the
60 or more an id and an ISO time take, so a burst of thousands of changes fits in a store's
64 KB column. The set is capped at :data:`MAX_SEEN` changes: past that, the oldest are
forgotten and the *floor* moves up to the newest forgotten time. A change at or below the floor
counts as delivered, so a large burst shortens the overlap (to the last ``MAX_SEEN`` changes)
instead of growing the record. It does not deliver the forgotten changes again.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Iterator, Mapping
from typing import Any, Final

__all__ = ["MAX_SEEN", "digest", "from_legacy", "micros", "pack", "unpack"]

MAX_SEEN: Final = 2048
"""At most this many changes are remembered (about 30 KB in the record)."""

_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def digest(ident: str) -> str:
    """An object id's 8-byte digest (hex): what the checkpoint remembers instead of the id."""
    return hashlib.blake2b(ident.encode(), digest_size=8).hexdigest()


def micros(at: dt.datetime) -> int:
    """``at`` as whole microseconds since the epoch (exact, so comparisons stay exact)."""
    delta = at - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def pack(seen: Mapping[str, int], floor: int | None) -> tuple[dict[str, Any], int | None]:
    """The record members of ``seen`` (digest -> microseconds), capped at :data:`MAX_SEEN`.

    Returns the members and the floor after capping (``floor`` or the newest forgotten time).
    """
    entries = sorted(seen.items(), key=lambda item: (item[1], item[0]))
    if len(entries) > MAX_SEEN:
        forgotten = entries[: len(entries) - MAX_SEEN]
        entries = entries[len(forgotten) :]
        floor = max(floor or forgotten[-1][1], forgotten[-1][1])
    ids = b"".join(bytes.fromhex(key) for key, _ in entries)
    steps = bytearray()
    previous = entries[0][1] if entries else 0
    for _, at in entries:
        _varint(steps, at - previous)
        previous = at
    members = {
        "first": entries[0][1] if entries else None,
        "ids": base64.b64encode(ids).decode(),
        "steps": base64.b64encode(bytes(steps)).decode(),
        "floor": floor,
    }
    return members, floor


def unpack(members: Mapping[str, Any]) -> tuple[dict[str, int], int | None]:
    """``seen`` and the floor from :func:`pack`'s members (:class:`ValueError` if damaged)."""
    ids = base64.b64decode(members["ids"], validate=True)
    steps = base64.b64decode(members["steps"], validate=True)
    floor = members["floor"]
    if len(ids) % 8 or (floor is not None and not isinstance(floor, int)):
        raise ValueError("damaged seen set")
    at = members["first"] or 0
    seen: dict[str, int] = {}
    values = _varints(steps)
    for index in range(0, len(ids), 8):
        step = next(values, None)
        if step is None:
            raise ValueError("damaged seen set")
        at += step
        seen[ids[index : index + 8].hex()] = at
    if next(values, None) is not None:
        raise ValueError("damaged seen set")
    return seen, floor


def from_legacy(seen: Mapping[str, str]) -> dict[str, int]:
    """The first format's ``{id: iso time}`` as digests and microseconds."""
    return {digest(k): micros(dt.datetime.fromisoformat(v)) for k, v in seen.items()}


def _varint(out: bytearray, value: int) -> None:
    if value < 0:
        raise ValueError("times must be sorted")
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return


def _varints(data: bytes) -> Iterator[int]:
    value = shift = 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            yield value
            value = shift = 0
    if shift:
        raise ValueError("damaged seen set")
