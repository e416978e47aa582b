"""Request bodies of every safe-create kind, for the order-sync tests."""

from __future__ import annotations

from decimal import Decimal

from ffn_async.models import merchant as m


def _address() -> m.CreateAddressRequest:
    return m.CreateAddressRequest(
        firstname="Ada",
        lastname="Customer",
        street="Hauptstr. 1",
        zip="40789",
        city="Monheim",
        country="DE",
    )


def product(sku: str) -> m.CreateProductRequest:
    no = False
    specifications = m.CreateSpecificationsRequest(
        is_batch=no,
        is_divisible=no,
        is_best_before=no,
        is_serial_number=no,
        is_bill_of_materials=no,
        is_packaging=no,
    )
    return m.CreateProductRequest(
        name=f"Article {sku}",
        merchant_sku=sku,
        identifier=m.CreateIdentifierRequest(),
        specifications=specifications,
    )


def outbound(number: str, warehouse_id: str, jfsku: str) -> m.CreateOutboundRequest:
    return m.CreateOutboundRequest(
        merchant_outbound_number=number,
        warehouse_id=warehouse_id,
        currency="EUR",
        shipping_address=_address(),
        items=[
            m.CreateOutboundItemRequest(
                outbound_item_id="1", jfsku=jfsku, quantity=Decimal(1), name="x"
            )
        ],
        order_value=Decimal("19.90"),
    )


def inbound(number: str, warehouse_id: str, jfsku: str) -> m.CreateInboundRequest:
    return m.CreateInboundRequest(
        merchant_inbound_number=number,
        warehouse_id=warehouse_id,
        items=[m.CreateInboundItemRequest(inbound_item_id="1", jfsku=jfsku, quantity=Decimal(5))],
    )


def return_(number: str, warehouse_id: str, jfsku: str) -> m.CreateReturnRequest:
    return m.CreateReturnRequest(
        merchant_return_number=number,
        warehouse_id=warehouse_id,
        customer_address=_address(),
        items=[m.CreateReturnItemRequest(jfsku=jfsku, quantity=Decimal(1))],
    )


def shipping_notification(number: str) -> m.CreateInboundShippingNotificationRequest:
    return m.CreateInboundShippingNotificationRequest(merchant_shipping_notification_number=number)
