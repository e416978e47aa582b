"""Generate ``ffn_async/models/`` from the Merchant and the Fulfiller OpenAPI specs.

Usage::

    python tools/generate_models.py [SPECS_DIR]          # write the modules
    python tools/generate_models.py --check [SPECS_DIR]  # exit 1 if the committed files differ

SPECS_DIR defaults to ``<repo>/specs`` (the committed copies) and must hold
``ffn-merchant-v1.openapi.json`` and ``ffn-fulfiller-v1.openapi.json``. The output is
deterministic and formatted with ``ruff format`` (taken from the running interpreter's
environment), so ``--check`` compares byte for byte.

Layout: one module per API, each exporting every schema of its spec under the spec's name
(dotted names: last segment):

* ``common.py``: schemas identical in both specs, down to every schema they refer to
  (``Address``, ``Attribute`` …): one class serves both APIs;
* ``merchant.py`` / ``fulfiller.py``: the rest of each spec (55 names exist in both with
  different content, so ``merchant.Outbound`` and ``fulfiller.Outbound`` are two classes), plus
  the ``common`` classes imported at run time so that every annotation resolves in the module;
* ``shared.py``: ``User`` (``GET /v1/users/current``), which no spec describes: its shape is
  transcribed in ``tools/data/models.json`` from ``ffn-merchant-shared-endpoints.md``;
* ``__init__.py``: the API modules and the PATCH marker, no schema (see its docstring).

Inside a module, classes are grouped by topic (outbounds, products …) under comment headers.

Mapping rules (see also the README section "Models"):

* every schema becomes a slotted, mutable attrs class (``kw_only``) or a ``StrEnum``;
  properties become snake_case attributes, the camelCase wire name is derived by
  :func:`ffn_async.models._base.to_camel` or kept in ``metadata["wire"]``;
* ``required`` properties have no default; the others default to ``None`` (omitted on encode);
  in response models, required arrays default to an empty list so that a server leaving one out
  does not break decoding; ``Update*`` models are PATCH bodies: every field defaults to ``UNSET``;
* a ``nullable`` inline array item is ``T | None``; a ``$ref`` to a nullable object schema is
  ``X | None`` in response and PATCH models, not in the other requests (README "Models");
* enum-typed fields are ``EnumType | str`` so values unknown to this version stay plain strings;
* ``number``/``decimal`` maps to ``Decimal``, ``date-time`` to an aware ``datetime``, ``byte`` to
  the base64 ``str`` as sent;
* ``minLength``/``maxLength`` (items for arrays), ``minimum``/``maximum``, ``pattern`` and inline
  enum subsets go into ``metadata`` where :mod:`ffn_async.codec.serialization` checks them on
  encode.
"""

from __future__ import annotations

import copy
import json
import keyword
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _generated import REPO, SPEC_FILES, SPECS, load_module, python_header, ruff_format, run

APIS = tuple(SPEC_FILES)
OUT = REPO / "ffn_async" / "models"

Schema = dict[str, Any]


_base = load_module(OUT / "_base.py", "_ffn_models_base")
to_camel, to_snake, is_request = _base.to_camel, _base.to_snake, _base.is_request_name

# Where schemas land and what their modules say, and the Shared API's ``User`` (in neither spec;
# transcribed from ffn-merchant-shared-endpoints.md): tools/data/models.json.
_DATA = json.loads((REPO / "tools" / "data" / "models.json").read_text(encoding="utf-8"))
SHARED_SCHEMAS: dict[str, Schema] = _DATA["shared_schemas"]

# --------------------------------------------------------------------------- spec loading

_REF = re.compile(r'"#/components/schemas/([\w.]+)"')


def ref_name(ref: str) -> str:
    """``#/components/schemas/Ffn.Server...Outbound`` -> ``Outbound``."""
    return ref.rsplit("/", 1)[-1].rsplit(".", 1)[-1]


def spec_schemas(spec: Schema) -> dict[str, Schema]:
    """A spec's schemas by class name (last dotted segment), refs rewritten to those names."""
    out: dict[str, Schema] = {}
    for full, schema in spec["components"]["schemas"].items():
        name = full.rsplit(".", 1)[-1]
        if name in out:
            raise SystemExit(f"schema name collision on {name!r} ({full})")
        text = json.dumps(schema)
        text = _REF.sub(lambda m: f'"#/components/schemas/{ref_name(m.group(1))}"', text)
        out[name] = json.loads(text)
    return out


def load_specs(specs_dir: Path) -> dict[str, dict[str, Schema]]:
    """``{"merchant": schemas, "fulfiller": schemas}`` read from ``specs_dir``."""
    return {
        api: spec_schemas(json.loads((specs_dir / name).read_text()))
        for api, name in SPEC_FILES.items()
    }


def _refs(schema: Schema) -> set[str]:
    return {ref_name(r) for r in _REF.findall(json.dumps(schema))}


def _closure(name: str, schemas: dict[str, Schema]) -> set[str]:
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo += _refs(schemas[current])
    return seen


def common_names(apis: dict[str, dict[str, Schema]]) -> set[str]:
    """Schemas identical in every spec, together with everything they refer to.

    ``PagedInboundResponse`` reads the same in both specs but its ``Inbound`` does not, so it
    is not common: each API gets its own class.
    """
    first, *rest = apis.values()
    same = {n for n in first if all(n in other and other[n] == first[n] for other in rest)}
    return {n for n in same if all(_closure(n, schemas) <= same for schemas in apis.values())}


# --------------------------------------------------------------------------- topics

GENERATED_NOTE = "Generated by ``python tools/generate.py``; do not edit by hand."

MODULE_DOCS: dict[str, str] = _DATA["module_docs"]
TOPIC_DOCS: dict[str, str] = _DATA["topic_docs"]
TOPICS = tuple(TOPIC_DOCS)
_EXPLICIT_TOPIC: dict[str, str] = _DATA["explicit_topic"]
_KEYWORD_TOPIC: list[tuple[str, str]] = [(k, v) for k, v in _DATA["keyword_topic"]]


def topic_of(name: str, schema: Schema) -> str:
    """The section a schema is listed under inside its module."""
    if "enum" in schema:
        return "enums"
    if name in _EXPLICIT_TOPIC:
        return _EXPLICIT_TOPIC[name]
    for word, topic in _KEYWORD_TOPIC:
        if word in name:
            # field-level change records of a domain stay with that domain
            if word == "Changed" and name.startswith(("ChangedReturn", "ChangedStock")):
                return "returns" if "Return" in name else "stocks"
            return topic
    return "general"


# --------------------------------------------------------------------------- rendering


def is_patch(name: str) -> bool:
    return name.startswith("Update")


def enum_member(value: str) -> str:
    member = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", value).upper()
    return member if member.isidentifier() and not keyword.iskeyword(member) else f"V_{member}"


def _doc(text: str | None) -> str | None:
    if not text:
        return None
    text = " ".join(text.split())
    if not text.endswith((".", "!", "?", ")")):
        text += "."
    return text[0].upper() + text[1:]


def _docstring(text: str, indent: str) -> str:
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if text.endswith('"'):
        text += " "
    return f'{indent}"""{text}"""\n'


class Renderer:
    def __init__(self, schemas: dict[str, Schema]) -> None:
        self.schemas = schemas
        self.enums = {n: s for n, s in schemas.items() if "enum" in s}

    # -- types
    def _enum_for_values(self, values: list[str]) -> str:
        """The named enum that holds every value of an inline enum (the spec repeats subsets)."""
        for name in sorted(self.enums):
            if set(values) <= set(self.enums[name]["enum"]):
                return name
        raise SystemExit(f"inline enum {values} matches no named enum")

    def py_type(self, prop: Schema, uses: set[str]) -> str:
        if "$ref" in prop:
            target = prop["$ref"].rsplit("/", 1)[-1].rsplit(".", 1)[-1]
            uses.add(target)
            return f"{target} | str" if target in self.enums else target
        if "enum" in prop:
            target = self._enum_for_values(prop["enum"])
            uses.add(target)
            return f"{target} | str"
        kind, fmt = prop.get("type"), prop.get("format", "")
        if kind == "array":
            items = prop["items"]
            # inline item schemas say ``nullable`` themselves (``serialnumbers``: [null] is valid)
            null = " | None" if items.get("nullable") and "$ref" not in items else ""
            return f"list[{self.py_type(items, uses)}{null}]"
        if kind == "string":
            return {"date-time": "dt.datetime", "date": "dt.date"}.get(fmt, "str")
        if kind == "number":
            return "float" if fmt in ("double", "float") else "Decimal"
        if kind == "integer":
            return "int"
        if kind == "boolean":
            return "bool"
        if kind == "object":
            return "dict[str, Any]"
        return "Any"

    @staticmethod
    def constraints(prop: Schema, inline_enum: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        is_array = prop.get("type") == "array"
        for key, meta in (("minLength", "min_length"), ("maxLength", "max_length")):
            if key in prop and not (key == "minLength" and prop[key] == 0):
                out[("min_items" if key == "minLength" else "max_items") if is_array else meta] = (
                    prop[key]
                )
        for key in ("minimum", "maximum", "pattern"):
            if key in prop:
                out[key] = prop[key]
        if inline_enum:
            out["choices"] = tuple(prop["enum"])
        return out

    def render_enum(self, name: str, schema: Schema) -> str:
        doc = (
            _doc(schema.get("description"))
            or f"Values of ``{name}``; unknown values decode as plain str."
        )
        lines = [f"class {name}(enum.StrEnum):\n", _docstring(doc, "    "), "\n"]
        lines += [f"    {enum_member(v)} = {v!r}\n" for v in schema["enum"]]
        return "".join(lines)

    def render_class(self, name: str, schema: Schema, uses: set[str]) -> str:
        props: dict[str, Schema] = schema.get("properties", {})
        required = set(schema.get("required", []))
        patch, request = is_patch(name), is_request(name)
        doc = _doc(schema.get("description")) or f"The ``{name}`` schema."
        out = [
            "@attrs.define(kw_only=True)\n",
            f"class {name}:\n",
            _docstring(doc, "    "),
        ]
        if not props:
            out.append("\n")
        seen: set[str] = set()
        for wire, prop in props.items():
            attr = to_snake(wire)
            if keyword.iskeyword(attr):
                attr += "_"
            if attr in seen or attr in ("dt", "Decimal", "Any", "attrs", "enum", "UNSET"):
                raise SystemExit(f"{name}.{wire}: attribute name {attr!r} collides")
            seen.add(attr)
            typ = self.py_type(prop, uses)
            nullable = bool(prop.get("nullable")) and "$ref" not in prop
            if "$ref" in prop:
                target = self.schemas[prop["$ref"].rsplit("/", 1)[-1].rsplit(".", 1)[-1]]
                # A nullable object schema: responses may carry null (a tolerant reader) and a
                # PATCH may send it (clear the value); a create never sends null for an object
                # it requires (README "Models" says why).
                nullable = bool(target.get("nullable")) and (
                    "enum" in target or patch or not request
                )
            args: list[str] = []
            if patch:
                typ += " | None" if nullable else ""
                args.append("default=UNSET")
            elif wire in required:
                typ += " | None" if nullable else ""
                if prop.get("type") == "array" and not request:
                    args.append("factory=list")
            else:
                typ += " | None"
                args.append("default=None")
            meta: dict[str, Any] = {}
            if to_camel(attr) != wire:
                meta["wire"] = wire
            meta.update(self.constraints(prop, "enum" in prop))
            if meta:
                args.append(f"metadata={meta!r}")
            if len(args) == 1 and args[0].startswith("default="):
                rhs = f" = {args[0].removeprefix('default=')}"
            elif args:
                rhs = f" = attrs.field({', '.join(args)})"
            else:
                rhs = ""
            out.append(f"\n    {attr}: {typ}{rhs}\n")
            fdoc = _doc(prop.get("description"))
            extra = []
            if "default" in prop:
                extra.append(f"Server default: ``{prop['default']!r}``.")
            if prop.get("format") == "byte":
                extra.append("Base64 text as sent on the wire.")
            if prop.get("format") == "date-span":
                extra.append("A time of day/span such as ``14:00``, kept as text.")
            fdoc = " ".join(x for x in [fdoc, *extra] if x)
            if fdoc:
                out.append(_docstring(fdoc, "    "))
        return "".join(out)

    def render_module(
        self, module: str, names: list[str], imported: dict[str, list[str]], reexport: bool = True
    ) -> str:
        """One module: ``names`` rendered here, ``imported`` (module -> names) re-exported."""
        uses: set[str] = set()
        by_topic: dict[str, list[str]] = {}
        for name in names:
            by_topic.setdefault(topic_of(name, self.schemas[name]), []).append(name)
        sections = []
        for topic in TOPICS:
            if topic not in by_topic:
                continue
            bodies = []
            for name in sorted(by_topic[topic]):
                schema = self.schemas[name]
                if "enum" in schema:
                    bodies.append(self.render_enum(name, schema))
                else:
                    bodies.append(self.render_class(name, schema, uses))
            doc = TOPIC_DOCS[topic]
            rule = f"# {'-' * 75} {topic}\n# {doc[0].upper()}{doc[1:]}.\n\n\n"
            sections.append(rule + "\n\n".join(bodies))
        body = "\n\n".join(sections)
        own = set(names)
        available = own.union(*imported.values())
        missing = sorted(uses - available)
        if missing:
            raise SystemExit(f"{module}: refers to {missing}, which it neither defines nor imports")
        head = [
            f'"""{MODULE_DOCS[module]}\n\n{GENERATED_NOTE}\n"""\n\n',
            "from __future__ import annotations\n\n",
        ]
        if "enum.StrEnum" in body:
            head.append("import enum\n")
        if "dt." in body:
            head.append("import datetime as dt\n")
        if "Decimal" in body:
            head.append("from decimal import Decimal\n")
        if re.search(r"\bAny\b", body):
            head.append("from typing import Any\n")
        if "attrs." in body:
            head.append("\nimport attrs\n")
        if "UNSET" in body:
            head.append("\nfrom ._base import UNSET\n")
        for source in sorted(imported):
            # run-time imports: every annotation must resolve in this module's namespace
            head.append(f"from .{source} import {', '.join(sorted(imported[source]))}\n")
        exported = sorted([*names, *(n for v in imported.values() for n in v if reexport)])
        head.append(f"\n__all__ = {exported!r}\n\n\n")
        return "".join(head) + body + "\n"

    def render_init(self, counts: dict[str, int], common: int) -> str:
        text = f'''"""Typed models of every FFN schema, one module per API.

* :mod:`ffn_async.models.merchant`: the {counts["merchant"]} schemas of the Merchant spec;
* :mod:`ffn_async.models.fulfiller`: the {counts["fulfiller"]} schemas of the Fulfiller spec;
* :mod:`ffn_async.models.shared`: ``User`` (``GET /v1/users/current``, no spec);
* :mod:`ffn_async.models.common`: the {common} schemas identical in both specs (also exported by
  both API modules).

Every class is named as its spec schema (dotted names: last segment). Many names exist in both
specs with different content (the merchant ``Outbound`` has a required ``fulfiller_id``, the
fulfiller one a required ``merchant_id``), so this package exports no schema itself: import
the API you call (``from ffn_async.models import merchant``, then ``merchant.Outbound``) and
an ``Outbound`` can never be the other API's. Asking this package for a schema name raises an
``AttributeError`` that names the right module.

How the specs are read where they say little (README "Models" gives the reasons):

* ``nullable`` array items are typed so: ``serialnumbers: list[str | None]``;
* an object whose schema is ``nullable`` (nearly all of them) may arrive as ``None`` in an
  answer, so response fields referring to one are ``X | None``; a PATCH (``Update*``) may send
  it as ``null`` (``None`` clears the value, ``UNSET`` leaves it out); a create never sends
  ``null`` for an object it requires;
* ``minLength`` on an array (``CreateOutboundRequest.items`` and 8 more) is kept as the author's
  "at least one item": checked on requests, not on answers.

{GENERATED_NOTE}
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._base import UNSET, is_set

if TYPE_CHECKING:
    from . import common, fulfiller, merchant, shared

__all__ = ["UNSET", "common", "fulfiller", "is_set", "merchant", "shared"]

_APIS = ("merchant", "fulfiller", "shared", "common")

if not TYPE_CHECKING:  # type checkers report ``models.Outbound`` as missing, as they should

    def __getattr__(name: str) -> object:
        # The API modules load on first use: a merchant-only program never builds the
        # fulfiller classes.
        if name in _APIS:
            return importlib.import_module(f"{{__name__}}.{{name}}")
        homes = [
            f"{{__name__}}.{{api}}.{{name}}"
            for api in _APIS[:3]
            if name in importlib.import_module(f"{{__name__}}.{{api}}").__all__
        ]
        if not homes:
            raise AttributeError(f"module {{__name__!r}} has no attribute {{name!r}}")
        raise AttributeError(
            f"{{__name__}}.{{name}}: models live per API; use {{' or '.join(homes)}}"
        )
'''
        return text


def generate(specs_dir: Path = SPECS) -> dict[str, str]:
    """Every file of ``ffn_async/models/`` (but ``_base.py``) by name, formatted."""
    apis = load_specs(specs_dir)
    common = common_names(apis)
    files: dict[str, str] = {}
    any_api = apis[APIS[0]]
    files["common.py"] = Renderer(any_api).render_module("common", sorted(common), {})
    for api, schemas in apis.items():
        own = sorted(n for n in schemas if n not in common)
        files[f"{api}.py"] = Renderer(schemas).render_module(api, own, {"common": sorted(common)})
    # User refers to Address (merchant and fulfiller Address differ only in an example value:
    # the merchant one is used) and to the common ModificationInfo.
    merchant = apis["merchant"]
    renderer = Renderer({**merchant, **copy.deepcopy(SHARED_SCHEMAS)})
    uses: set[str] = set()
    for name, schema in SHARED_SCHEMAS.items():
        renderer.render_class(name, schema, uses)
    imported: dict[str, list[str]] = {}
    for name in sorted(uses):
        imported.setdefault("common" if name in common else "merchant", []).append(name)
    files["shared.py"] = renderer.render_module(
        "shared", sorted(SHARED_SCHEMAS), imported, reexport=False
    )
    files["__init__.py"] = Renderer(any_api).render_init(
        {api: len(schemas) for api, schemas in apis.items()}, len(common)
    )
    header = python_header("tools/generate_models.py")
    return ruff_format(
        {rel: header + text for rel, text in files.items()}, "ffn_async/models", "I,UP,F401,RUF022"
    )


def _generated_files() -> Iterable[Path]:
    return (p for p in sorted(OUT.glob("*.py")) if p.name != "_base.py")


def main(argv: list[str] | None = None) -> int:
    return run(
        argv,
        __doc__,
        lambda specs: {OUT / rel: text for rel, text in generate(specs).items()},
        what="models",
        stale=_generated_files,
    )


if __name__ == "__main__":
    raise SystemExit(main())
