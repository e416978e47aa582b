"""The page and the create body written out by hand for pydantic v2.

They cover the same fields and nesting as the Fulfiller spec's ``PagedOutboundResponse`` →
``Outbound`` (addresses, items, attributes, attachments, modification info, status timestamps,
page and links) and the Merchant spec's ``CreateOutboundRequest`` → ``CreateOutboundItemRequest``
(attributes, shipping label provider data), with the same types as ffn-async:
``Decimal`` amounts, aware ``datetime``, enums as the library's ``StrEnum`` or a plain string
for unknown values (tried left to right). ``None`` is left out on encode.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from ffn_async.models.common import (
    AttributeType,
    DocumentType,
    InboundStatus,
    ItemType,
    ObjectState,
    OutboundStatusType,
    PremiumType,
    ShippingType,
)

__all__ = ["PCreateOutbound", "PPagedOutboundResponse"]


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
    merchant_id: str
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


class PCreateItem(_PBase):
    outbound_item_id: str
    jfsku: str | None = None
    merchant_sku: str | None = None
    quantity: Decimal
    item_type: _either(ItemType) | None = None  # type: ignore[valid-type]
    name: str | None = None
    price: Decimal | None = None
    vat: Decimal | None = None
    external_number: str | None = None
    note: str | None = None
    bill_of_materials_id: str | None = None


class PCreateAttribute(_PBase):
    key: str
    value: str = Field(max_length=4096)
    attribute_type: _either(AttributeType) | None = None  # type: ignore[valid-type]


class PAmazonSfpData(_PBase):
    seller_id: str


class PShippingLabelProviderData(_PBase):
    amazon_sfp_shipping_label_provider_data: PAmazonSfpData | None = None


class PCreateOutbound(_PBase):
    outbound_id: str | None = None
    status: _either(InboundStatus) | None = None  # type: ignore[valid-type]
    merchant_outbound_number: str = Field(min_length=1, max_length=255, pattern="^.*$")
    warehouse_id: str = Field(min_length=14, max_length=255)
    currency: str = Field(min_length=3, max_length=3)
    shipping_address: PAddress
    sender_address: PAddress | None = None
    items: list[PCreateItem] = Field(min_length=1)
    shipping_method_id: str | None = None
    shipping_type: _either(ShippingType) | None = None  # type: ignore[valid-type]
    priority: int | None = Field(default=None, ge=-5, le=5)
    internal_note: str | None = None
    external_note: str | None = None
    premium_type: _either(PremiumType) | None = None  # type: ignore[valid-type]
    sales_channel: str | None = None
    external_number: str | None = None
    desired_delivery_date: dt.datetime | None = None
    shipping_fee: Decimal | None = None
    order_value: Decimal | None = None
    attributes: list[PCreateAttribute] | None = None
    shipping_label_provider_data: PShippingLabelProviderData | None = None
