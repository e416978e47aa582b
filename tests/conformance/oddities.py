"""The one place where the Prism lane departs from the committed specs, and why.

Prism (``--errors``) validates our requests against a spec **and** its own answers: an answer
that breaks the spec is served as a 500 "VIOLATIONS" problem instead. A few things in the FFN
specs are odd in ways that make Prism refuse *its own* examples or fail to generate a body, none
of which is about our client. :func:`prism_document` gives Prism a copy of a spec with exactly
these oddities smoothed, each by a function below that says what is odd, where, and what the
copy says instead. Nothing is skipped: every operation of both specs is still called, every
request still validated against the (otherwise unchanged) spec, every answer still decoded.

A patch only ever *widens* what an answer may hold or fills what Prism cannot make up; it never
narrows what a request may carry, so a request the copy accepts is one the spec accepts (the
one exception is :func:`undeclared_required`, which drops names a client cannot send because
the spec never says what they are; see there).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from openapi_schema_validator import OAS30Validator

__all__ = ["ODDITIES", "SPEC_FILES", "SPECS", "prism_document", "spec"]

SPECS = Path(__file__).resolve().parents[2] / "specs"
SPEC_FILES = {
    "merchant": "ffn-merchant-v1.openapi.json",
    "fulfiller": "ffn-fulfiller-v1.openapi.json",
}

Schema = dict[str, Any]

BASE64 = "^(?:[A-Za-z0-9+/]{4}){1,8}(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
"""Short base64 text (what the copy asks for where the spec says ``format: byte``)."""


def spec(api: str) -> Schema:
    """The committed spec of ``api``, as JSON."""
    loaded: Schema = json.loads((SPECS / SPEC_FILES[api]).read_text(encoding="utf-8"))
    return loaded


def _schemas(document: Schema) -> dict[str, Schema]:
    found: dict[str, Schema] = document["components"]["schemas"]
    return found


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object inside ``node`` (``node`` itself included)."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def undeclared_required(document: Schema) -> list[str]:
    """Required names that the schema never declares.

    Merchant ``Outbound`` requires ``relatedReturns``, ``Product`` and ``ProductPageItem``
    require ``openInbounds`` and ``openOutbounds``, but none of them is among the schema's
    properties: there is no type to send or read, and the spec's own examples leave them out
    (so Prism refuses its examples). The copy drops these names from ``required``; the models
    never had them (the generator knows only declared properties).
    """
    changed = []
    for name, schema in _schemas(document).items():
        declared = schema.get("properties", {})
        missing = [r for r in schema.get("required", []) if r not in declared]
        if missing:
            schema["required"] = [r for r in schema["required"] if r in declared]
            changed += [f"{name.rsplit('.', 1)[-1]}.{r}" for r in missing]
    return changed


def relative_links(document: Schema) -> list[str]:
    """``format: uri`` on links the API sends relative.

    ``nextPageLink`` and ``PageLinks.previous``/``next`` are ``format: uri`` (an absolute URI in
    JSON Schema), yet their examples, and the server, give relative references
    (``?$orderBy=…&$skip=100``), which the client resolves against the request URL. The copy says
    ``uri-reference`` for every ``format: uri`` (a superset: absolute URIs stay valid).
    """
    changed = []
    for name, schema in _schemas(document).items():
        for prop, value in schema.get("properties", {}).items():
            if value.get("format") == "uri":
                value["format"] = "uri-reference"
                changed.append(f"{name.rsplit('.', 1)[-1]}.{prop}")
    return changed


def error_metadata_spelling(document: Schema) -> list[str]:
    """Error examples spell ``errorMetadata``; the ``ErrorResponse`` schema says ``errorMetaData``.

    The schema requires ``errorMetaData``, so every error example violates it. The client reads
    the schema's spelling (``errors.FFNError.metadata``). The copy renames the key in the
    examples; the answer the client decodes is the schema's.
    """
    changed = []
    for path, operation in _operations(document):
        for status, response in operation.get("responses", {}).items():
            for media in response.get("content", {}).values():
                for node in _walk([media.get("example"), media.get("examples")]):
                    if "errorMetadata" in node:
                        node["errorMetaData"] = node.pop("errorMetadata")
                        changed.append(f"{operation['operationId']} {status}")
    return sorted(set(changed))


def error_metadata_schema(document: Schema) -> list[str]:
    """``ErrorResponse.errorMetaData`` has no type (``{"uniqueItems": false, "readOnly": true}``).

    Any JSON value matches it, so it is fine to read (the client keeps it as ``Any``), but
    Prism's generator cannot make a value for a schema without a type and answers the error
    with a violation. The copy says ``type: object`` (one of the values "any" allows).
    """
    changed = []
    for name, schema in _schemas(document).items():
        meta = schema.get("properties", {}).get("errorMetaData")
        if meta is not None and "type" not in meta and "$ref" not in meta:
            meta["type"] = "object"
            changed.append(f"{name.rsplit('.', 1)[-1]}.errorMetaData")
    return changed


def null_error_messages(document: Schema) -> list[str]:
    """Error examples with ``"errorMessages": [{"message": null}]``.

    ``ErrorMessages.message`` is a (non-nullable) string, yet many error examples carry
    ``null`` there (``Returns_ReturnNotFound``). The client skips an empty message. The copy
    lets ``message`` be ``null``, as the examples show the server sending it.
    """
    changed = []
    for name, schema in _schemas(document).items():
        message = schema.get("properties", {}).get("message")
        if name.rsplit(".", 1)[-1] == "ErrorMessages" and message is not None:
            message["nullable"] = True
            changed.append(f"{name.rsplit('.', 1)[-1]}.message")
    return changed


def examples_against_their_schema(document: Schema) -> list[str]:
    """Property examples that break their own property's schema.

    Prism's static answers are made of the property examples, so an example that breaks its
    schema makes Prism refuse the whole answer: ``billOfMaterialsComponents[].jfsku`` shows a
    12-character value under ``maxLength: 11``, some ``format: byte`` examples are not base64.
    The copy drops such examples (Prism then makes a value from the schema).
    """
    changed = []
    for name, schema in _schemas(document).items():
        for prop, value in schema.get("properties", {}).items():
            if "example" not in value or "$ref" in value:
                continue
            bare = {k: v for k, v in value.items() if k != "example"}
            validator = OAS30Validator(bare, format_checker=OAS30Validator.FORMAT_CHECKER)
            if not validator.is_valid(value["example"]):
                del value["example"]
                changed.append(f"{name.rsplit('.', 1)[-1]}.{prop}")
    return changed


def byte_values(document: Schema) -> list[str]:
    """``format: byte`` properties (files, labels, pictures as base64) Prism cannot fill.

    Prism's static generator answers a string without an example with ``"string"``, its dynamic
    one with random text: neither is base64, and Prism refuses its own answer. The copy gives
    these properties a base64 example and, for ``format: byte``, a base64 ``pattern`` (the
    generator follows a pattern, not that format); runs after
    :func:`examples_against_their_schema`, so dropped byte examples get one too.
    """
    changed = []
    for name, schema in _schemas(document).items():
        for prop, value in schema.get("properties", {}).items():
            if value.get("format") == "byte":
                value.setdefault("example", "JVBERi0xLjQgZXhhbXBsZQ==")  # "%PDF-1.4 example"
                del value["format"]
                value["pattern"] = BASE64
                changed.append(f"{name.rsplit('.', 1)[-1]}.{prop}")
    return changed


def nullable_objects(document: Schema) -> list[str]:
    """``nullable: true`` on nearly every object schema (the .NET generator's habit).

    Read literally, a whole answer (``GET /outbounds/{id}`` answering ``null``) and any item of
    a list may be ``null``, and Prism's dynamic generator produces exactly that. The client
    reads the flag where it means something (README "Models"): a *property* referring to a
    nullable object schema may be ``null`` and decodes as ``None``; a whole answer or a list
    item that is ``null`` is refused (``DecodeError``), as no server sends one. The copy says
    the same: each such schema loses ``nullable``, and a nullable twin (``<name>.OrNull``, the
    same schema with ``nullable: true``) takes its place wherever a property refers to it, so
    dynamic answers still carry ``null`` objects in nullable properties. For requests the copy
    is stricter than the spec (the client never sends a ``null`` body or item), so a request
    valid for the copy is valid for the spec.
    """
    schemas = _schemas(document)
    moved = {
        name
        for name, schema in schemas.items()
        if schema.get("nullable") and "enum" not in schema and schema.get("type") == "object"
    }
    for name in moved:
        schemas[f"{name}.OrNull"] = copy.deepcopy(schemas[name])
        del schemas[name]["nullable"]
    for name, schema in schemas.items():
        for value in schema.get("properties", {}).values():
            if value.get("$ref", "").rsplit("/", 1)[-1] in moved:
                value["$ref"] += ".OrNull"
    return sorted(name.rsplit(".", 1)[-1] for name in moved)


def recursive_examples(document: Schema) -> list[str]:
    """``ModificationInfo.changesInRange`` holds ``ModificationInfo`` items (a recursive schema).

    Prism's static example generator cuts the recursion with an empty object, which lacks the
    required ``createdAt``: Prism then refuses its own answer. The copy gives the recursive
    array an empty example (``[]``, which the schema allows); dynamic bodies still recurse.
    """
    changed = []
    for name, schema in _schemas(document).items():
        for prop, value in schema.get("properties", {}).items():
            items = value.get("items", {})
            if value.get("type") == "array" and items.get("$ref", "").endswith(f"/{name}"):
                value["example"] = []
                changed.append(f"{name.rsplit('.', 1)[-1]}.{prop}")
    return changed


def _operations(document: Schema) -> Iterator[tuple[str, Schema]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                yield f"{method.upper()} {path}", operation


ODDITIES: tuple[Callable[[Schema], list[str]], ...] = (
    undeclared_required,
    relative_links,
    error_metadata_spelling,
    error_metadata_schema,
    null_error_messages,
    examples_against_their_schema,
    byte_values,
    recursive_examples,
    nullable_objects,
)
"""Every departure, in the order applied; each returns what it changed."""


def prism_document(api: str) -> tuple[Schema, dict[str, list[str]]]:
    """The copy of ``api``'s spec that Prism serves, and per oddity what it changed."""
    document = copy.deepcopy(spec(api))
    changes = {oddity.__name__: oddity(document) for oddity in ODDITIES}
    return document, changes
