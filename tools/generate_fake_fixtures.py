"""Generate the fake server's shape table and conformance fixture from both FFN specs.

Usage::

    python tools/generate_fake_fixtures.py [SPEC_DIR]          # write both files
    python tools/generate_fake_fixtures.py --check [SPEC_DIR]  # exit 1 if a committed one differs

SPEC_DIR defaults to ``<repo>/specs``, the committed copies of ``ffn-merchant-v1.openapi.json``
and ``ffn-fulfiller-v1.openapi.json``. The output, ``tests/testing/spec_operations.json``, holds
what ``tests/testing/test_conformance.py`` needs so that its tests never read the specs: per
API, every operation (operationId, method, path without the ``/api`` prefix, parameters, request
body schema, documented statuses with their response schema) and the API's schema table
(``$ref``s kept, pointing into it). Text that does not validate (``description``, ``example``,
``examples``, ``summary``, ``tags``) is left out; keys are sorted so the output is
deterministic.

``ffn_async/testing/shapes.py`` is the fake's own view of the specs: per API, each object
schema's property names and, for a property holding objects, the schema they follow. The fake
projects what it stores through it, so a merchant answer never carries a fulfiller-only field.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _generated import JSON_KEY, REPO, SPEC_FILES, json_note, python_header, ruff_format, run

OUTPUT = REPO / "tests" / "testing" / "spec_operations.json"
SHAPES = REPO / "ffn_async" / "testing" / "shapes.py"
_PREFIX = "/api"
_DROPPED = frozenset({"description", "example", "examples", "summary", "tags"})
_METHODS = ("get", "put", "post", "delete", "patch")


def _strip(node: Any) -> Any:
    """``node`` without documentation keys (properties of those names are kept)."""
    if isinstance(node, list):
        return [_strip(item) for item in node]
    if not isinstance(node, dict):
        return node
    result = {}
    for key, value in node.items():
        if key == "properties":
            # Property names are data, not keywords: keep every one (``note``, ``description``).
            result[key] = {name: _strip(schema) for name, schema in value.items()}
        elif key not in _DROPPED:
            result[key] = _strip(value)
    return result


def _content(content: dict[str, Any]) -> dict[str, Any]:
    return {media: _strip(body.get("schema")) for media, body in sorted(content.items())}


def _operation(method: str, path: str, op: dict[str, Any], shared: list[Any]) -> dict[str, Any]:
    if not path.startswith(_PREFIX + "/"):
        raise SystemExit(f"{method.upper()} {path}: every spec path should start with /api")
    params = [*shared, *op.get("parameters", [])]
    body = op.get("requestBody")
    return {
        "operationId": op["operationId"],
        "method": method.upper(),
        "path": path.removeprefix(_PREFIX),
        "parameters": [
            {
                "name": p["name"],
                "in": p["in"],
                "required": bool(p.get("required", False)),
                "schema": _strip(p.get("schema", {})),
            }
            for p in params
        ],
        "requestBody": None
        if body is None
        else {"required": bool(body.get("required", False)), "content": _content(body["content"])},
        "responses": {
            status: _content(response.get("content", {}))
            for status, response in sorted(op["responses"].items())
        },
    }


def build(spec_dir: Path) -> dict[str, Any]:
    """The fixture's content, from the two specs in ``spec_dir``."""
    apis: dict[str, Any] = {}
    for api, filename in SPEC_FILES.items():
        spec = json.loads((spec_dir / filename).read_text(encoding="utf-8"))
        operations = []
        for path, item in spec["paths"].items():
            shared = item.get("parameters", [])
            for method in _METHODS:
                if method in item:
                    operations.append(_operation(method, path, item[method], shared))
        operations.sort(key=lambda o: (o["path"], o["method"]))
        apis[api] = {
            "title": spec["info"]["title"],
            "version": spec["info"]["version"],
            "operations": operations,
            "schemas": _strip(spec["components"]["schemas"]),
        }
    return {
        "generatedBy": "tools/generate_fake_fixtures.py; do not edit by hand",
        "apis": apis,
    }


def render(spec_dir: Path) -> str:
    """The fixture as text: sorted keys, two-space indent, one trailing newline."""
    data = {JSON_KEY: json_note("tools/generate_fake_fixtures.py"), **build(spec_dir)}
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def _child(schema: dict[str, Any]) -> str | None:
    """The schema name a property's objects follow (itself or its array items), if any."""
    ref = schema.get("$ref") or (schema.get("items") or {}).get("$ref")
    return ref.rsplit("/", 1)[-1].rsplit(".", 1)[-1] if ref else None


def render_shapes(spec_dir: Path) -> str:
    """``ffn_async/testing/shapes.py``: property names per object schema and API."""
    lines = [
        python_header("tools/generate_fake_fixtures.py").rstrip("\n"),
        '"""Property names of every object schema of both FFN specs, per API (generated).',
        "",
        "Generated by ``python tools/generate.py``; do not edit by hand.",
        "``SHAPES[api][name]`` maps each property of schema ``name`` (last segment of dotted",
        "names) to the schema its objects follow, or ``None`` for plain values (and for the",
        "required properties the spec never defines).",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        '__all__ = ["SHAPES"]',
        "",
        "SHAPES: dict[str, dict[str, dict[str, str | None]]] = {",
    ]
    for api, filename in SPEC_FILES.items():
        spec = json.loads((spec_dir / filename).read_text(encoding="utf-8"))
        lines.append(f"    {api!r}: {{")
        seen: set[str] = set()
        for full_name, schema in sorted(spec["components"]["schemas"].items()):
            name = full_name.rsplit(".", 1)[-1]
            if "properties" not in schema:
                continue
            if name in seen:
                raise SystemExit(f"{api}: two schemas end in {name!r}")
            seen.add(name)
            # Both specs require a few properties they never define (``Outbound.relatedReturns``,
            # ``Product.openInbounds``): the fake sends them, so they are part of the shape.
            props_of = {p: _child(sub) for p, sub in schema["properties"].items()}
            for name_only in schema.get("required", []):
                props_of.setdefault(name_only, None)
            props = ", ".join(f"{prop!r}: {child!r}" for prop, child in sorted(props_of.items()))
            lines.append(f"        {name!r}: {{{props}}},")
        lines.append("    },")
    lines.append("}")
    text = "\n".join(lines).replace("'", '"') + "\n"
    return ruff_format({SHAPES.name: text}, str(SHAPES.parent.relative_to(REPO)))[SHAPES.name]


def main(argv: list[str] | None = None) -> int:
    return run(
        argv,
        __doc__,
        lambda specs: {OUTPUT: render(specs), SHAPES: render_shapes(specs)},
        what="fake-server fixtures",
    )


if __name__ == "__main__":
    sys.exit(main())
