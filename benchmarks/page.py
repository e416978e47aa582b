"""The realistic payload: a ``PagedOutboundResponse`` of 100 outbounds built from the spec.

Every property of ``Outbound`` and its nested schemas is filled from the spec's examples (by
the same payload builder the model tests use), nested arrays hold two entries, and each
outbound gets its own id: about 3.8 KB per outbound. The spec is read from
``../shared/specs/`` (see ``tools/generate_models.py``); without it this case cannot run.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path
from typing import Any

import orjson

__all__ = ["SpecMissing", "create_body", "outbound_page", "tiny_body"]

_REPO = Path(__file__).resolve().parents[1]


class SpecMissing(RuntimeError):
    """The OpenAPI spec the page is generated from is not where the generator expects it."""


def tiny_body() -> bytes:
    """The tiny JSON body of the request-overhead case (about the size of ``users/current``)."""
    return orjson.dumps({"userId": "MERC", "name": "Rick Sanchez", "ok": True})


@cache
def _builder() -> Any:
    sys.path.insert(0, str(_REPO / "tools"))
    import generate_models  # type: ignore[import-not-found]

    from tests.models.payloads import PayloadBuilder

    spec_path = generate_models.DEFAULT_SPEC
    if not spec_path.is_file():
        raise SpecMissing(f"the FFN spec is not at {spec_path}; the benchmark bodies need it")
    schemas = generate_models.merged_schemas(orjson.loads(spec_path.read_bytes()))[0]
    return PayloadBuilder(schemas)


@cache
def create_body(count: int = 100) -> bytes:
    """A ``CreateOutbound`` request with ``count`` items, every property filled from the spec."""
    from tests.models.payloads import UNKNOWN_KEY

    def known(value: Any) -> Any:  # a request has no fields from the future
        if isinstance(value, dict):
            return {k: known(v) for k, v in value.items() if k != UNKNOWN_KEY}
        return [known(v) for v in value] if isinstance(value, list) else value

    builder = _builder()
    body = known(builder.object("CreateOutbound", extra=False))
    item = known(builder.object("CreateOutboundItem", extra=False))
    body["items"] = [{**item, "outboundItemId": str(i)} for i in range(count)]
    return orjson.dumps(body)


@cache
def outbound_page(count: int = 100) -> bytes:
    """A JSON page of ``count`` outbounds, as the API would send it."""
    builder = _builder()
    items = []
    for i in range(count):
        item = builder.object("Outbound", extra=False)
        item["outboundId"] = f"MERC02{i:05d}"
        item["merchantOutboundNumber"] = f"ORDER-{i:06d}"
        items.append(item)
    page = builder.object("PagedOutboundResponse", extra=False)
    page["items"] = items
    page["count"] = count
    page["_page"] = {"total": 10 * count, "limit": count, "offset": 0}
    return orjson.dumps(page)
