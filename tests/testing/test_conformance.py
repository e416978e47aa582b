"""Every operation of both specs against the fake, over a real socket, checked against the spec.

One scenario calls each merchant and fulfiller operation once (creating what later calls need),
sends request bodies that validate against the operation's request schema, and checks that the
answer has the operation's documented success status and a body that validates against its
response schema (``additionalProperties: false``: each API's shape, nothing more). A second
test provokes documented error answers (404, 400 duplicates, 403 locked, 410 expired, 423) and
validates those against ``ErrorResponse``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ffn_async.testing.pytest_plugin import RunningFake

from .raw_client import (
    ADDRESS,
    INVOICE,
    PICTURE,
    Caller,
    fulfiller_return_body,
    merchant_return_body,
    outbound_body,
    seed,
    shipping_label_body,
)
from .spec_check import operation, operations, shape, validation_errors

PNG = base64.b64encode(PICTURE).decode()
PDF = base64.b64encode(INVOICE).decode()
CANCEL = {"status": "Canceled", "cancelReasonCode": "CustomerRequest"}


@dataclass
class Step:
    """One call: ``api``, ``method`` and the spec's path template, filled from the context."""

    api: str
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    body: Any = None
    save: dict[str, Callable[[Any], Any]] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)  # path values for this call only


def m(method: str, path: str, **kw: Any) -> Step:
    return Step("merchant", method, f"/v1/merchant{path}", **kw)


def f(method: str, path: str, **kw: Any) -> Step:
    return Step("fulfiller", method, f"/v1/fulfiller{path}", **kw)


def version(key: str) -> dict[str, Callable[[Any], Any]]:
    """Save a return's ``objectVersion`` (its last modification time) under ``key``."""
    return {key: lambda r: r["modificationInfo"]["updatedAt"]}


def plan() -> list[Step]:
    """Every operation of both specs, in an order where each finds what it needs."""
    feed = {"fromDate": "2020-01-01T00:00:00Z"}
    outbound = outbound_body("ORDER-1")
    merchant_return = merchant_return_body()
    fulfiller_return = fulfiller_return_body()
    return [
        # ------------------------------------------------------------ merchant: accounts
        m("GET", "/fulfillers"),
        m("GET", "/fulfillers/updates", query=feed),
        m("GET", "/fulfillers/{fulfillerId}"),
        m(
            "POST",
            "/credentials/amazonSfp",
            body={"sellerId": "A1SELLER", "mwsAuthToken": "amzn.mws.1", "platform": "Amazon_de"},
            save={"credentialId": lambda r: r["credentialId"]},
        ),
        m("GET", "/credentials/amazonSfp"),
        m("GET", "/credentials/amazonSfp/{credentialId}"),
        m("GET", "/warehouses"),
        m("GET", "/warehouses/updates", query=feed),
        m("GET", "/warehouses/{warehouseId}"),
        m("GET", "/shippingmethods"),
        m("GET", "/shippingmethods/updates", query=feed),
        m("GET", "/shippingmethods/{shippingMethodId}"),
        # ------------------------------------------------------------ merchant: products
        m(
            "POST",
            "/products",
            body={"merchantSku": "SKU-2", "name": "Gadget", "identifier": {"ean": "4006381333931"}},
            save={"jfsku2": lambda r: r["jfsku"]},
        ),
        m("GET", "/products"),
        m("GET", "/products/updates", query=feed),
        m("GET", "/products/{jfsku2}"),
        m("PATCH", "/products/{jfsku2}", body={"name": "Gadget 2"}),
        m("POST", "/products/{jfsku2}/authorizations", body={"fulfillerId": "{fulfillerId}"}),
        m("POST", "/products/authorizations", body={"fulfillerId": "{fulfillerId}"}),
        m("GET", "/products/{jfsku2}/authorizations"),
        m("POST", "/products/{jfsku}/pictures", body={"data": PNG, "number": 1}),
        m("GET", "/products/{jfsku}/pictures/{number}"),
        m("GET", "/products/{jfsku}/pictures/{number}/data"),
        m(
            "POST",
            "/products/{jfsku}/related-products/condition",
            body={},
            save={"usedJfsku": lambda r: r["jfsku"]},
        ),
        # ------------------------------------------------------------ merchant: inbounds
        m(
            "POST",
            "/inbounds",
            body={
                "merchantInboundNumber": "IN-1",
                "warehouseId": "{warehouse}",
                "items": [{"inboundItemId": "1", "jfsku": "{jfsku}", "quantity": 10}],
            },
            save={"inboundId": lambda r: r["inboundId"]},
        ),
        m("GET", "/inbounds"),
        m("GET", "/inbounds/updates", query=feed),
        m("GET", "/inbounds/{inboundId}", ids={"inboundId": "IN-1"}),  # the merchant's number
        m("PATCH", "/inbounds/{inboundId}", body={"note": "second pallet"}),
        m(
            "POST",
            "/inbounds/{inboundId}/shipping-notifications",
            body={
                "merchantShippingNotificationNumber": "MSN-1",
                "items": [{"jfsku": "{jfsku}", "quantity": 10}],
            },
            save={"inboundNotificationId": lambda r: r["inboundShippingNotificationId"]},
        ),
        m("GET", "/inbounds/{inboundId}/shipping-notifications"),
        m("GET", "/inbounds/{inboundId}/shipping-notifications/{inboundNotificationId}"),
        m(
            "PATCH",
            "/inbounds/{inboundId}/shipping-notifications/{inboundNotificationId}",
            body={"note": "on the way"},
        ),
        m("GET", "/inbounds/shipping-notifications/updates", query=feed),
        # ------------------------------------------------------------ merchant: outbounds
        m(
            "POST",
            "/outbounds",
            query={"oversale": "true"},
            body=outbound,
            save={"outboundId": lambda r: r["outboundId"]},
        ),
        m("GET", "/outbounds"),
        m("GET", "/outbounds/updates", query=feed),
        m("GET", "/outbounds/{outboundId}", ids={"outboundId": "ORDER-1"}),  # the merchant's number
        m("PATCH", "/outbounds/{outboundId}", body={"internalNote": "gift wrap"}),
        m(
            "POST",
            "/outbounds/{outboundId}/attachments",
            body={"merchantDocumentId": "Rechnung RE-1", "documentType": "Invoice", "data": PDF},
        ),
        m("GET", "/outbounds/{outboundId}/attachments/{merchantDocumentId}"),
        # ------------------------------------------------------------ fulfiller: accounts
        f("GET", "/merchants"),
        f("GET", "/merchants/updates", query=feed),
        f("GET", "/merchants/{merchant}"),
        f("GET", "/authorizations"),
        f("GET", "/authorizations/updates", query=feed),
        f("GET", "/authorizations/{merchant}"),
        f(
            "POST",
            "/warehouses",
            body={"name": "Second warehouse", "address": ADDRESS},
            save={"warehouse2": lambda r: r["warehouseId"]},
        ),
        f("GET", "/warehouses"),
        f("GET", "/warehouses/updates", query=feed),
        f("GET", "/warehouses/{warehouse2}"),
        f("PATCH", "/warehouses/{warehouse2}", body={"name": "Overflow"}),
        f(
            "POST",
            "/shippingmethods",
            body={
                "name": "DHL Express",
                "fulfillerShippingMethodNumber": "DHL-EXP",
                "shippingType": "Expedited",
                "carrierName": "DHL",
            },
            save={"shippingMethod2": lambda r: r["shippingMethodId"]},
        ),
        f("GET", "/shippingmethods"),
        f("GET", "/shippingmethods/updates", query=feed),
        f("GET", "/shippingmethods/{shippingMethod2}"),
        f("PATCH", "/shippingmethods/{shippingMethod2}", body={"note": "until 14:00"}),
        f(
            "POST",
            "/authorizations/{merchant}/warehouses",
            body={
                "warehouseId": "{warehouse2}",
                "shippingMethods": [{"shippingMethodId": "{shippingMethodId}"}],
            },
        ),
        f(
            "POST",
            "/authorizations/{merchant}/warehouses/{warehouse2}/shippingMethods",
            body={"shippingMethodId": "{shippingMethod2}"},
        ),
        f(
            "DELETE",
            "/authorizations/{merchant}/warehouses/{warehouse2}/shippingMethods/{shippingMethod2}",
        ),
        f("DELETE", "/authorizations/{merchant}/warehouses/{warehouse2}"),
        f("DELETE", "/shippingmethods/{shippingMethod2}"),
        f("DELETE", "/warehouses/{warehouse2}"),
        # ------------------------------------------------------------ fulfiller: products, stock
        f("GET", "/products"),
        f("GET", "/products/updates", query=feed),
        f("GET", "/products/{jfsku}"),
        f("GET", "/products/{jfsku}/pictures/{number}"),
        f("GET", "/products/{jfsku}/pictures/{number}/data"),
        f(
            "POST",
            "/products/{jfsku}/related-products/condition",
            body={"condition": "Refurbished"},
        ),
        f(
            "POST",
            "/stocks/adjustments",
            body={
                "jfsku": "{jfsku}",
                "warehouseId": "{warehouse}",
                "quantity": 5,
                "fulfillerTimestamp": "2024-05-01T10:00:00+00:00",
            },
        ),
        f("GET", "/inbounds"),
        f("GET", "/inbounds/updates", query=feed),
        f("GET", "/inbounds/{inboundId}"),
        f("GET", "/inbounds/{inboundId}/shipping-notifications"),
        f("GET", "/inbounds/{inboundId}/shipping-notifications/{inboundNotificationId}"),
        f("GET", "/inbounds/shipping-notifications/updates", query=feed),
        f(
            "POST",
            "/inbounds/{inboundId}/incoming-goods",
            body={
                "jfsku": "{jfsku}",
                "warehouseId": "{warehouse}",
                "quantity": 4,
                "fulfillerTimestamp": "2024-05-01T10:00:00+00:00",
            },
        ),
        f(
            "POST",
            "/inbounds/{inboundId}/incoming-goods/bulk",
            body={
                "items": [
                    {
                        "jfsku": "{jfsku}",
                        "warehouseId": "{warehouse}",
                        "quantity": 6,
                        "fulfillerTimestamp": "2024-05-01T10:05:00+00:00",
                    }
                ]
            },
        ),
        f("PUT", "/inbounds/{inboundId}/close"),
        f("GET", "/stocks"),
        f("GET", "/stocks/updates", query=feed),
        f("GET", "/stocks/{jfsku}"),
        f("GET", "/stocks/{jfsku}/{warehouse}"),
        f("GET", "/stocks/changes"),
        f("GET", "/stocks/changes/{warehouse}"),
        f("GET", "/stocks/warehouse/{warehouse}"),
        # ------------------------------------------------------------ fulfiller: outbounds
        f("GET", "/outbounds"),
        f("GET", "/outbounds/updates", query=feed),
        f("GET", "/outbounds/{outboundId}", save=version("outboundVersion")),
        f("GET", "/outbounds/{outboundId}/attachments/{merchantDocumentId}"),
        f(
            "PUT",
            "/outbounds/{outboundId}/status",
            query={"objectVersion": "{outboundVersion}"},
            body={"status": "Acknowledged"},
        ),
        f("PUT", "/outbounds/{outboundId}/warehouse", body={"warehouseId": "{warehouse}"}),
        f(
            "POST",
            "/outbounds/status",
            body={"items": [{"outboundId": "{outboundId}", "status": "Pickprocess"}]},
        ),
        f(
            "POST",
            "/outbounds/{outboundId}/shipping-labels",
            body=shipping_label_body(),
            save={"labelId": lambda r: r["shippingLabelId"]},
        ),
        f("GET", "/outbounds/{outboundId}/shipping-labels/{labelId}"),
        f(
            "POST",
            "/outbounds/{outboundId}/shipping-notifications",
            body={
                "fulfillerShippingNotificationNumber": "SN-1",
                "items": [{"jfsku": "{jfsku}", "quantity": 2}],
                "packages": [
                    {
                        "freightOption": "Parcel",
                        "identifier": [],
                        "shippingDate": "2024-05-01T12:00:00+00:00",
                        "shippingMethodId": "{shippingMethodId}",
                    }
                ],
            },
            save={"outboundNotificationId": lambda r: r["outboundShippingNotificationId"]},
        ),
        f("GET", "/outbounds/{outboundId}/shipping-notifications"),
        f("GET", "/outbounds/{outboundId}/shipping-notifications/{outboundNotificationId}"),
        # ------------------------------------------------------------ merchant: after shipping
        m("GET", "/outbounds/{outboundId}/shipping-notifications"),
        m("GET", "/outbounds/{outboundId}/shipping-notifications/{outboundNotificationId}"),
        m("GET", "/outbounds/shipping-notifications/updates", query=feed),
        m("DELETE", "/outbounds/{outboundId}/attachments/{merchantDocumentId}"),
        m(
            "POST",
            "/outbounds",
            body={**outbound, "merchantOutboundNumber": "ORDER-2"},
            save={"outbound2": lambda r: r["outboundId"]},
        ),
        m("PUT", "/outbounds/{outboundId}/status", ids={"outboundId": "ORDER-2"}, body=CANCEL),
        m("GET", "/stocks"),
        m("GET", "/stocks/updates", query=feed),
        m("GET", "/stocks/{jfsku}"),
        m("GET", "/stocks/{jfsku}/{warehouse}"),
        m("GET", "/stocks/changes"),
        m("GET", "/stocks/complete", query={"includeBillOfMaterials": "true"}),
        m("GET", "/stocks/warehouse/{warehouse}"),
        m("PUT", "/inbounds/{inboundId}/close"),
        m("DELETE", "/inbounds/{inboundId}/shipping-notifications/{inboundNotificationId}"),
        # ------------------------------------------------------------ merchant: returns
        m("POST", "/returns", body=merchant_return, save={"returnId": lambda r: r["returnId"]}),
        m("GET", "/returns"),
        m("GET", "/returns/updates", query=feed),
        m(
            "GET",
            "/returns/{returnId}",
            save={
                **version("v1"),
                "returnItemId": lambda r: r["items"][0]["returnItemId"],
            },
        ),
        m(
            "PATCH",
            "/returns/{returnId}",
            query={"objectVersion": "{v1}"},
            body={"internalNote": "customer called"},
        ),
        m("GET", "/returns/{returnId}", save=version("v2")),
        m(
            "POST",
            "/returns/{returnId}/items/{returnItemId}",
            query={"objectVersion": "{v2}"},
            body={"quantity": 1},
            save={"splitItemId": lambda r: r["returnItemId"]},
        ),
        m("GET", "/returns/{returnId}/items/{splitItemId}"),
        m(
            "POST",
            "/returns/{returnId}/items",
            body={"jfsku": "{jfsku}", "quantity": 1, "reason": "WrongItemSent"},
            save={"addedItemId": lambda r: r["returnItemId"]},
        ),
        m(
            "PATCH",
            "/returns/{returnId}/items/{addedItemId}",
            body={"reasonNote": "ordered the blue one"},
        ),
        m("DELETE", "/returns/{returnId}/items/{addedItemId}"),
        m("GET", "/returns/{returnId}", save=version("v3")),
        m("PUT", "/returns/{returnId}/lock", query={"objectVersion": "{v3}"}),
        m("PUT", "/returns/{returnId}/unlock"),
        m("GET", "/returns/changes", query=feed),
        m("GET", "/returns/{returnId}/changes", query=feed),
        # ------------------------------------------------------------ fulfiller: returns
        f("POST", "/returns", body=fulfiller_return, save={"fReturnId": lambda r: r["returnId"]}),
        f("GET", "/returns"),
        f("GET", "/returns/updates", query=feed),
        f(
            "GET",
            "/returns/{fReturnId}",
            save={"fItemId": lambda r: r["items"][0]["returnItemId"]},
        ),
        f("PATCH", "/returns/{fReturnId}", body={"externalNote": "box damaged"}),
        f("POST", "/returns/{fReturnId}/items/{fItemId}", body={"quantity": 1}),
        f("GET", "/returns/{fReturnId}/items/{fItemId}"),
        f(
            "POST",
            "/returns/{fReturnId}/items",
            body={"jfsku": "{jfsku}", "quantity": 1},
            save={"fAddedItemId": lambda r: r["returnItemId"]},
        ),
        f("DELETE", "/returns/{fReturnId}/items/{fAddedItemId}"),
        f("PATCH", "/returns/{fReturnId}/items/{fItemId}", body={"state": "Arrived"}),
        f(
            "POST",
            "/returns/{fReturnId}/items/{fItemId}/incomming-goods",
            body={
                "warehouseId": "{warehouse}",
                "quantity": 2,
                "fulfillerTimestamp": "2024-05-02T09:00:00+00:00",
            },
        ),
        f("PUT", "/returns/{fReturnId}/lock"),
        f("PUT", "/returns/{fReturnId}/unlock"),
        f("GET", "/returns/changes", query=feed),
        f("GET", "/returns/{fReturnId}/changes", query=feed),
        f("DELETE", "/returns/{fReturnId}"),
        m("DELETE", "/returns/{returnId}"),
        # ------------------------------------------------------------ merchant: clean-up
        m("DELETE", "/products/{jfsku}/pictures/{number}"),
        m("DELETE", "/products/{jfsku2}/authorizations/{fulfillerId}"),
        m("DELETE", "/products/{jfsku2}"),
        m("DELETE", "/credentials/amazonSfp/{credentialId}"),
    ]


def fill(value: Any, ctx: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format_map(ctx) if "{" in value else value
    if isinstance(value, list):
        return [fill(v, ctx) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, ctx) for k, v in value.items()}
    return value


def fill_path(template: str, ctx: dict[str, str]) -> str:
    """The path with each ``{name}`` replaced by its percent-encoded value."""
    segments = []
    for segment in template.split("/"):
        filled = segment.format_map(ctx) if "{" in segment else segment
        segments.append(quote(filled, safe=""))
    return "/".join(segments)


def check(api: str, op: dict[str, Any], status: int, content_type: str, raw: bytes) -> list[str]:
    """Problems with one answer: undocumented status, wrong media type, schema errors."""
    documented = op["responses"].get(str(status))
    if documented is None:
        return [f"status {status} is not documented ({sorted(op['responses'])}): {raw[:300]!r}"]
    if not documented:
        return [] if not raw else [f"status {status} documents no body, got {raw[:100]!r}"]
    if content_type not in documented:
        return [f"content type {content_type}, documented {sorted(documented)}"]
    schema = documented[content_type]
    if content_type != "application/json":
        return [] if raw else ["empty binary body"]
    return validation_errors(api, schema, json.loads(raw))


def test_the_plan_calls_every_operation_of_both_specs_once() -> None:
    planned = sorted((s.api, s.method, shape(s.path)) for s in plan())
    documented = sorted((api, op["method"], shape(op["path"])) for api, op in operations())
    assert len(documented) == 74 + 73
    missing = set(documented) - set(planned)
    assert not missing
    # `GET` of an id by the merchant's own number is the same operation with another value.
    assert len(set(planned)) == len(documented)


async def test_every_operation_answers_as_documented(ffn_fake: RunningFake, call: Caller) -> None:
    ctx = seed(ffn_fake)
    failures: list[str] = []
    for step in plan():
        op = operation(step.api, step.method, step.path)
        success = next(int(s) for s in op["responses"] if s.startswith("2"))
        body = fill(step.body, ctx)
        if op["requestBody"] is not None:
            schema = op["requestBody"]["content"]["application/json"]
            for problem in validation_errors(step.api, schema, body):
                failures.append(f"{step.api} {step.method} {step.path}: REQUEST {problem}")
        status, content_type, raw = await call(
            step.method, fill_path(step.path, {**ctx, **step.ids}), fill(step.query, ctx), body
        )
        label = f"{step.api} {step.method} {step.path}"
        if status != success:
            failures.append(f"{label}: {status} instead of {success}: {raw[:300]!r}")
            continue
        failures += [f"{label}: {p}" for p in check(step.api, op, status, content_type, raw)]
        if step.save:
            answer = json.loads(raw)
            for key, get in step.save.items():
                ctx[key] = str(get(answer))
    assert not failures, "\n".join(failures)


@dataclass
class Refusal:
    """A call the fake must refuse with a documented status and FFN error code."""

    step: Step
    status: int
    code: str


def refusals() -> list[Refusal]:
    """Documented error answers: missing objects, duplicates, locks, versions, expiry."""
    outbound = {
        "merchantOutboundNumber": "ORDER-1",
        "warehouseId": "{warehouse}",
        "currency": "EUR",
        "shippingAddress": ADDRESS,
        "items": [{"outboundItemId": "1", "jfsku": "{jfsku}", "quantity": 1}],
    }
    merchant_return = {
        "merchantReturnNumber": "RET-1",
        "warehouseId": "{warehouse}",
        "customerAddress": ADDRESS,
        "items": [{"jfsku": "{jfsku}", "quantity": 2}],
    }
    missing = "MERC02ZZZZ"
    return [
        Refusal(
            m("GET", "/outbounds/{outboundId}", ids={"outboundId": missing}),
            404,
            "Outbounds_OutboundNotFound",
        ),
        Refusal(
            f("GET", "/outbounds/{outboundId}", ids={"outboundId": missing}),
            404,
            "Outbounds_OutboundNotFound",
        ),
        Refusal(
            m("GET", "/products/{jfsku}", ids={"jfsku": "MERC01ZZZZZ"}),
            404,
            "Products_ProductNotFound",
        ),
        Refusal(
            m("GET", "/inbounds/{inboundId}", ids={"inboundId": "NOPE"}),
            404,
            "Inbounds_InboundNotFound",
        ),
        Refusal(
            m("GET", "/returns/{returnId}", ids={"returnId": "NOPE"}), 404, "Returns_ReturnNotFound"
        ),
        Refusal(
            f("GET", "/warehouses/{warehouseId}", ids={"warehouseId": "FULF04ZZ-00000-0001"}),
            404,
            "Warehouses_WarehouseNotFound",
        ),
        Refusal(
            m("GET", "/shippingmethods/{shippingMethodId}", ids={"shippingMethodId": "NOPE"}),
            404,
            "ShippingMethods_ShippingMethodNotFound",
        ),
        Refusal(
            m("GET", "/credentials/amazonSfp/{credentialId}", ids={"credentialId": "NOPE"}),
            404,
            "Credentials_CredentialNotFound",
        ),
        Refusal(
            m("GET", "/products/{jfsku}/pictures/{number}", ids={"number": "9"}),
            404,
            "Products_PictureNotFound",
        ),
        # Duplicates: a create that already happened is refused with the existing object's id.
        Refusal(
            m(
                "POST",
                "/products",
                body={"merchantSku": "SKU-1", "name": "Again", "identifier": {}},
            ),
            400,
            "Products_DuplicateProduct",
        ),
        Refusal(m("POST", "/outbounds", body=outbound), 400, "Outbounds_NotCanceledOutboundExists"),
        Refusal(
            m(
                "POST",
                "/inbounds",
                body={
                    "merchantInboundNumber": "IN-1",
                    "warehouseId": "{warehouse}",
                    "items": [{"inboundItemId": "1", "jfsku": "{jfsku}", "quantity": 1}],
                },
            ),
            400,
            "Inbounds_DuplicateInbound",
        ),
        Refusal(m("POST", "/returns", body=merchant_return), 400, "Returns_DuplicateReturn"),
        Refusal(
            m(
                "POST",
                "/credentials/amazonSfp",
                body={"sellerId": "A1SELLER", "mwsAuthToken": "t", "platform": "Amazon_de"},
            ),
            400,
            "Credentials_DuplicateCredential",
        ),
        Refusal(
            m("POST", "/products/{jfsku}/pictures", body={"data": PNG, "number": 1}),
            400,
            "Products_PictureWithNumberAlreadyExists",
        ),
        Refusal(
            m(
                "POST",
                "/outbounds/{outboundId}/attachments",
                body={
                    "merchantDocumentId": "Rechnung RE-1",
                    "documentType": "Invoice",
                    "data": PDF,
                },
            ),
            400,
            "Outbounds_DuplicateAttachmentId",
        ),
        # Creation in progress elsewhere (the test locks ORDER-LOCKED first).
        Refusal(
            m("POST", "/outbounds", body={**outbound, "merchantOutboundNumber": "ORDER-LOCKED"}),
            423,
            "Outbounds_OutboundCreationIsLocked",
        ),
        # Returns: a stale objectVersion, then the fulfiller's lock seen by the merchant.
        Refusal(
            m(
                "PATCH",
                "/returns/{returnId}",
                query={"objectVersion": "2020-01-01T00:00:00+00:00"},
                body={"internalNote": "x"},
            ),
            400,
            "Shared_OutdatedObject",
        ),
        Refusal(f("PUT", "/returns/{returnId}/lock"), 204, ""),
        Refusal(
            m("PATCH", "/returns/{returnId}", body={"internalNote": "x"}),
            403,
            "Returns_ReturnIsLocked",
        ),
        Refusal(m("PUT", "/returns/{returnId}/unlock"), 403, "Returns_ReturnIsLocked"),
        Refusal(
            m("POST", "/returns/{returnId}/items/{returnItemId}", body={"quantity": 1}),
            403,
            "Returns_ReturnIsLocked",
        ),
        Refusal(f("PUT", "/returns/{returnId}/unlock"), 204, ""),
        Refusal(
            m("POST", "/returns/{returnId}/items/{returnItemId}", body={"quantity": 5}),
            400,
            "Returns_NotEnoughQuantity",
        ),
        # Too late to cancel: 403 on the merchant API.
        Refusal(
            f("PUT", "/outbounds/{outboundId}/status", body={"status": "Pickprocess"}), 204, ""
        ),
        Refusal(
            m("PUT", "/outbounds/{outboundId}/status", body=CANCEL),
            403,
            "Outbounds_OutboundStatusChangeForbidden",
        ),
        Refusal(
            f(
                "PUT",
                "/outbounds/{outboundId}/status",
                query={"objectVersion": "2020-01-01T00:00:00+00:00"},
                body={"status": "Locked"},
            ),
            400,
            "Shared_OutdatedObject",
        ),
        Refusal(
            f(
                "POST",
                "/outbounds/{outboundId}/shipping-notifications",
                body={
                    "fulfillerShippingNotificationNumber": "SN-X",
                    "items": [{"jfsku": "{jfsku}", "quantity": 5}],
                    "packages": [
                        {
                            "freightOption": "Parcel",
                            "identifier": [],
                            "shippingDate": "2024-05-01T12:00:00+00:00",
                            "shippingMethodId": "{shippingMethodId}",
                        }
                    ],
                },
            ),
            400,
            "Outbounds_OutboundShippingNotificationNotEnoughQuantityOpen",
        ),
        Refusal(
            f(
                "GET",
                "/outbounds/{outboundId}/shipping-labels/{shippingLabelId}",
                ids={"shippingLabelId": "nope"},
            ),
            404,
            "Outbounds_OutboundShippingLabelNotFound",
        ),
        Refusal(
            f(
                "GET",
                "/outbounds/{outboundId}/attachments/{merchantDocumentId}",
                ids={"merchantDocumentId": "nope"},
            ),
            404,
            "Outbounds_OutboundAttachmentNotFound",
        ),
        Refusal(
            f(
                "POST",
                "/stocks/adjustments",
                body={
                    "jfsku": "MERC01ZZZZZ",
                    "warehouseId": "{warehouse}",
                    "quantity": 1,
                    "fulfillerTimestamp": "2024-05-01T10:00:00+00:00",
                },
            ),
            404,
            "Products_ProductNotFound",
        ),
        Refusal(
            f(
                "POST",
                "/authorizations/{merchantId}/warehouses",
                body={
                    "warehouseId": "{warehouse}",
                    "shippingMethods": [{"shippingMethodId": "{shippingMethodId}"}],
                },
            ),
            400,
            "Warehouses_WarehouseAlreadyAuthorized",
        ),
        Refusal(
            f(
                "POST",
                "/authorizations/{merchantId}/warehouses/{warehouseId}/shippingMethods",
                body={"shippingMethodId": "{shippingMethodId}"},
            ),
            400,
            "Authorizations_ShippingMethodAuthorizationExists",
        ),
        Refusal(
            m("PATCH", "/outbounds/{outboundId}", body={"externalNote": "late"}),
            403,
            "Outbounds_OutboundUpdateForbidden",
        ),
        Refusal(m("DELETE", "/products/{jfsku}"), 400, "Stocks_QuantityNotZero"),
        # Attachments: 410 once deleted (and, below, once expired).
        Refusal(m("DELETE", "/outbounds/{outboundId}/attachments/{merchantDocumentId}"), 204, ""),
        Refusal(
            m("GET", "/outbounds/{outboundId}/attachments/{merchantDocumentId}"),
            410,
            "Outbounds_OutboundAttachmentDeleted",
        ),
        Refusal(
            m("DELETE", "/outbounds/{outboundId}/attachments/{merchantDocumentId}"),
            410,
            "Outbounds_OutboundAttachmentDeleted",
        ),
        Refusal(
            m(
                "GET",
                "/outbounds/{outboundId}/attachments/{merchantDocumentId}",
                ids={"merchantDocumentId": "nope"},
            ),
            404,
            "Outbounds_AttachmentNotFound",
        ),
    ]


async def test_refusals_answer_documented_statuses_and_error_shapes(
    ffn_fake: RunningFake, call: Caller
) -> None:
    ctx = seed(ffn_fake)
    api = ffn_fake.server.api
    # What the refusals collide with.
    jfsku = ctx["jfsku"]
    for step in (
        m(
            "POST",
            "/outbounds",
            body={
                "merchantOutboundNumber": "ORDER-1",
                "warehouseId": ctx["warehouse"],
                "currency": "EUR",
                "shippingAddress": ADDRESS,
                "items": [{"jfsku": jfsku, "quantity": 1}],
            },
            save={"outboundId": lambda r: r["outboundId"]},
        ),
        m(
            "POST",
            "/inbounds",
            body={
                "merchantInboundNumber": "IN-1",
                "warehouseId": ctx["warehouse"],
                "items": [{"jfsku": jfsku, "quantity": 1}],
            },
        ),
        m(
            "POST",
            "/returns",
            body={
                "merchantReturnNumber": "RET-1",
                "warehouseId": ctx["warehouse"],
                "customerAddress": ADDRESS,
                "items": [{"jfsku": jfsku, "quantity": 2}],
            },
            save={
                "returnId": lambda r: r["returnId"],
                "returnItemId": lambda r: r["items"][0]["returnItemId"],
            },
        ),
        m(
            "POST",
            "/credentials/amazonSfp",
            body={"sellerId": "A1SELLER", "mwsAuthToken": "t", "platform": "Amazon_de"},
        ),
        m("POST", "/products/{jfsku}/pictures", body={"data": PNG, "number": 1}),
        m(
            "POST",
            "/outbounds/{outboundId}/attachments",
            body={"merchantDocumentId": "Rechnung RE-1", "documentType": "Invoice", "data": PDF},
        ),
    ):
        status, _, raw = await call(step.method, fill_path(step.path, ctx), None, step.body)
        assert status == 201, raw
        for key, get in step.save.items():
            ctx[key] = str(get(json.loads(raw)))
    api.lock_outbound_creation("ORDER-LOCKED")
    ctx["merchantId"] = ctx["merchant"]

    failures = []
    for refusal in refusals():
        step = refusal.step
        op = operation(step.api, step.method, step.path)
        status, content_type, raw = await call(
            step.method,
            fill_path(step.path, {**ctx, **step.ids}),
            fill(step.query, ctx),
            fill(step.body, ctx),
        )
        label = f"{step.api} {step.method} {step.path} -> {refusal.code or refusal.status}"
        if status != refusal.status:
            failures.append(f"{label}: {status}: {raw[:300]!r}")
            continue
        failures += [f"{label}: {p}" for p in check(step.api, op, status, content_type, raw)]
        if refusal.code and json.loads(raw)["errorCode"]["code"] != refusal.code:
            failures.append(f"{label}: code {json.loads(raw)['errorCode']['code']}")
    assert not failures, "\n".join(failures)


async def test_an_attachment_answers_410_once_expired(ffn_fake: RunningFake, call: Caller) -> None:
    ctx = seed(ffn_fake)
    body = {
        "merchantOutboundNumber": "EXP-1",
        "warehouseId": ctx["warehouse"],
        "currency": "EUR",
        "shippingAddress": ADDRESS,
        "items": [{"jfsku": ctx["jfsku"], "quantity": 1}],
    }
    _, _, raw = await call("POST", "/v1/merchant/outbounds", None, body)
    outbound_id = json.loads(raw)["outboundId"]
    path = f"/v1/merchant/outbounds/{outbound_id}/attachments"
    document = {"merchantDocumentId": "INV-1", "documentType": "Invoice", "data": PDF}
    status, _, raw = await call("POST", path, None, document)
    attachment = json.loads(raw)
    assert (status, attachment["mimeType"], attachment["size"]) == (201, "application/pdf", 21)
    status, _, raw = await call("GET", f"/v1/fulfiller/outbounds/{outbound_id}/attachments/INV-1")
    assert (status, json.loads(raw)["data"]) == (200, PDF)
    ffn_fake.server.clock.advance(91 * 24 * 3600)
    call.token = str(ffn_fake.server.issue_token()["access_token"])  # the old one expired too
    for side in ("merchant", "fulfiller"):
        status, content_type, raw = await call(
            "GET", f"/v1/{side}/outbounds/{outbound_id}/attachments/INV-1"
        )
        assert status == 410
        assert json.loads(raw)["errorCode"]["code"] == "Outbounds_AttachmentIsNoLongerAvailable"
        op = operation(side, "GET", f"/v1/{side}/outbounds/{{}}/attachments/{{}}")
        assert check(side, op, status, content_type, raw) == []


def test_the_fake_serves_nothing_the_specs_do_not_have() -> None:
    """Every API route is a spec operation (or the Shared API's ``users/current``)."""
    from ffn_async.testing.api import FakeAPI

    served = {(r.method, shape(r.path)) for r in FakeAPI().routes()}
    documented = {(op["method"], shape(op["path"])) for _, op in operations()}
    assert served - documented == {("GET", "/v1/users/current")}
    assert documented - served == set()
