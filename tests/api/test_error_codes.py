"""FFN's error codes: ``ApiError.code`` is an ``ErrorCode`` member when known, else the text."""

from __future__ import annotations

import re

import pytest

from ffn_async import FFNClient, errors
from ffn_async.errors import ApiError, BadRequest, ErrorCode
from ffn_async.models import merchant
from tests.http_mock import aioresponses


def test_known_codes_become_members_that_compare_equal_to_their_text() -> None:
    exc = BadRequest(400, code="Products_DuplicateProduct", metadata={"Jfsku": "MERC01ABCDE"})
    assert exc.code is ErrorCode.PRODUCTS_DUPLICATE_PRODUCT
    assert exc.code == "Products_DuplicateProduct"
    assert "[Products_DuplicateProduct]" in str(exc)
    assert ApiError(409, code=ErrorCode.OUTBOUNDS_NOT_CANCELED_OUTBOUND_EXISTS).code is (
        ErrorCode.OUTBOUNDS_NOT_CANCELED_OUTBOUND_EXISTS
    )


def test_unknown_codes_stay_plain_strings() -> None:
    exc = ApiError(400, code="Outbounds_SomethingFromTheFuture")
    assert type(exc.code) is str
    assert exc.code == "Outbounds_SomethingFromTheFuture"
    assert ApiError(400).code is None
    assert ApiError(400, code=42).code == "42"  # type: ignore[arg-type]


def test_the_enum_holds_the_codes_of_both_specs() -> None:
    assert errors.ErrorCode is ErrorCode
    assert len(ErrorCode) == 120  # 79 Merchant, 85 Fulfiller, 44 in both
    for code in (
        "Outbounds_NotCanceledOutboundExists",
        "Inbounds_DuplicateInbound",
        "Products_DuplicateProduct",
        "Returns_DuplicateReturn",
        "Users_UserNotFound",
    ):
        member = ErrorCode(code)
        assert member.name == re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", code).upper()
    assert ErrorCode.__doc__ is not None


async def test_the_client_turns_the_body_code_into_a_member(
    ffn: FFNClient, http: aioresponses
) -> None:
    body = {
        "errorCode": {"code": "Products_DuplicateProduct", "description": "duplicate"},
        "errorMessages": [{"message": "Product 'SKU-1' exists"}],
        "errorMetadata": {"Jfsku": "MERC01ABCDE"},
    }
    http.post(re.compile(".*"), status=400, payload=body)
    request = merchant.CreateProductRequest(
        name="n", merchant_sku="SKU-1", identifier=merchant.CreateIdentifierRequest()
    )
    # A plain POST: a safe create would look the existing product up instead of raising.
    plain = FFNClient(ffn.auth, environment=ffn.environment, retry=ffn.retry, safe_creates=False)
    async with plain:
        with pytest.raises(BadRequest) as info:
            await plain.merchant.products.create(request)
    match info.value.code:
        case ErrorCode.PRODUCTS_DUPLICATE_PRODUCT:
            existing = info.value.metadata["Jfsku"]
        case _:
            pytest.fail(f"unexpected code {info.value.code!r}")
    assert existing == "MERC01ABCDE"
