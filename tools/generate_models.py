"""Generate ``ffn_async/models/`` from the FFN OpenAPI spec plus the merchant-only table below.

Usage::

    python tools/generate_models.py [SPEC]          # write the modules
    python tools/generate_models.py --check [SPEC]  # exit 1 if the committed files differ

SPEC defaults to ``<repo>/../shared/specs/ffn-fulfiller-v1.openapi.json``. The output is
deterministic and formatted with ``ruff format`` (taken from the running interpreter's
environment), so ``--check`` compares byte for byte.

Mapping rules (see also the README section "Models"):

* every schema becomes a slotted, mutable attrs class (``kw_only``) or a ``StrEnum`` named by
  the last segment of its spec name; properties become snake_case attributes, the camelCase
  wire name is derived by :func:`ffn_async.models._base.to_camel` or kept in
  ``metadata["wire"]``;
* ``required`` properties have no default; the others default to ``None`` (omitted on encode);
  in response models, required arrays default to an empty list so that a server leaving one out
  does not break decoding; ``Update*`` models are PATCH bodies: every field defaults to ``UNSET``;
* enum-typed fields are ``EnumType | str`` so values unknown to this version stay plain strings;
* ``number``/``decimal`` maps to ``Decimal``, ``date-time`` to an aware ``datetime``, ``byte`` to
  the base64 ``str`` as sent;
* ``minLength``/``maxLength`` (items for arrays), ``minimum``/``maximum``, ``pattern`` and inline
  enum subsets go into ``metadata`` where :mod:`ffn_async.serialization` checks them on encode.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import keyword
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SPEC = REPO.parent / "shared" / "specs" / "ffn-fulfiller-v1.openapi.json"
OUT = REPO / "ffn_async" / "models"

Schema = dict[str, Any]


def _load_base() -> Any:
    """Load ``models/_base.py`` by path: the package may be half-generated while we run."""
    spec = importlib.util.spec_from_file_location("_ffn_models_base", OUT / "_base.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_base = _load_base()
to_camel, to_snake, is_request = _base.to_camel, _base.to_snake, _base.is_request_name

# --------------------------------------------------------------------------- merchant table
# Merchant and Shared API shapes from ../shared/specs/ffn-merchant-shared-endpoints.md (no
# official spec exists). Where a Fulfiller schema fits it is reused, extended by the optional
# fields the merchant view carries (MERCHANT_VIEW). New models are derived from Fulfiller
# schemas (keep / required / retype) or written out (props).

MERCHANT_VIEW: dict[str, dict[str, Any]] = {
    # schema: fields to add (all optional) and required fields to relax
    "Outbound": {"add": {"fulfillerId": "fulfiller"}, "relax": ["merchantId"]},
    "Inbound": {"add": {"fulfillerId": "fulfiller"}, "relax": ["merchantId"]},
    "Return": {"add": {"fulfillerId": "fulfiller"}, "relax": ["merchantId"]},
    "Product": {"relax": ["merchantId"]},
    "OutboundShippingNotification": {
        "add": {"fulfillerId": "fulfiller", "merchantOutboundNumber": "merchantOutboundNumber"},
        "relax": ["merchantId", "fulfillerShippingNotificationNumber"],
    },
    "InboundShippingNotification": {
        "add": {"fulfillerId": "fulfiller"},
        "relax": ["merchantId"],
    },
    "Warehouse": {"add": {"shippingMethodIds": "shippingMethodIds"}},
    "ShippingMethod": {
        "add": {"fulfillerId": "fulfiller"},
        "relax": ["fulfillerShippingMethodNumber"],
    },
}

_VIEW_PROPS: dict[str, Schema] = {
    "fulfiller": {
        "type": "string",
        "nullable": True,
        "description": "Fulfiller identifier (merchant view only)",
        "example": "FULF",
    },
    "merchantOutboundNumber": {
        "type": "string",
        "nullable": True,
        "description": "Merchant order number of the outbound (merchant view only)",
        "example": "My_Identifier001",
    },
    "shippingMethodIds": {
        "type": "array",
        "nullable": True,
        "items": {"type": "string", "example": "FULF0A0001"},
        "description": "Shipping methods usable from this warehouse (merchant view only)",
    },
}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


MERCHANT_SCHEMAS: dict[str, Schema] = {
    "User": {
        "description": "The FFN user behind the access token (GET /v1/users/current). Only "
        "``userId`` is confirmed by public integrations; the other fields mirror ``Merchant`` "
        "and are optional.",
        "required": ["userId"],
        "properties": {
            "userId": {
                "type": "string",
                "description": "FFN user id (4 characters)",
                "example": "MERC",
            },
            "role": {
                "type": "string",
                "nullable": True,
                "description": "Merchant or Fulfiller",
                "example": "Merchant",
            },
            "isActive": {
                "type": "boolean",
                "nullable": True,
                "description": "Whether the user is active",
            },
            "address": _ref("Address"),
            "modificationInfo": _ref("ModificationInfo"),
        },
    },
    "Fulfiller": {
        "derive": "Merchant",
        "description": "A fulfiller the merchant works with (mirror of ``Merchant``)",
        "required": ["userId"],
    },
    "PagedFulfillerResponse": {
        "derive": "PagedMerchantResponse",
        "description": "Paged fulfillers",
        "retype": {"items": "Fulfiller"},
    },
    "RecentFulfillerList": {
        "derive": "RecentMerchantList",
        "description": "Fulfillers changed in a time window",
        "retype": {"data": "Fulfiller"},
    },
    "CreateOutbound": {
        "derive": "Outbound",
        "description": "Creates an outbound (merchant API). Use either ``shipping_method_id`` or "
        "``shipping_type``, never both.",
        "keep": [
            "merchantOutboundNumber",
            "warehouseId",
            "currency",
            "shippingAddress",
            "senderAddress",
            "items",
            "shippingMethodId",
            "shippingType",
            "priority",
            "internalNote",
            "externalNote",
            "premiumType",
            "salesChannel",
            "externalNumber",
            "desiredDeliveryDate",
            "shippingFee",
            "orderValue",
            "attributes",
            "attachments",
        ],
        "required": [
            "merchantOutboundNumber",
            "warehouseId",
            "currency",
            "shippingAddress",
            "items",
        ],
        "retype": {"items": "CreateOutboundItem", "attachments": "CreateOutboundAttachment"},
    },
    "CreateOutboundItem": {
        "derive": "OutboundItem",
        "description": "An item of a new outbound: give ``jfsku`` and/or ``merchant_sku``",
        "keep": [
            "outboundItemId",
            "jfsku",
            "merchantSku",
            "quantity",
            "itemType",
            "name",
            "price",
            "vat",
            "externalNumber",
            "note",
            "billOfMaterialsId",
        ],
        "required": ["outboundItemId", "quantity"],
    },
    "CreateOutboundAttachment": {
        "derive": "OutboundAttachmentData",
        "description": "A document sent with a new outbound (for example the invoice PDF)",
        "keep": ["data", "mimeType", "merchantDocumentId", "documentType"],
        "required": ["data", "mimeType", "merchantDocumentId", "documentType"],
    },
    "UpdateOutbound": {
        "derive": "Outbound",
        "description": "Changes an outbound before picking (PATCH; unverified endpoint)",
        "keep": [
            "internalNote",
            "externalNote",
            "priority",
            "shippingAddress",
            "senderAddress",
            "shippingMethodId",
            "shippingType",
            "premiumType",
            "salesChannel",
            "externalNumber",
            "desiredDeliveryDate",
            "shippingFee",
            "orderValue",
            "attributes",
        ],
        "required": [],
    },
    "CreateProduct": {
        "derive": "Product",
        "description": "Creates a product (merchant API); FFN assigns the ``jfsku``",
        "keep": [
            "name",
            "merchantSku",
            "identifier",
            "specifications",
            "dimensions",
            "weight",
            "netWeight",
            "originCountry",
            "manufacturer",
            "productGroup",
            "note",
            "netRetailPrice",
            "attributes",
            "bundles",
            "condition",
        ],
        "required": ["name", "merchantSku"],
    },
    "UpdateProduct": {
        "derive": "Product",
        "description": "Changes product master data (PATCH)",
        "keep": [
            "name",
            "merchantSku",
            "identifier",
            "specifications",
            "dimensions",
            "weight",
            "netWeight",
            "originCountry",
            "manufacturer",
            "productGroup",
            "note",
            "netRetailPrice",
            "attributes",
            "bundles",
            "condition",
        ],
        "required": [],
    },
    "ProductAuthorizationRequest": {
        "description": "Grants a fulfiller access to the merchant's products",
        "required": ["fulfillerId"],
        "properties": {
            "fulfillerId": {
                "type": "string",
                "minLength": 4,
                "maxLength": 4,
                "description": "Fulfiller identifier",
                "example": "FULF",
            },
        },
    },
    "CreateProductPicture": {
        "derive": "PictureData",
        "description": "Uploads a product picture (merchant API; inferred endpoint)",
        "keep": ["data", "mimeType", "number", "hash"],
        "required": ["data", "mimeType", "number"],
    },
    "CreateInbound": {
        "derive": "Inbound",
        "description": "Announces an inbound delivery to a warehouse (merchant API)",
        "keep": [
            "merchantInboundNumber",
            "warehouseId",
            "items",
            "note",
            "purchaseOrderNumber",
            "externalInboundNumber",
            "attributes",
            "supplier",
        ],
        "required": ["merchantInboundNumber", "warehouseId", "items"],
        "retype": {"items": "CreateInboundItem"},
    },
    "CreateInboundItem": {
        "derive": "InboundItem",
        "description": "An item of a new inbound",
        "keep": [
            "inboundItemId",
            "jfsku",
            "quantity",
            "supplierSku",
            "supplierProductName",
            "note",
        ],
        "required": ["inboundItemId", "jfsku", "quantity"],
    },
    "UpdateInbound": {
        "derive": "Inbound",
        "description": "Changes an inbound announcement (PATCH; inferred endpoint)",
        "keep": ["note", "purchaseOrderNumber", "externalInboundNumber", "attributes", "supplier"],
        "required": [],
    },
    "CreateInboundShippingNotification": {
        "derive": "InboundShippingNotification",
        "description": "Tells the fulfiller what is on its way for an inbound (inferred endpoint)",
        "keep": ["merchantShippingNotificationNumber", "items", "packages", "note"],
        "required": ["merchantShippingNotificationNumber", "items"],
        "retype": {"items": "CreateInboundShippingNotificationItem"},
    },
    "UpdateInboundShippingNotification": {
        "derive": "InboundShippingNotification",
        "description": "Changes a shipping notification of an inbound (PATCH; inferred endpoint)",
        "keep": ["merchantShippingNotificationNumber", "items", "packages", "note"],
        "required": [],
        "retype": {"items": "CreateInboundShippingNotificationItem"},
    },
    "CreateInboundShippingNotificationItem": {
        "derive": "InboundShippingNotificationItem",
        "description": "An item of a new inbound shipping notification",
        "keep": ["jfsku", "quantity", "packageId", "batch", "bestBefore", "serialnumbers", "note"],
        "required": ["jfsku", "quantity"],
    },
    "CreateReturn": {
        "derive": "CreateReturnRequest",
        "description": "Announces a return (merchant API); the merchant's own number goes into "
        "``merchant_return_number``",
        "keep": [
            "returnId",
            "warehouseId",
            "internalNote",
            "externalNote",
            "customerAddress",
            "items",
            "contact",
        ],
        "required": ["warehouseId", "customerAddress", "items"],
        "add": {
            "merchantReturnNumber": {
                "type": "string",
                "maxLength": 255,
                "nullable": True,
                "description": "Merchant return number",
                "example": "RET-0001",
            },
        },
    },
}


def _derive(name: str, spec: Schema, schemas: dict[str, Schema]) -> Schema:
    base = schemas[spec["derive"]]
    props = base["properties"]
    keep = spec.get("keep", list(props))
    out: Schema = {
        "type": "object",
        "description": spec["description"],
        "properties": {key: copy.deepcopy(props[key]) for key in keep},
        "required": spec.get("required", [k for k in base.get("required", []) if k in keep]),
    }
    for key in keep:
        out["properties"][key].pop("readOnly", None)
    for key, target in spec.get("retype", {}).items():
        prop = out["properties"][key]
        (prop["items"] if prop.get("type") == "array" else prop).update(_ref(target))
    out["properties"].update(copy.deepcopy(spec.get("add", {})))
    return out


def merged_schemas(spec: Schema) -> tuple[dict[str, Schema], set[str]]:
    """Spec schemas by class name, with the merchant view fields and merchant models added."""
    raw: dict[str, Schema] = spec["components"]["schemas"]
    schemas: dict[str, Schema] = {}
    for full, schema in raw.items():
        name = full.rsplit(".", 1)[-1]
        if name in schemas:
            raise SystemExit(f"schema name collision on {name!r} ({full})")
        schemas[name] = copy.deepcopy(schema)
    for name, view in MERCHANT_VIEW.items():
        schema = schemas[name]
        for key, proto in view.get("add", {}).items():
            schema["properties"][key] = copy.deepcopy(_VIEW_PROPS[proto])
        schema["required"] = [
            r for r in schema.get("required", []) if r not in view.get("relax", [])
        ]
    merchant = set()
    for name, mspec in MERCHANT_SCHEMAS.items():
        if name in schemas:
            raise SystemExit(f"merchant model {name!r} collides with a spec schema")
        if "derive" in mspec:
            schemas[name] = _derive(name, mspec, schemas)
        else:
            schemas[name] = {"type": "object", **copy.deepcopy(mspec)}
        merchant.add(name)
    # a derived model may point at another merchant model: resolve after all exist
    return schemas, merchant


# --------------------------------------------------------------------------- modules

GENERATED_NOTE = "Generated by ``tools/generate_models.py``; do not edit by hand."

MODULE_DOCS = {
    "enums": "Enumerations. Fields typed ``SomeEnum | str`` keep unknown values as plain str.",
    "common": "Shared building blocks: addresses, attributes, paging, errors, modification info.",
    "changes": "Field-level change records (``Changed*``) used by the change logs.",
    "outbounds": "Outbounds (orders shipped by a fulfiller), shipping notifications, labels.",
    "inbounds": "Inbounds (goods announced to a warehouse) and their shipping notifications.",
    "products": "Products, pictures, identifiers and specifications.",
    "returns": "Returns and their items.",
    "stocks": "Stock levels and stock changes.",
    "warehouses": "Warehouses and warehouse authorizations.",
    "shipping_methods": "Shipping methods and their authorizations.",
    "merchants": "Merchants, fulfillers and authorizations between them.",
    "users": "The user behind the token (Shared API).",
}

_EXPLICIT_MODULE = {
    "User": "users",
    "Address": "common",
    "CreateAddressRequest": "common",
    "UpdateAddressRequest": "common",
    "ChangedAddress": "changes",
    "Attribute": "common",
    "ModificationInfo": "common",
    "Page": "common",
    "PageLinks": "common",
    "ErrorResponse": "common",
    "ErrorCode": "common",
    "ErrorMessages": "common",
    "LockStatus": "common",
    "ChangedLockStatus": "changes",
    "BestBefore": "common",
    "CreateBestBeforeRequest": "common",
    "Dimensions": "common",
    "PackageIdentifier": "common",
    "CreatePackageIdentifierRequest": "common",
    "Statistics": "common",
    "StatisticsPerWarehouse": "common",
    "ChangeStatusRequest": "outbounds",
    "ChangedOutboundStatus": "outbounds",
    "StatusTimestamp": "outbounds",
    "ObjectState": "enums",
    "CreateShippingLabelDataRequest": "outbounds",
    "CreateAmazonSfpShippingLabelDataRequest": "outbounds",
    "CreateIncomingGoodsBulkRequest": "inbounds",
    "CreateIncomingGoodsItemRequest": "inbounds",
    "CreateIncomingReturnItemRequest": "returns",
    "CreateAuthorizedShippingMethodRequest": "shipping_methods",
    "AuthorizedShippingMethod": "shipping_methods",
    "ChangeWarehouseRequest": "warehouses",
    "Picture": "products",
    "PictureData": "products",
    "CreateProductPicture": "products",
    "Identifier": "products",
    "Mpn": "products",
    "Specifications": "products",
    "BillOfMaterialsComponent": "products",
    "Price": "products",
    "RelatedProduct": "products",
    "CreateRelatedProductRequest": "products",
}

_KEYWORD_MODULE = [
    ("Changed", "changes"),
    ("Outbound", "outbounds"),
    ("Inbound", "inbounds"),
    ("Return", "returns"),
    ("Stock", "stocks"),
    ("ShippingMethod", "shipping_methods"),
    ("Warehouse", "warehouses"),
    ("Product", "products"),
    ("Merchant", "merchants"),
    ("Fulfiller", "merchants"),
    ("Authorization", "merchants"),
]


def module_of(name: str, schema: Schema) -> str:
    if "enum" in schema:
        return "enums"
    if name in _EXPLICIT_MODULE:
        return _EXPLICIT_MODULE[name]
    for word, module in _KEYWORD_MODULE:
        if word in name:
            # field-level change records of a domain live with the other change records
            if word == "Changed" and name.startswith(("ChangedReturn", "ChangedStock")):
                return "returns" if "Return" in name else "stocks"
            return module
    raise SystemExit(f"no module for schema {name!r}: add it to _EXPLICIT_MODULE")


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
        self.modules = {n: module_of(n, s) for n, s in schemas.items()}

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
            return f"list[{self.py_type(prop['items'], uses)}]"
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
                nullable = "enum" in target and bool(target.get("nullable"))
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

    def render_module(self, module: str, names: list[str]) -> str:
        uses: set[str] = set()
        bodies = []
        for name in names:
            schema = self.schemas[name]
            if "enum" in schema:
                bodies.append(self.render_enum(name, schema))
            else:
                bodies.append(self.render_class(name, schema, uses))
        body = "\n\n".join(bodies)
        head = [
            f'"""{MODULE_DOCS[module]}\n\n{GENERATED_NOTE}\n"""\n\n',
            "from __future__ import annotations\n\n",
        ]
        std = []
        if "enum.StrEnum" in body:
            std.append("import enum\n")
        if "dt." in body:
            std.append("import datetime as dt\n")
        if "Decimal" in body:
            std.append("from decimal import Decimal\n")
        typing_names = sorted({"Any"} & set(re.findall(r"\bAny\b", body)))
        foreign = sorted(u for u in uses if self.modules[u] != module)
        if foreign:
            typing_names.append("TYPE_CHECKING")
        if typing_names:
            std.append(f"from typing import {', '.join(sorted(typing_names))}\n")
        head += std
        if "attrs." in body:
            head.append("\nimport attrs\n")
        if "UNSET" in body:
            head.append("\nfrom ._base import UNSET\n")
        if foreign:
            head.append("\nif TYPE_CHECKING:\n")
            by_module: dict[str, list[str]] = {}
            for u in foreign:
                by_module.setdefault(self.modules[u], []).append(u)
            for mod in sorted(by_module):
                head.append(f"    from .{mod} import {', '.join(sorted(by_module[mod]))}\n")
        head.append(f"\n__all__ = {sorted(names)!r}\n\n\n")
        return "".join(head) + body

    def render_init(self, merchant: set[str]) -> str:
        by_module: dict[str, list[str]] = {}
        for name, module in self.modules.items():
            by_module.setdefault(module, []).append(name)
        names = sorted(self.modules)
        merchant_list = ", ".join(f"``{m}``" for m in sorted(merchant))
        views = ", ".join(f"``{m}``" for m in sorted(MERCHANT_VIEW))
        lines = [
            '"""Typed models of every FFN API schema, exported under the spec\'s names.\n\n'
            f"{len(names) - len(merchant)} classes come from the Fulfiller OpenAPI spec (dotted "
            "names: last segment); the merchant-only models are "
            f"{merchant_list}. The Fulfiller shapes {views} also carry the optional fields "
            "the merchant view adds (``fulfiller_id`` …): both APIs decode into the same classes."
            "\n\n"
            f"{GENERATED_NOTE}\n"
            '"""\n\n',
            "from __future__ import annotations\n\n",
            "from ._base import UNSET, is_set\n",
        ]
        for module in sorted(by_module):
            lines.append(f"from .{module} import {', '.join(sorted(by_module[module]))}\n")
        lines.append(f"\n__all__ = {sorted([*names, 'UNSET', 'is_set'])!r}\n")
        return "".join(lines)

    def render_all(self, merchant: set[str]) -> dict[str, str]:
        by_module: dict[str, list[str]] = {}
        for name in sorted(self.schemas, key=lambda n: (self.modules[n], n)):
            by_module.setdefault(self.modules[name], []).append(name)
        files = {f"{m}.py": self.render_module(m, names) for m, names in by_module.items()}
        files["__init__.py"] = self.render_init(merchant)
        return files


def _ruff_format(files: dict[str, str]) -> dict[str, str]:
    """Format with ruff (the project's formatter and config) in a scratch directory."""
    ruff = Path(sys.executable).with_name("ruff")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ffn_async" / "models"
        root.mkdir(parents=True)
        for rel, text in files.items():
            (root / rel).write_text(text)
        config = ["--config", str(REPO / "pyproject.toml")]
        paths = [str(root / rel) for rel in files]
        fix = [
            str(ruff),
            "check",
            "--fix-only",
            "--select",
            "I,UP,F401,RUF022",
            "--quiet",
            *config,
            *paths,
        ]
        subprocess.run(fix, check=False, capture_output=True)
        subprocess.run([str(ruff), "format", "--quiet", *config, *paths], check=True)
        return {rel: (root / rel).read_text() for rel in files}


def generate(spec_path: Path) -> dict[str, str]:
    spec = json.loads(spec_path.read_text())
    schemas, merchant = merged_schemas(spec)
    return _ruff_format(Renderer(schemas).render_all(merchant))


def _generated_files() -> Iterable[Path]:
    return (p for p in sorted(OUT.glob("*.py")) if p.name != "_base.py")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("spec", nargs="?", type=Path, default=DEFAULT_SPEC)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the committed models differ"
    )
    args = parser.parse_args(argv)
    if not args.spec.is_file():
        print(f"spec not found: {args.spec}", file=sys.stderr)
        return 2
    files = generate(args.spec)
    stale = [p for p in _generated_files() if p.name not in files]
    if args.check:
        bad = [
            rel
            for rel, text in files.items()
            if not (OUT / rel).is_file() or (OUT / rel).read_text() != text
        ]
        bad += [p.name for p in stale]
        if bad:
            print(
                f"models out of date: {', '.join(sorted(bad))}; run tools/generate_models.py",
                file=sys.stderr,
            )
            return 1
        print(f"models up to date ({len(files)} files)")
        return 0
    for path in stale:
        path.unlink()
    for rel, text in files.items():
        (OUT / rel).write_text(text)
    print(f"wrote {len(files)} files to {OUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
