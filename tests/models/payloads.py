"""Synthesize a complete JSON payload for every model from the spec schemas.

Every property is filled: the spec's example where it fits the constraints, else a value made
up per type/format. Values are written in the canonical form the converter emits (ISO-8601 with
microseconds and offset), so ``encode(decode(payload)) == payload`` can be compared directly.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from tests.services import unavailable

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "tools") not in sys.path:
    sys.path.insert(0, str(REPO / "tools"))

import generate_models  # noqa: E402

UNKNOWN_KEY = "someFieldFromTheFuture"
UNKNOWN_ENUM = "SomeValueFromTheFuture"


def load_schemas() -> dict[str, dict[str, Any]]:
    """The spec's schemas by class name plus the merchant table (as the generator sees them)."""
    if not generate_models.DEFAULT_SPEC.is_file():
        unavailable(f"spec not found at {generate_models.DEFAULT_SPEC}")
    spec = json.loads(generate_models.DEFAULT_SPEC.read_text())
    return generate_models.merged_schemas(spec)[0]


class PayloadBuilder:
    def __init__(self, schemas: dict[str, dict[str, Any]], *, unknown_enums: bool = False) -> None:
        self.schemas = schemas
        self.unknown_enums = unknown_enums

    def _target(self, ref: str) -> tuple[str, dict[str, Any]]:
        name = ref.rsplit("/", 1)[-1].rsplit(".", 1)[-1]
        return name, self.schemas[name]

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
            name, target = self._target(prop["$ref"])
            if "enum" in target:
                return UNKNOWN_ENUM if self.unknown_enums else target["enum"][-1]
            return self.object(name, depth + 1)
        if "enum" in prop:
            return UNKNOWN_ENUM if self.unknown_enums else prop["enum"][-1]
        kind, fmt = prop.get("type"), prop.get("format", "")
        if kind == "array":
            count = 0 if depth > 2 else max(2, prop.get("minLength", 0))
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
