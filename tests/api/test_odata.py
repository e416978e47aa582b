"""The OData helpers: quoting, literals, operator precedence, lambdas, $select and $orderBy."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

import pytest

from ffn_async.api.odata import (
    F,
    Field,
    Filter,
    asc,
    desc,
    filter_text,
    literal,
    not_,
    order_by,
    select,
)


class Status(enum.Enum):
    SHIPPED = "Shipped"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("O'Brien", "'O''Brien'"),
        ("''", "''''''"),
        ("a) or (1 eq 1", "'a) or (1 eq 1'"),
        ("", "''"),
        (True, "true"),
        (False, "false"),
        (None, "null"),
        (42, "42"),
        (-1.5, "-1.5"),
        (Decimal("12.30"), "12.30"),
        (dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC), "2024-05-06T07:08:09Z"),
        (
            dt.datetime(2024, 5, 6, 7, 8, 9, 120000, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "2024-05-06T07:08:09.120000+02:00",
        ),
        (dt.date(2024, 5, 6), "2024-05-06"),
        (Status.SHIPPED, "'Shipped'"),
    ],
)
def test_literals(value: object, text: str) -> None:
    assert literal(value) == text  # type: ignore[arg-type]


class Quantity(int, enum.Enum):  # a mixed-in enum: str() would give "Quantity.FIVE"
    FIVE = 5


class _NoOffset(dt.tzinfo):
    def utcoffset(self, when: dt.datetime | None) -> None:
        return None


@pytest.mark.parametrize(
    ("value", "text"),
    [(Quantity.FIVE, "5"), (dt.datetime(2024, 5, 6, tzinfo=dt.UTC).date(), "2024-05-06")],
)
def test_an_enum_is_its_value_and_a_date_is_not_a_datetime(value: object, text: str) -> None:
    assert literal(value) == text  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (dt.datetime(2024, 1, 1), "has no timezone"),
        (dt.datetime(2024, 1, 1, tzinfo=_NoOffset()), "has no timezone"),
        (float("-inf"), "no literal for -inf"),
        (Decimal("NaN"), "no literal for Decimal"),
        (b"bytes", "cannot format bytes"),
    ],
)
def test_each_unrepresentable_literal_says_why(value: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        literal(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value", [dt.datetime(2024, 1, 1), float("nan"), Decimal("Infinity"), object()]
)
def test_unrepresentable_literals_raise(value: object) -> None:
    with pytest.raises(ValueError):
        literal(value)  # type: ignore[arg-type]


def test_comparisons() -> None:
    name = F("shippingAddress/lastname")
    assert str(name.eq("O'Brien")) == "shippingAddress/lastname eq 'O''Brien'"
    assert str(F("quantity").ne(0)) == "quantity ne 0"
    assert str(F("quantity").gt(1)) == "quantity gt 1"
    assert str(F("quantity").ge(1)) == "quantity ge 1"
    assert str(F("quantity").lt(1)) == "quantity lt 1"
    assert str(F("quantity").le(1)) == "quantity le 1"
    assert str(F("note").eq(None)) == "note eq null"
    assert str(F("isActive").eq(True)) == "isActive eq true"


def test_functions_quote_their_argument() -> None:
    assert str(F("merchantSku").contains("it's")) == "contains(merchantSku,'it''s')"
    assert str(F("merchantSku").startswith("A")) == "startswith(merchantSku,'A')"
    assert str(F("merchantSku").endswith("Z")) == "endswith(merchantSku,'Z')"


def test_precedence_and_parentheses() -> None:
    a, b, c = F("a").eq(1), F("b").eq(2), F("c").eq(3)
    assert str(a & b & c) == "a eq 1 and b eq 2 and c eq 3"
    assert str((a | b) & c) == "(a eq 1 or b eq 2) and c eq 3"
    assert str(a | (b & c)) == "a eq 1 or b eq 2 and c eq 3"
    assert str(~a) == "not (a eq 1)"
    assert str(~F("x").contains("y")) == "not contains(x,'y')"
    assert str(not_(a | b)) == "not (a eq 1 or b eq 2)"


def test_raw_strings_mix_in_and_are_wrapped() -> None:
    raw = "status eq 'Shipped' or status eq 'Canceled'"
    assert str(F("a").eq(1) & raw) == "a eq 1 and (status eq 'Shipped' or status eq 'Canceled')"
    assert str(raw & F("a").eq(1)) == "(status eq 'Shipped' or status eq 'Canceled') and a eq 1"
    assert filter_text(raw) == raw
    assert filter_text(None) is None
    assert filter_text(Filter("x eq 1")) == "x eq 1"


def test_any_and_all_lambdas() -> None:
    assert (
        str(F("items").any(lambda a: a.jfsku.contains("VZ9N01SJN9E")))
        == "items/any(a:contains(a/jfsku,'VZ9N01SJN9E'))"
    )
    assert (
        str(F("items").all(lambda i: i.quantity.gt(0) & i.jfsku.ne(None), var="i"))
        == "items/all(i:i/quantity gt 0 and i/jfsku ne null)"
    )
    nested = F("packages").any(
        lambda p: p.identifier.any(lambda x: x.value.eq("TR'1"), var="x"), var="p"
    )
    assert str(nested) == "packages/any(p:p/identifier/any(x:x/value eq 'TR''1'))"


def test_field_paths_are_validated() -> None:
    assert str(F("modificationInfo") / "createdAt") == "modificationInfo/createdAt"
    for bad in ["a b", "a eq 1 or x", "a/", "", "1a", "a'b"]:
        with pytest.raises(ValueError):
            Field(bad)
    with pytest.raises(ValueError):
        F("items").any(lambda a: a.x.eq(1), var="a b")


def test_select_and_order_by() -> None:
    assert select(["outboundId", F("modificationInfo/createdAt")]) == (
        "outboundId,modificationInfo/createdAt"
    )
    assert select("a,b") == "a,b"
    assert (
        order_by("merchantOutboundNumber", desc("modificationInfo/createdAt"), asc("x"))
        == "merchantOutboundNumber,modificationInfo/createdAt desc,x"
    )
    assert order_by("name desc", F("y").desc(), F("z").asc()) == "name desc,y desc,z"
    with pytest.raises(ValueError):
        order_by("name sideways")
    with pytest.raises(ValueError):
        select(["a;drop"])
