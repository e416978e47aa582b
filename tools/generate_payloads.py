"""Generate ``tests/models/fixtures/<api>.json``: one complete JSON payload per schema of each spec.

Usage::

    python tools/generate_payloads.py [SPECS_DIR]          # write the fixtures
    python tools/generate_payloads.py --check [SPECS_DIR]  # exit 1 if the committed ones differ

The tests decode and re-encode these payloads with the generated models, so they run on a
fresh clone without the generators; CI checks that the committed fixtures still follow the
specs. Every property is filled: the spec's example where it fits the constraints, else a value
made up per type/format; every object also carries an unknown field (:data:`UNKNOWN_KEY`).
Values are in the canonical form the converter emits (ISO-8601 with microseconds and offset),
so ``encode(decode(payload))`` equals the payload without the unknown fields. Each file also
lists every enum schema's values.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate_models
from _generated import JSON_KEY, REPO, SPECS, json_note, run

OUT = REPO / "tests" / "models" / "fixtures"
UNKNOWN_KEY = "someFieldFromTheFuture"


class PayloadBuilder:
    """Full payloads for the schemas of one spec (as :func:`generate_models.spec_schemas` gives)."""

    def __init__(self, schemas: dict[str, dict[str, Any]]) -> None:
        self.schemas = schemas

    def object(self, name: str, depth: int = 0, extra: bool = True) -> dict[str, Any]:
        schema = self.schemas[name]
        out: dict[str, Any] = {}
        for key, prop in schema.get("properties", {}).items():
            out[key] = self.value(key, prop, depth)
        if extra:
            out[UNKNOWN_KEY] = {"nested": [1, "two"]}
        return out

    def value(self, key: str, prop: dict[str, Any], depth: int) -> Any:
        if "$ref" in prop:
            name = generate_models.ref_name(prop["$ref"])
            target = self.schemas[name]
            if "enum" in target:
                return target["enum"][-1]
            return self.object(name, depth + 1)
        if "enum" in prop:
            return prop["enum"][-1]
        kind, fmt = prop.get("type"), prop.get("format", "")
        if kind == "array":
            # two items show a list is a list; one where the items must differ (uniqueItems)
            count = (
                0
                if depth > 2
                else 1
                if prop.get("uniqueItems")
                else max(2, prop.get("minLength", 0))
            )
            return [self.value(key, prop["items"], depth + 1) for _ in range(count)]
        if kind == "integer":
            low, high = prop.get("minimum", 1), prop.get("maximum", 10**6)
            example = prop.get("example")
            return (
                example
                if isinstance(example, int) and low <= example <= high
                else max(low, min(7, high))
            )
        if kind == "number":
            return 12.34 if "example" not in prop or prop["example"] == 0 else prop["example"]
        if kind == "boolean":
            return True
        if kind is None:
            return {"Jfsku": "MERC01ABCDE", "count": 2}
        if fmt == "date-time":
            return "2020-02-11T16:05:06.834123+02:00"
        if fmt == "date":
            return "2021-03-04"
        if fmt == "byte":
            return "aGVsbG8gd29ybGQ="
        return self.string(key, prop)

    @staticmethod
    def string(key: str, prop: dict[str, Any]) -> str:
        low = max(prop.get("minLength", 0), 1)
        high = prop.get("maxLength", 255)
        example = prop.get("example")
        pattern = prop.get("pattern")
        if (
            isinstance(example, str)
            and low <= len(example) <= high
            and (pattern is None or re.search(pattern, example))
        ):
            return example
        text = f"{key}-value"
        return (text * (low // len(text) + 1))[: max(low, min(len(text), high))]


def fixture(schemas: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``{"objects": {name: payload}, "enums": {name: values}}`` for one spec."""
    builder = PayloadBuilder(schemas)
    return {
        "objects": {n: builder.object(n) for n in sorted(schemas) if "enum" not in schemas[n]},
        "enums": {n: s["enum"] for n, s in sorted(schemas.items()) if "enum" in s},
    }


def generate(specs_dir: Path = SPECS) -> dict[str, str]:
    """File name -> text of every fixture."""
    return {
        f"{api}.json": json.dumps(
            {JSON_KEY: json_note("tools/generate_payloads.py"), **fixture(schemas)},
            indent=1,
            sort_keys=True,
        )
        + "\n"
        for api, schemas in generate_models.load_specs(specs_dir).items()
    }


def main(argv: list[str] | None = None) -> int:
    return run(
        argv,
        __doc__,
        lambda specs: {OUT / name: text for name, text in generate(specs).items()},
        what="payload fixtures",
    )


if __name__ == "__main__":
    raise SystemExit(main())
