"""The realistic payload: a Fulfiller ``PagedOutboundResponse`` of 100 outbounds from the spec.

Every property of ``Outbound`` and its nested schemas is filled from the spec's examples (the
committed payload fixture of the model tests, ``tests/models/fixtures/fulfiller.json``, written
by ``tools/generate_payloads.py``), nested arrays hold two entries, and each outbound gets its
own id: about 3.8 KB per outbound. The create body is a Merchant ``CreateOutboundRequest``
built the same way from ``tests/models/fixtures/merchant.json``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson

__all__ = ["SpecMissing", "create_body", "outbound_page", "tiny_body"]


class SpecMissing(RuntimeError):
    """The payload fixture the page is built from is missing (a broken checkout)."""


def tiny_body() -> bytes:
    """The tiny JSON body of the request-overhead case (about the size of ``users/current``)."""
    return orjson.dumps({"userId": "MERC", "name": "Rick Sanchez", "ok": True})


def _fixtures() -> None:
    from tests.models.payloads import FIXTURES

    for api in ("fulfiller", "merchant"):
        if not (FIXTURES / f"{api}.json").is_file():
            raise SpecMissing(f"the payload fixtures are not in {FIXTURES}")


@cache
def create_body(count: int = 100) -> bytes:
    """A Merchant ``CreateOutboundRequest`` with ``count`` items, every property filled."""
    from tests.models.payloads import payload, without_unknown

    _fixtures()
    body = without_unknown(payload("merchant", "CreateOutboundRequest"))  # no future fields
    item = without_unknown(payload("merchant", "CreateOutboundItemRequest"))
    body["items"] = [{**item, "outboundItemId": str(i)} for i in range(count)]
    return orjson.dumps(body)


@cache
def outbound_page(count: int = 100) -> bytes:
    """A JSON page of ``count`` outbounds, as the API would send it."""
    from tests.models.payloads import UNKNOWN_KEY, payload

    _fixtures()

    def build(name: str) -> dict[str, Any]:
        data = payload("fulfiller", name)
        del data[UNKNOWN_KEY]  # nested objects keep theirs, as a growing API would send
        return data

    items = []
    for i in range(count):
        item = build("Outbound")
        item["outboundId"] = f"MERC02{i:05d}"
        item["merchantOutboundNumber"] = f"ORDER-{i:06d}"
        items.append(item)
    page = build("PagedOutboundResponse")
    page["items"] = items
    page["count"] = count
    page["_page"] = {"total": 10 * count, "limit": count, "offset": 0}
    return orjson.dumps(page)
