"""Case 2, decoding: a 100-outbound page from bytes to typed objects and back to bytes.

Compared: ffn-async (``serialization.decode`` / ``serialization.dumps``: orjson plus the one
cattrs converter), pydantic v2 (``model_validate_json`` / ``model_dump_json``) and msgspec
(``Decoder`` / ``Encoder``) with models written out here by hand to cover the same fields and
nesting as the spec's ``PagedOutboundResponse`` → ``Outbound`` (addresses, items, attributes,
attachments, modification info, status timestamps), and ``json``/``orjson`` to plain dicts as
the lower bound. Same types everywhere: ``Decimal`` amounts, aware ``datetime``; enums are the
library's ``StrEnum`` or a plain string for unknown values in ffn-async and pydantic (tried
left to right), and plain ``str`` in msgspec, which cannot mix an enum with ``str``.
``None`` is left out on encode by all three.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import timeit
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any

import attrs
import msgspec
import orjson
import pydantic
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from ffn_async import serialization
from ffn_async.models import fulfiller
from ffn_async.models.fulfiller import (
    AttributeType,
    DocumentType,
    ItemType,
    ObjectState,
    OutboundStatusType,
    PremiumType,
    ShippingType,
)

from .page import outbound_page
from .report import CaseResult, Table

__all__ = ["FULL", "QUICK", "Params", "codecs", "run"]


@attrs.frozen
class Params:
    """Sizes of one run: ``repeat`` timings of ``number`` calls each, best kept."""

    items: int = 100
    number: int = 20
    repeat: int = 7


FULL = Params()
QUICK = Params(number=5, repeat=3)

# --------------------------------------------------------------------------- pydantic v2


def _either(enum: Any) -> Any:
    """``Enum | str``, trying the enum first (pydantic's smart mode would pick ``str``)."""
    return Annotated[enum | str, Field(union_mode="left_to_right")]


class _PBase(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class PAddress(_PBase):
    salutation: str | None = None
    firstname: str | None = None
    lastname: str | None = None
    company: str | None = None
    street: str
    city: str
    zip: str | None = None
    country: str
    email: str | None = None
    phone: str | None = None
    extra_line: str | None = None
    extra_address_line: str | None = None
    state: str | None = None
    mobile: str | None = None
    fax: str | None = None


class PAttribute(_PBase):
    key: str
    value: str
    attribute_type: _either(AttributeType)  # type: ignore[valid-type]


class PItem(_PBase):
    outbound_item_id: str
    jfsku: str | None = None
    item_type: _either(ItemType)  # type: ignore[valid-type]
    quantity: Decimal
    quantity_open: Decimal
    name: str | None = None
    merchant_sku: str | None = None
    external_number: str | None = None
    price: Decimal | None = None
    vat: Decimal | None = None
    bill_of_materials_id: str | None = None
    note: str | None = None


class PAttachment(_PBase):
    url: str
    size: int
    mime_type: str
    merchant_document_id: str
    document_type: _either(DocumentType)  # type: ignore[valid-type]
    expired_at: dt.datetime | None = None


class PModificationInfo(_PBase):
    created_at: dt.datetime
    updated_at: dt.datetime | None = None
    state: _either(ObjectState) | None = None  # type: ignore[valid-type]
    changes_in_range: list[PModificationInfo] | None = None


class PStatusTimestamp(_PBase):
    pending: dt.datetime | None = None
    preparation: dt.datetime | None = None
    acknowledged: dt.datetime | None = None
    locked: dt.datetime | None = None
    pickprocess: dt.datetime | None = None
    shipped: dt.datetime | None = None
    partially_shipped: dt.datetime | None = None
    canceled: dt.datetime | None = None
    partially_canceled: dt.datetime | None = None


class POutbound(_PBase):
    outbound_id: str
    merchant_id: str | None = None
    external_number: str | None = None
    status: _either(OutboundStatusType)  # type: ignore[valid-type]
    priority: int
    merchant_outbound_number: str
    warehouse_id: str
    currency: str
    internal_note: str | None = None
    external_note: str | None = None
    premium_type: _either(PremiumType) | None = None  # type: ignore[valid-type]
    sales_channel: str | None = None
    attributes: list[PAttribute] = []
    desired_delivery_date: dt.datetime | None = None
    shipping_method_id: str | None = None
    shipping_type: _either(ShippingType) | None = None  # type: ignore[valid-type]
    shipping_address: PAddress
    sender_address: PAddress | None = None
    cancel_reason_code: str | None = None
    cancel_reason: str | None = None
    shipping_fee: Decimal | None = None
    order_value: Decimal | None = None
    items: list[PItem] = []
    attachments: list[PAttachment] = []
    modification_info: PModificationInfo
    status_timestamp: PStatusTimestamp | None = None
    fulfiller_id: str | None = None


class PPage(_PBase):
    total: int
    limit: int
    offset: int


class PPageLinks(_PBase):
    previous: str | None = None
    next: str | None = None


class PPagedOutboundResponse(_PBase):
    items: list[POutbound] | None = None
    page: PPage = Field(alias="_page")
    links: PPageLinks | None = Field(default=None, alias="_links")
    next_page_link: str | None = None
    count: int


# --------------------------------------------------------------------------- msgspec


class _MBase(msgspec.Struct, rename="camel", omit_defaults=True):
    pass


class MAddress(_MBase, kw_only=True):
    salutation: str | None = None
    firstname: str | None = None
    lastname: str | None = None
    company: str | None = None
    street: str
    city: str
    zip: str | None = None
    country: str
    email: str | None = None
    phone: str | None = None
    extra_line: str | None = None
    extra_address_line: str | None = None
    state: str | None = None
    mobile: str | None = None
    fax: str | None = None


class MAttribute(_MBase, kw_only=True):
    key: str
    value: str
    attribute_type: str


class MItem(_MBase, kw_only=True):
    outbound_item_id: str
    jfsku: str | None = None
    item_type: str
    quantity: Decimal
    quantity_open: Decimal
    name: str | None = None
    merchant_sku: str | None = None
    external_number: str | None = None
    price: Decimal | None = None
    vat: Decimal | None = None
    bill_of_materials_id: str | None = None
    note: str | None = None


class MAttachment(_MBase, kw_only=True):
    url: str
    size: int
    mime_type: str
    merchant_document_id: str
    document_type: str
    expired_at: dt.datetime | None = None


class MModificationInfo(_MBase, kw_only=True):
    created_at: dt.datetime
    updated_at: dt.datetime | None = None
    state: str | None = None
    changes_in_range: list[MModificationInfo] | None = None


class MStatusTimestamp(_MBase, kw_only=True):
    pending: dt.datetime | None = None
    preparation: dt.datetime | None = None
    acknowledged: dt.datetime | None = None
    locked: dt.datetime | None = None
    pickprocess: dt.datetime | None = None
    shipped: dt.datetime | None = None
    partially_shipped: dt.datetime | None = None
    canceled: dt.datetime | None = None
    partially_canceled: dt.datetime | None = None


class MOutbound(_MBase, kw_only=True):
    outbound_id: str
    merchant_id: str | None = None
    external_number: str | None = None
    status: str
    priority: int
    merchant_outbound_number: str
    warehouse_id: str
    currency: str
    internal_note: str | None = None
    external_note: str | None = None
    premium_type: str | None = None
    sales_channel: str | None = None
    attributes: list[MAttribute] = []
    desired_delivery_date: dt.datetime | None = None
    shipping_method_id: str | None = None
    shipping_type: str | None = None
    shipping_address: MAddress
    sender_address: MAddress | None = None
    cancel_reason_code: str | None = None
    cancel_reason: str | None = None
    shipping_fee: Decimal | None = None
    order_value: Decimal | None = None
    items: list[MItem] = []
    attachments: list[MAttachment] = []
    modification_info: MModificationInfo
    status_timestamp: MStatusTimestamp | None = None
    fulfiller_id: str | None = None


class MPage(_MBase, kw_only=True):
    total: int
    limit: int
    offset: int


class MPageLinks(_MBase, kw_only=True):
    previous: str | None = None
    next: str | None = None


class MPagedOutboundResponse(_MBase, kw_only=True):
    items: list[MOutbound] | None = None
    page: MPage = msgspec.field(name="_page")
    links: MPageLinks | None = msgspec.field(default=None, name="_links")
    next_page_link: str | None = None
    count: int


# --------------------------------------------------------------------------- the contenders


@attrs.frozen
class Codec:
    """One contender: bytes → objects, and objects → bytes."""

    name: str
    decode: Callable[[bytes], Any]
    encode: Callable[[Any], bytes]


def codecs() -> tuple[Codec, ...]:
    """Every contender, lower bounds first."""
    ms_decoder = msgspec.json.Decoder(MPagedOutboundResponse)
    ms_encoder = msgspec.json.Encoder(decimal_format="number")
    page = fulfiller.PagedOutboundResponse
    return (
        Codec(
            "json.loads/dumps (dicts, lower bound)", json.loads, lambda d: json.dumps(d).encode()
        ),
        Codec("orjson.loads/dumps (dicts, lower bound)", orjson.loads, orjson.dumps),
        Codec("msgspec (Struct)", ms_decoder.decode, ms_encoder.encode),
        Codec(
            "pydantic v2 (BaseModel)",
            PPagedOutboundResponse.model_validate_json,
            lambda m: m.model_dump_json(by_alias=True, exclude_none=True).encode(),
        ),
        Codec(
            "ffn-async (attrs + cattrs)",
            lambda b: serialization.decode(b, page),
            serialization.dumps,
        ),
    )


def check(data: bytes, codec: Codec, items: int) -> None:
    """Fail loudly if a contender decoded something other than the full typed page."""
    obj = codec.decode(data)
    if isinstance(obj, dict):
        assert len(obj["items"]) == items
        return
    first = obj.items[0]
    assert len(obj.items) == items, codec.name
    assert isinstance(first.shipping_fee, Decimal), codec.name
    assert isinstance(first.modification_info.created_at, dt.datetime), codec.name
    assert first.modification_info.created_at.tzinfo is not None, codec.name
    assert first.shipping_address.city, codec.name
    again = orjson.loads(codec.encode(obj))
    assert len(again["items"]) == items, codec.name
    assert again["_page"]["total"], codec.name


def _best_us(fn: Callable[[], Any], params: Params) -> float:
    return min(timeit.repeat(fn, number=params.number, repeat=params.repeat)) / params.number * 1e6


def run(params: Params = FULL) -> CaseResult:
    """Time every contender on the same page bytes."""
    started = time.perf_counter()
    data = outbound_page(params.items)
    results: dict[str, dict[str, float]] = {}
    for codec in codecs():
        check(data, codec, params.items)
        obj = codec.decode(data)
        decode_us = _best_us(lambda c=codec: c.decode(data), params)  # type: ignore[misc]
        encode_us = _best_us(lambda c=codec, o=obj: c.encode(o), params)  # type: ignore[misc]
        results[codec.name] = {
            "decode_us": round(decode_us, 1),
            "encode_us": round(encode_us, 1),
            "roundtrip_us": round(decode_us + encode_us, 1),
        }
    pyd = results["pydantic v2 (BaseModel)"]
    ms = results["msgspec (Struct)"]
    rows = []

    def ratios(r: dict[str, float], ref: dict[str, float]) -> str:
        decode, roundtrip = (
            r["decode_us"] / ref["decode_us"],
            r["roundtrip_us"] / ref["roundtrip_us"],
        )
        return f"{decode:.2f}x / {roundtrip:.2f}x"

    for name, r in results.items():
        rows.append(
            (
                name,
                f"{r['decode_us']:,.0f}",
                f"{r['encode_us']:,.0f}",
                f"{r['roundtrip_us']:,.0f}",
                ratios(r, pyd),
                ratios(r, ms),
            )
        )
    ffn = results["ffn-async (attrs + cattrs)"]
    notes = [
        f"page: {params.items} outbounds, {len(data) / 1024:.0f} KiB; best of {params.repeat} x "
        f"{params.number} calls; µs per page",
        f"pydantic {pydantic.VERSION}, msgspec {msgspec.__version__}",
        _verdict(
            "decode no slower than pydantic v2",
            ffn["decode_us"] <= pyd["decode_us"],
            ffn["decode_us"] / pyd["decode_us"],
        ),
        _verdict(
            "decode within 2x of msgspec",
            ffn["decode_us"] <= 2 * ms["decode_us"],
            ffn["decode_us"] / ms["decode_us"],
        ),
        _verdict(
            "round trip no slower than pydantic v2",
            ffn["roundtrip_us"] <= pyd["roundtrip_us"],
            ffn["roundtrip_us"] / pyd["roundtrip_us"],
        ),
    ]
    return CaseResult(
        name="decoding",
        title="2. Decoding a 100-outbound page: ffn-async vs pydantic v2 vs msgspec",
        tables=(
            Table(
                "µs per page (bytes → typed objects → bytes)",
                (
                    "library",
                    "decode",
                    "encode",
                    "round trip",
                    "x pydantic (dec / rt)",
                    "x msgspec (dec / rt)",
                ),
                tuple(rows),
            ),
        ),
        data={"params": attrs.asdict(params), "page_bytes": len(data), "results": results},
        notes=tuple(notes),
        seconds=time.perf_counter() - started,
    )


def _verdict(target: str, met: bool, ratio: float) -> str:
    return f"target {target}: {'met' if met else 'MISSED'} ({ratio:.2f}x)"
