"""The registry against its sources: the specs (through the committed fixture generated from
them), the endpoints file's rule, the generated code."""

from __future__ import annotations

import collections
import inspect
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from ffn_async.api import OPERATIONS, fulfiller, merchant, shared

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "tools") not in sys.path:
    sys.path.insert(0, str(REPO / "tools"))

import generate_api  # noqa: E402

ERROR_NAMES = {code: name for code, (name, _) in generate_api.ERRORS.items()}

# Every operation of both specs as `python tools/generate.py` extracted it (CI checks the file
# against the committed specs/; the suite reads only this fixture).
SPEC_OPERATIONS = REPO / "tests" / "testing" / "spec_operations.json"
COUNTS = {"merchant": 74, "fulfiller": 73, "shared": 1}


def spec_operations(api: str) -> dict[str, dict[str, Any]]:
    """operationId -> {method, path, 2xx status, documented statuses} of one spec."""
    extracted = json.loads(SPEC_OPERATIONS.read_text(encoding="utf-8"))
    out = {}
    for op in extracted["apis"][api]["operations"]:
        statuses = {int(code) for code in op["responses"]}
        out[op["operationId"]] = {
            "route": (op["method"], op["path"].removeprefix("/api")),
            "ok": min(s for s in statuses if s < 300),
            "statuses": statuses,
            "query": {p["name"] for p in op.get("parameters", []) if p["in"] == "query"},
        }
    return out


@pytest.mark.parametrize("api", ["merchant", "fulfiller"])
def test_registry_has_every_spec_operation_with_its_method_path_and_statuses(api: str) -> None:
    expected = spec_operations(api)
    assert len(expected) == COUNTS[api]
    got = {op.operation_id: op for op in OPERATIONS.values() if op.api == api}
    assert {k: (op.method, op.path) for k, op in got.items()} == {
        k: v["route"] for k, v in expected.items()
    }
    for op_id, op in got.items():
        assert op.status == expected[op_id]["ok"], op_id
        documented = set(expected[op_id]["statuses"]) & set(ERROR_NAMES)
        assert documented <= set(op.errors), op_id
        assert set(op.errors) - documented <= {409}, op_id
        assert (409 in op.errors) == ("objectVersion" in expected[op_id]["query"]), op_id


def test_the_shared_api_is_users_current_as_the_endpoints_file_grades_it() -> None:
    [op] = [op for op in OPERATIONS.values() if op.api == "shared"]
    assert (op.method, op.path, op.grade) == ("GET", "/v1/users/current", "A")
    # The generator holds the data to the endpoints file (CI: generate.py --check); its rule:
    row = "| GET | `/v1/users/current` | the FFN user behind the token | — | **A** (DOC, A1) |"
    generate_api.check_shared_rows(f"# Endpoints\n\n{row}\n")
    with pytest.raises(SystemExit, match="grade 'A', the endpoints file has B"):
        generate_api.check_shared_rows(row.replace("**A**", "**B**"))
    with pytest.raises(SystemExit, match="has no such row"):
        generate_api.check_shared_rows(row.replace("| GET |", "| POST |"))


def test_counts_and_grades() -> None:
    per_api = collections.Counter(op.api for op in OPERATIONS.values())
    assert per_api == COUNTS
    for op in OPERATIONS.values():
        # evidence grades only where no spec exists
        assert (op.grade is None) == (op.api != "shared")
        assert op.verified


def test_keys_are_unique_although_operation_ids_repeat_across_specs() -> None:
    for key, op in OPERATIONS.items():
        assert key == op.id == f"{op.api}.{op.operation_id}"
        assert re.fullmatch(r"[A-Z][A-Za-z]+", op.operation_id)
    ids = collections.Counter(op.operation_id for op in OPERATIONS.values())
    assert ids["OutboundsGetAll"] == 2
    assert OPERATIONS["merchant.OutboundsGetAll"].path == "/v1/merchant/outbounds"
    assert OPERATIONS["fulfiller.OutboundsGetAll"].path == "/v1/fulfiller/outbounds"
    assert len({op.python for op in OPERATIONS.values()}) == len(OPERATIONS)


def test_every_documented_error_status_has_a_typed_error() -> None:
    from ffn_async import errors

    for op in OPERATIONS.values():
        for status in op.errors:
            cls = errors._ERROR_TYPES[status]
            assert cls is getattr(errors, ERROR_NAMES[status])
    assert OPERATIONS["merchant.OutboundsPost"].errors == (400, 403, 423)
    assert 410 in OPERATIONS["merchant.OutboundsGetOutboundAttachment"].errors
    assert OPERATIONS["merchant.ProductsPostPicture"].status == 201
    assert OPERATIONS["merchant.ProductsPostPicture"].response_model == "Picture"


def test_scopes() -> None:
    for op in OPERATIONS.values():
        if op.api == "shared":
            assert op.scope is None
        else:
            access = "read" if op.method == "GET" else "write"
            assert op.scope == f"ffn.{op.api}.{access}"


def _methods() -> list[tuple[Any, Any]]:
    from .test_every_operation import walk_namespaces

    found: set[str] = set()
    for module, api in ((fulfiller, "fulfiller"), (merchant, "merchant"), (shared, "shared")):
        walk_namespaces(getattr(module, f"{api.capitalize()}API"), api, found)
    by_name = {name: op for op in OPERATIONS.values() for name in (op.python, *op.also)}
    out = []
    for dotted in sorted(found):
        api, *chain, attr = dotted.split(".")
        cls: Any = getattr(sys.modules[f"ffn_async.api.{api}"], f"{api.capitalize()}API")
        for part in chain:
            cls = inspect.signature(getattr(cls, part).func).return_annotation
            cls = getattr(sys.modules[f"ffn_async.api.{api}"], cls)
        out.append((by_name[dotted], getattr(cls, attr)))
    return out


def test_docstrings_lead_with_method_and_path_and_say_what_they_raise() -> None:
    methods = _methods()
    assert len(methods) == sum(1 + len(op.also) for op in OPERATIONS.values())
    for op, function in methods:
        doc = inspect.getdoc(function) or ""
        assert doc.splitlines()[0] == f"{op.method} {op.path}"
        assert (op.scope or "Scope: none") in doc
        assert ("Idempotent" in doc) == op.idempotent
        if op.grade:
            assert f"Evidence grade {op.grade}" in doc
        assert "verify in sandbox" not in doc
        for status in op.errors:
            assert f"{ERROR_NAMES[status]}: {status}," in doc
        own = op.api == "merchant" and re.search(r"{(outboundId|inboundId)}", op.path)
        assert ("or your own ``merchant_" in doc) == bool(own), op.id


def test_keyword_only_past_the_ids() -> None:
    for op, function in _methods():
        params = list(inspect.signature(function).parameters.values())[1:]
        positional = [p.name for p in params if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
        ids = [generate_api.snake(w) for w in re.findall(r"{(\w+)}", op.path)]
        assert positional == ids + (["body"] if op.request_model else [])


def test_docs_table_is_current() -> None:
    text = (REPO / "docs" / "operations.md").read_text()
    assert text == generate_api.render_docs(OPERATIONS)
