"""The specs' operations and response schemas, from the committed fixture, as validators.

``spec_operations.json`` is written by ``tools/generate_fake_fixtures.py`` from
the committed ``specs/``; tests read only the fixture.
Validation uses OpenAPI 3.0 semantics (``nullable``) through ``openapi-schema-validator``, with
``additionalProperties: false`` added to every object schema that lists its properties: the
fake must answer each API's shape exactly, not a superset of both.
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from openapi_schema_validator import OAS30Validator, oas30_format_checker

FIXTURE = Path(__file__).with_name("spec_operations.json")


@cache
def fixture() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def operations() -> list[tuple[str, dict[str, Any]]]:
    """``(api, operation)`` for every operation of both specs."""
    return [(api, op) for api, data in fixture()["apis"].items() for op in data["operations"]]


def shape(path: str) -> str:
    """The path with every ``{parameter}`` written ``{}`` (names do not tell paths apart)."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def operation(api: str, method: str, path: str) -> dict[str, Any]:
    """The operation whose path has this shape (parameter names may differ)."""
    for op in fixture()["apis"][api]["operations"]:
        if op["method"] == method and shape(op["path"]) == shape(path):
            return op
    raise KeyError(f"{api} {method} {path} is not in the spec")


def _closed(node: Any) -> Any:
    if isinstance(node, list):
        return [_closed(n) for n in node]
    if not isinstance(node, dict):
        return node
    result = {k: (_closed(v) if k != "properties" else v) for k, v in node.items()}
    if "properties" in node:
        result["properties"] = {k: _closed(v) for k, v in node["properties"].items()}
        # A required property the spec never defines may hold anything, but must be there.
        for name in node.get("required", []):
            result["properties"].setdefault(name, {})
        result.setdefault("additionalProperties", False)
    return result


@cache
def _schemas(api: str) -> dict[str, Any]:
    return _closed(copy.deepcopy(fixture()["apis"][api]["schemas"]))


def validation_errors(api: str, schema: dict[str, Any], body: Any) -> list[str]:
    """What is wrong with ``body`` against ``schema`` (``$ref``s into the API's table)."""
    root = {"allOf": [_closed(schema)], "components": {"schemas": _schemas(api)}}
    validator = OAS30Validator(root, format_checker=oas30_format_checker)
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<body>'}: {e.message[:300]}"
        for e in validator.iter_errors(body)
    ]
