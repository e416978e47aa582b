"""The registry against its sources: the official spec, the endpoints file, the generated code."""

from __future__ import annotations

import collections
import inspect
import json
import re
import sys
from pathlib import Path
from typing import Any

from ffn_async.api import OPERATIONS, fulfiller, merchant, shared
from tests.services import unavailable

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "tools") not in sys.path:
    sys.path.insert(0, str(REPO / "tools"))

import generate_api  # noqa: E402

SPECS = generate_api.DEFAULT_SPEC.parent
ENDPOINTS_FILE = SPECS / "ffn-merchant-shared-endpoints.md"
METHODS = "GET|POST|PUT|PATCH|DELETE"


def need(path: Path) -> Path:
    if not path.is_file():
        unavailable(f"spec not found at {path}")
    return path


def endpoint_file_entries(text: str) -> list[tuple[str, str]]:
    """(method, path) of every row of the endpoints file's tables, grouped rows expanded.

    Handles the file's shorthands: ``GET/PATCH/DELETE`` on one path, ``;``-separated groups
    paired with method groups or carrying their own method, ``…/x`` continuing the row's first
    path, ``(+ `/data`)`` extending the previous path, and ``[/{id}]`` as the second method's
    longer path.
    """
    entries: list[tuple[str, str]] = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or not re.fullmatch(
            rf"(?:{METHODS})(?:\s*[/;]\s*(?:{METHODS}))*", cells[0]
        ):
            continue
        method_groups = [g.strip() for g in cells[0].split(";")]
        path_groups = [g.strip() for g in cells[1].split(";")]
        first = re.search(r"`(/v1/[^`\[]*)", cells[1])
        assert first is not None, line
        for index, group in enumerate(path_groups):
            own = re.match(rf"({METHODS})\s", group)
            if own:
                methods = [own.group(1)]
            elif len(method_groups) == len(path_groups):
                methods = method_groups[index].replace(" ", "").split("/")
            else:
                methods = method_groups[0].replace(" ", "").split("/")
            paths: list[str] = []
            for raw in re.findall(r"`([^`]+)`", group):
                if raw.startswith("/") and not raw.startswith("/v1"):  # (+ `/data`)
                    paths.append(paths[-1] + raw)
                    continue
                if raw.startswith("…"):
                    suffix = raw[1:]
                    head = suffix.split("/")[1]
                    prefix = first.group(1)[: first.group(1).index("/" + head)]
                    raw = prefix + suffix
                optional = re.fullmatch(r"(.*)\[(.*)\]", raw)
                if optional:
                    assert len(methods) == 2, line
                    entries += [
                        (methods[0], optional.group(1)),
                        (methods[1], optional.group(1) + optional.group(2)),
                    ]
                    continue
                paths.append(raw)
            entries += [(m, p) for p in paths for m in methods]
    return entries


def test_endpoint_file_parser_finds_the_documented_count() -> None:
    entries = endpoint_file_entries(need(ENDPOINTS_FILE).read_text())
    merchant_entries = [e for e in entries if e[1].startswith("/v1/merchant/")]
    assert len(merchant_entries) == 64  # as the file's own "Count" paragraph says
    assert len(set(merchant_entries)) == 64
    assert [e for e in entries if e not in merchant_entries] == [("GET", "/v1/users/current")]


def test_registry_covers_every_endpoint_file_entry() -> None:
    entries = set(endpoint_file_entries(need(ENDPOINTS_FILE).read_text()))
    registered = {(op.method, op.path) for op in OPERATIONS.values() if op.api != "fulfiller"}
    assert registered == entries


def test_registry_covers_the_73_spec_operations() -> None:
    spec = json.loads(need(generate_api.DEFAULT_SPEC).read_text())
    expected = {
        op["operationId"]: (method.upper(), path.removeprefix("/api"))
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method != "parameters"
    }
    assert len(expected) == 73
    got = {
        op.operation_id: (op.method, op.path) for op in OPERATIONS.values() if op.api == "fulfiller"
    }
    assert got == expected


def test_counts_and_grades() -> None:
    per_api = collections.Counter(op.api for op in OPERATIONS.values())
    assert per_api == {"fulfiller": 73, "merchant": 64, "shared": 1}
    grades = collections.Counter(op.grade for op in OPERATIONS.values() if op.api == "merchant")
    assert grades == {"A": 18, "B": 7, "B-": 7, "?": 1, "C": 31}  # the file's own tally
    for op in OPERATIONS.values():
        assert op.verified == (op.grade in (None, "A", "B"))
        assert (op.grade is None) == (op.api == "fulfiller")


def test_operation_ids_follow_one_style() -> None:
    for op_id, op in OPERATIONS.items():
        assert op.operation_id == op_id
        assert re.fullmatch(r"[A-Z][A-Za-z]+", op_id)
        if op.api == "merchant":
            assert op_id.startswith("Merchant")
    assert len({op.python for op in OPERATIONS.values()}) == len(OPERATIONS)


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


def test_docstrings_lead_with_method_and_path_and_warn_below_b() -> None:
    methods = _methods()
    assert len(methods) == sum(1 + len(op.also) for op in OPERATIONS.values())
    for op, function in methods:
        doc = inspect.getdoc(function) or ""
        assert doc.splitlines()[0] == f"{op.method} {op.path}"
        assert (op.scope or "Scope: none") in doc
        assert ("Idempotent" in doc) == op.idempotent
        if op.grade:
            assert f"Evidence grade {op.grade}" in doc
        assert ("verify in sandbox" in doc) == (not op.verified)


def test_keyword_only_past_the_ids() -> None:
    for op, function in _methods():
        params = list(inspect.signature(function).parameters.values())[1:]
        positional = [p.name for p in params if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
        ids = [generate_api.snake(w) for w in re.findall(r"{(\w+)}", op.path)]
        assert positional == ids + (["body"] if op.request_model else [])


def test_docs_table_is_current() -> None:
    text = (REPO / "docs" / "operations.md").read_text()
    assert text == generate_api.render_docs(OPERATIONS)


def test_generated_code_is_current() -> None:
    need(generate_api.DEFAULT_SPEC)
    assert generate_api.main(["--check"]) == 0
