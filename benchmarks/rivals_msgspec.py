"""The page and the create body written out by hand for msgspec (see
:mod:`benchmarks.rivals_pydantic`): same fields and types, except that enums are plain ``str``
(msgspec cannot mix an enum with ``str``). ``None`` is left out on encode.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import msgspec

__all__ = ["MCreateOutbound", "MPagedOutboundResponse"]


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
    merchant_id: str
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


class MCreateItem(_MBase, kw_only=True):
    outbound_item_id: str
    jfsku: str | None = None
    merchant_sku: str | None = None
    quantity: Decimal
    item_type: str | None = None
    name: str | None = None
    price: Decimal | None = None
    vat: Decimal | None = None
    external_number: str | None = None
    note: str | None = None
    bill_of_materials_id: str | None = None


class MCreateAttribute(_MBase, kw_only=True):
    key: str
    value: str
    attribute_type: str | None = None


class MAmazonSfpData(_MBase, kw_only=True):
    seller_id: str


class MShippingLabelProviderData(_MBase, kw_only=True):
    amazon_sfp_shipping_label_provider_data: MAmazonSfpData | None = None


class MCreateOutbound(_MBase, kw_only=True):
    outbound_id: str | None = None
    status: str | None = None
    merchant_outbound_number: str
    warehouse_id: str
    currency: str
    shipping_address: MAddress
    sender_address: MAddress | None = None
    items: list[MCreateItem]
    shipping_method_id: str | None = None
    shipping_type: str | None = None
    priority: int | None = None
    internal_note: str | None = None
    external_note: str | None = None
    premium_type: str | None = None
    sales_channel: str | None = None
    external_number: str | None = None
    desired_delivery_date: dt.datetime | None = None
    shipping_fee: Decimal | None = None
    order_value: Decimal | None = None
    attributes: list[MCreateAttribute] | None = None
    shipping_label_provider_data: MShippingLabelProviderData | None = None
