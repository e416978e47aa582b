"""The stored token record: what a :class:`~token_stores.base.TokenStore` holds for an account.

The lowest layer of the token lifecycle. A record is opaque bytes to the store; here it is
:class:`StoredToken` (the token, its rotation count, a dead account's reason, a "rotation in
flight" mark, whether a 401 forced it) and its JSON encoding, with the format number that lets
a later version read it. Nothing here does I/O.
"""

from __future__ import annotations

import time

import attrs
import orjson

from token_stores.base import CorruptRecord, Record

from ..token import Token

__all__ = [
    "UNAUTHORIZED_QUIET",
    "StoredToken",
    "decode_record",
    "encode_record",
    "holds_mark",
    "refuses_fresh",
    "unmarked",
]

_RECORD_FORMAT = 1
#: A token issued by a 401-forced refresh is not force-refreshed again this soon (seconds).
UNAUTHORIZED_QUIET = 300.0


@attrs.frozen(repr=False)
class StoredToken:
    """What the store holds for an account: the token, its version and rotation count.

    ``reauthorization_required`` holds the reason when the refresh token is known to be dead.
    ``rotating_by``/``rotating_since`` mark a rotation in flight (a worker id and Unix time):
    the refresh token may be spent already and its successor not saved yet.
    ``after_unauthorized`` says the token came from a refresh forced by a 401.
    """

    token: Token | None
    version: int | None
    rotation: int = 0
    reauthorization_required: str | None = None
    rotating_by: str | None = None
    rotating_since: float | None = None
    after_unauthorized: bool = False

    def __repr__(self) -> str:
        rotating = f", rotating_since={self.rotating_since}" if self.rotating_by else ""
        return (
            f"StoredToken(token={self.token!r}, version={self.version}, rotation={self.rotation}, "
            f"reauthorization_required={self.reauthorization_required!r}{rotating})"
        )


def encode_record(key: str, stored: StoredToken) -> bytes:
    """The record's bytes; refuses (``ValueError``) anything that would not read back."""
    data = orjson.dumps(
        {
            "format": _RECORD_FORMAT,
            "token": stored.token.to_dict() if stored.token else None,
            "rotation": stored.rotation,
            "reauthorization_required": stored.reauthorization_required,
            "rotating": (
                {"by": stored.rotating_by, "since": stored.rotating_since}
                if stored.rotating_by
                else None
            ),
            "after_unauthorized": stored.after_unauthorized,
            "saved_at": time.time(),
        }
    )
    # Nothing unreadable may reach the store: every other worker would get CorruptRecord.
    if decode_record(key, Record(data, 1)).token != stored.token:
        raise ValueError("the token does not survive its own encoding")
    return data


def decode_record(key: str, record: Record | None) -> StoredToken:
    """The record under ``key`` read back (no record: no token); :class:`CorruptRecord` for
    bytes that are not an ffn-async token record of a known format."""
    if record is None:
        return StoredToken(None, None)
    try:
        raw = orjson.loads(record.data)
        if not isinstance(raw, dict) or raw.get("format") != _RECORD_FORMAT:
            raise ValueError("unknown record format")
        token = Token.from_dict(raw["token"]) if raw.get("token") else None
        rotating = raw.get("rotating") or {}
        return StoredToken(
            token,
            record.version,
            int(raw.get("rotation", 0)),
            raw.get("reauthorization_required"),
            str(rotating["by"]) if rotating.get("by") else None,
            float(rotating["since"]) if rotating.get("by") else None,
            bool(raw.get("after_unauthorized", False)),
        )
    except (ValueError, KeyError, TypeError, AttributeError, orjson.JSONDecodeError) as exc:
        raise CorruptRecord(
            f"the record under key {key!r} (version {record.version}) is not an ffn-async token "
            f"({type(exc).__name__}); it was left untouched. A new login (exchange_code or "
            "store_token) replaces it and keeps its bytes under another key for inspection",
            data=record.data,
            version=record.version,
        ) from None


def unmarked(stored: StoredToken) -> StoredToken:
    """``stored`` without its "rotation in flight" mark."""
    return attrs.evolve(stored, rotating_by=None, rotating_since=None)


def holds_mark(latest: StoredToken, marked: StoredToken) -> bool:
    """Whether ``latest`` still holds exactly ``marked``'s mark, on the same token and rotation.

    A mark is named by its writer and ``since`` (each mark of a writer is later than its last),
    so a later mark of the same writer, or a mark over another token, is not this one.
    """
    return (
        latest.rotating_by == marked.rotating_by
        and latest.rotating_since == marked.rotating_since
        and latest.token == marked.token
        and latest.rotation == marked.rotation
    )


def refuses_fresh(stored: StoredToken, failed: str | None) -> bool:
    """Whether the API refused ``stored``'s token, which a 401-forced refresh just issued."""
    token = stored.token
    return (
        stored.after_unauthorized
        and token is not None
        and token.access_token == failed
        and time.time() - (token.issued_at or 0.0) < UNAUTHORIZED_QUIET
    )
