"""Request bodies of every safe-create kind, for the order-sync tests."""

from __future__ import annotations

from decimal import Decimal

from ffn_async import models as m


def specifications() -> m.Specifications:
    no = False
    return m.Specifications(
        is_batch=no,
        is_divisible=no,
        is_best_before=no,
        is_serial_number=no,
        is_bill_of_materials=no,
        is_packaging=no,
    )


def product(sku: str) -> m.CreateProduct:
    return m.CreateProduct(name=f"Article {sku}", merchant_sku=sku, specifications=specifications())


def outbound(number: str, warehouse_id: str, jfsku: str) -> m.CreateOutbound:
    return m.CreateOutbound(
        merchant_outbound_number=number,
        warehouse_id=warehouse_id,
        currency="EUR",
        shipping_address=m.Address(
            firstname="Ada",
            lastname="Customer",
            street="Hauptstr. 1",
            zip="40789",
            city="Monheim",
            country="DE",
        ),
        items=[
            m.CreateOutboundItem(outbound_item_id="1", jfsku=jfsku, quantity=Decimal(1), name="x")
        ],
        order_value=Decimal("19.90"),
    )


def inbound(number: str, warehouse_id: str, jfsku: str) -> m.CreateInbound:
    return m.CreateInbound(
        merchant_inbound_number=number,
        warehouse_id=warehouse_id,
        items=[m.CreateInboundItem(inbound_item_id="1", jfsku=jfsku, quantity=Decimal(5))],
    )
