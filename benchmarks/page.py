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

import orjson

__all__ = ["SpecMissing", "outbound_page", "tiny_body"]

_REPO = Path(__file__).resolve().parents[1]


class SpecMissing(RuntimeError):
    """The OpenAPI spec the page is generated from is not where the generator expects it."""


def tiny_body() -> bytes:
    """The tiny JSON body of the request-overhead case (about the size of ``users/current``)."""
    return orjson.dumps({"userId": "MERC", "name": "Rick Sanchez", "ok": True})


@cache
def outbound_page(count: int = 100) -> bytes:
    """A JSON page of ``count`` outbounds, as the API would send it."""
    sys.path.insert(0, str(_REPO / "tools"))
    import generate_models  # type: ignore[import-not-found]

    from tests.models.payloads import PayloadBuilder

    spec_path = generate_models.DEFAULT_SPEC
    if not spec_path.is_file():
        raise SpecMissing(f"the FFN spec is not at {spec_path}; the outbound page needs it")
    schemas = generate_models.merged_schemas(orjson.loads(spec_path.read_bytes()))[0]
    builder = PayloadBuilder(schemas)
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
