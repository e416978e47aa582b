"""The $filter evaluator on its own."""

from __future__ import annotations

import pytest

from ffn_async.testing.odata import FilterError, compile_filter

OBJ = {
    "status": "Shipped",
    "merchantOutboundNumber": "O'Brien-1",
    "priority": 3,
    "externalNumber": None,
    "modificationInfo": {"createdAt": "2024-05-01T10:00:00.000+00:00"},
    "items": [{"jfsku": "MERC01AAAAA", "quantity": 2}, {"jfsku": "MERC01BBBBB", "quantity": 9}],
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("status eq 'Shipped'", True),
        ("status ne 'Shipped'", False),
        ("merchantOutboundNumber eq 'O''Brien-1'", True),
        ("modificationInfo/createdAt gt 2024-04-30T00:00:00Z", True),
        ("modificationInfo/createdAt lt 2024-05-01T12:00:00+02:00", False),  # 10:00Z: equal
        ("modificationInfo/createdAt le 2024-05-01T12:00:00+02:00", True),
        ("modificationInfo/updatedAt gt 2020-01-01T00:00:00Z", False),  # missing: not ordered
        ("items/any(a:contains(a/jfsku,'BBB'))", True),
        ("items/all(a:a/quantity gt 5)", False),
        ("startswith(merchantOutboundNumber,'O''B') and priority ge 3", True),
        ("endswith(status,'ped')", True),
        ("not (status eq 'Shipped') or priority eq 3", True),
        ("status eq 'Pending' or status eq 'Shipped' and priority eq 4", False),
        ("(status eq 'Pending' or status eq 'Shipped') and priority eq 3", True),
        ("externalNumber eq null", True),
        ("unknownField eq 'x'", False),
    ],
)
def test_filter(expression: str, expected: bool) -> None:
    assert compile_filter(expression)(OBJ) is expected


@pytest.mark.parametrize(
    "expression",
    ["status eq", "status foo 'x'", "status eq 'x' )", "'unterminated", "contains(status)", "eq 1"],
)
def test_malformed_filter(expression: str) -> None:
    with pytest.raises(FilterError):
        compile_filter(expression)
