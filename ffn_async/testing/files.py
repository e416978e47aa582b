"""Files sent in request bodies (product pictures, outbound attachments): base64 data and the
media type its first bytes announce."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from .http import invalid

__all__ = ["decode_base64", "mime_type"]

_MAGIC = (
    (b"%PDF", "application/pdf"),
    (b"\x89PNG", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
)


def decode_base64(value: Any, field: str) -> bytes:
    """A base64 body field as bytes; 400 if it is not base64."""
    if not isinstance(value, str) or not value:
        raise invalid(f"{field} must be base64-encoded data", field)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise invalid(f"{field} is not valid base64", field) from None


def mime_type(data: bytes) -> str:
    """The media type the data's first bytes announce (``application/octet-stream`` if none)."""
    return next(
        (kind for magic, kind in _MAGIC if data.startswith(magic)), "application/octet-stream"
    )
