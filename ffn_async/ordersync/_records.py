"""The JSON records order sync keeps in a token store (feed checkpoints, outboxes).

Each is one JSON object with a ``format`` number; a record that does not read back (another
format, damaged bytes, a missing member) is an :class:`~ffn_async.errors.FFNError` naming what
it was, and the record is left untouched. Its owner writes it under the store's lease and
stops ``commit_margin`` seconds before the lease runs out (:func:`check_lease`).
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import time
from collections.abc import Iterator
from typing import Any, Final

import orjson

from token_stores import StoreError, TokenStore

from ..errors import FFNError

__all__ = ["FORMAT", "check_lease", "dump", "keep_aside", "load", "reading"]

FORMAT: Final = 1
"""The format number written into every record."""


def dump(members: dict[str, Any]) -> bytes:
    """A record's bytes: ``members`` with the format number."""
    return orjson.dumps({"format": FORMAT, **members})


def load(data: bytes) -> dict[str, Any]:
    """A record's members; :class:`ValueError` for another format (use inside :func:`reading`)."""
    raw = orjson.loads(data)
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        found = raw.get("format") if isinstance(raw, dict) else type(raw).__name__
        raise ValueError(f"unknown format {found!r}")
    return raw


@contextlib.contextmanager
def reading(what: str) -> Iterator[None]:
    """Turn any failure to read ``what`` (a record's members) into one :class:`FFNError`."""
    try:
        yield
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise FFNError(f"{what} cannot be read ({exc})") from None


def check_lease(lease_ttl: float, commit_margin: float) -> None:
    """Refuse a lease that ends before the margin its holder keeps for the last write."""
    if commit_margin >= lease_ttl:
        raise ValueError("commit_margin must be shorter than lease_ttl")


async def keep_aside(store: TokenStore, key: str, data: bytes) -> str:
    """Save an unreadable record's bytes under a new key next to ``key``, for a person to
    inspect; return that key (``"-"`` if even that failed: the store is down)."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    digest = hashlib.sha256(key.encode()).hexdigest()[:8]
    aside = f"{key[:150]}.corrupt-{stamp}-{digest}-{secrets.token_hex(2)}"
    try:
        await store.save(aside, data, None)
    except StoreError:
        return "-"
    return aside
