"""Each API's view of a stored object: only the properties its spec schema lists.

The fake stores one object per resource with the fields of both APIs (an outbound knows its
``merchantId`` and its ``fulfillerId``); :func:`project` cuts it down to the schema the answer
follows, recursively, using the generated :data:`~ffn_async.testing.shapes.SHAPES`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from .shapes import SHAPES

__all__ = ["SIDES", "Side", "project", "viewer"]

Side = Literal["merchant", "fulfiller"]


def project(side: Side, schema: str, value: Any) -> Any:
    """``value`` with only the properties of ``schema`` in ``side``'s spec (lists mapped)."""
    if isinstance(value, list):
        return [project(side, schema, item) for item in value]
    if not isinstance(value, Mapping):
        return value
    shape = SHAPES[side][schema]
    result = {}
    for key, item in value.items():
        if key in shape:
            child = shape[key]
            result[key] = (
                item if child is None or child not in SHAPES[side] else project(side, child, item)
            )
    return result


def viewer(side: Side, schema: str) -> Callable[[Mapping[str, Any]], Any]:
    """:func:`project` bound to one side and schema (for change feeds and lists)."""
    return lambda obj: project(side, schema, obj)


SIDES: tuple[Side, Side] = ("merchant", "fulfiller")
"""Both APIs, for routes served on each."""
