"""Every operation against answers the fake server does not give, with aioresponses.

:mod:`tests.api.test_every_operation_live` calls every operation of both specs through its
typed method against the fake server over a real socket and checks the method, the encoded path,
the query, the body and the decoded result. What stays here, data-driven from
:data:`ffn_async.api.OPERATIONS`, is what the fake cannot show:

* ``test_every_parameter_and_full_answer``: a value for *every* operation-specific query
  parameter and every OData and feed option (the fake acts on them: ``relatedJfsku`` must name a
  product, ``$filter`` must match something), and a documented success answer with *every*
  property of the response schema filled plus unknown fields, decoded into the promised model
  with the paging metadata (the fake answers only with what it stores, in its own shape).
  Method, path, body and the bearer header are the live test's job and are not repeated here.
* ``test_documented_error_status_raises_its_typed_error``: each documented error status of
  each operation (400, 403, 404, 409, 410, 423) raised as its typed error with the FFN error
  code and metadata; the fake produces these only where its state leads to them.
* ``test_every_method_is_a_case``: every public method of the namespaces is registered.
"""

from __future__ import annotations

import base64
import datetime as dt
import importlib
import inspect
import re
from typing import Any
from urllib.parse import parse_qsl

import pytest

from ffn_async import FFNClient, errors
from ffn_async.api import OPERATIONS, Operation
from ffn_async.api.odata import F, desc
from ffn_async.api.pagination import ChangeFeed, ChunkedList, Page, Paginator
from ffn_async.codec import serialization
from ffn_async.errors import ErrorCode
from ffn_async.models._base import to_camel
from tests.http_mock import aioresponses
from tests.models.payloads import UNKNOWN_KEY, payload, without_unknown

ID = "ID 7/x y"
NUMBER = 3
WHEN = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC)
PICTURE = b"\x89PNG\r\n\x1a\n binary \x00\xff"
# Keyword arguments of the generated methods that are not operation-specific query parameters.
COMMON_KEYWORDS = {
    "timeout",
    "dest",
    "prefetch",
    "filter",
    "select",
    "order_by",
    "top",
    "skip",
    "from_date",
    "to_date",
    "page",
    "ignore_own_application_id",
    "ignore_own_user_id",
}

# (registry key, method name) for every method: the primary one and its twins.
CASES = [(key, name) for key, op in OPERATIONS.items() for name in (op.python, *op.also)]


def model(op: Operation, name: str) -> type:
    """A model class of the operation's API (``ffn_async.models.<api>``)."""
    cls: type = getattr(importlib.import_module(f"ffn_async.models.{op.api}"), name)
    return cls


def object_payload(op: Operation, name: str) -> dict[str, Any]:
    """A full payload of model ``name`` of the operation's API (an unknown field included)."""
    if op.api == "shared":  # no spec, no fixture: what integrations have seen, plus extras
        return {"userId": "MERC", "role": "Merchant", "isActive": True, UNKNOWN_KEY: 1}
    return payload(op.api, name)


def resolve(ffn: FFNClient, dotted: str) -> Any:
    """The method (or namespace) ``dotted`` names below ``ffn``: ``merchant.outbounds.get``."""
    target: Any = ffn
    for part in dotted.split("."):
        target = getattr(target, part)
    return target


def wire_value(value: Any) -> str:
    """A query value as it goes over the wire (and the server decodes it)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value.isoformat() if isinstance(value, dt.datetime) else str(value)


def value_for(annotation: str) -> Any:
    """A query value of the parameter's type (the annotation as written: ``bool | None``)."""
    values = {"bool": True, "int": 2, "str": "WH O'1", "dt.datetime": WHEN}
    return values[annotation.removesuffix(" | None")]


def call_args(method: Any, body: Any) -> tuple[list[Any], dict[str, Any]]:
    """Positional ids and body, and a value for every operation-specific query parameter."""
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for name, param in inspect.signature(method).parameters.items():
        if param.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD:
            args.append(body if name == "body" else NUMBER if name == "number" else ID)
        elif name not in COMMON_KEYWORDS:
            kwargs[name] = value_for(param.annotation)
    return args, kwargs


def response_for(op: Operation, name: str) -> tuple[int, Any]:
    item = object_payload(op, op.response_model) if op.response_model else None
    if op.kind == "page":
        return 200, {
            "items": [item, item],
            "_page": {"total": 1, "limit": 2, "offset": 4},
            "_links": {},
            "count": 2,
        }
    if op.kind == "feed":
        return 200, {
            "from": "2024-05-01T00:00:00+00:00",
            "to": "2024-05-06T07:08:09+00:00",
            "data": [item],
            "moreDataAvailable": False,
        }
    if op.kind == "chunks":
        return 200, {
            "date": "2024-05-06T07:08:09+00:00",
            "items": [item, item],
            "moreDataAvailable": False,
        }
    if op.kind == "array":
        return 200, [item, item]
    if op.kind == "none":
        return op.status or 204, None
    assert item is not None
    if name.endswith(".download"):
        item["data"] = base64.b64encode(PICTURE).decode()
    return op.status or 200, item


@pytest.mark.parametrize(
    ("key", "name"), CASES, ids=[f"{k}:{n.rsplit('.', 1)[-1]}" for k, n in CASES]
)
async def test_every_parameter_and_full_answer(
    key: str, name: str, ffn: FFNClient, http: aioresponses
) -> None:
    op = OPERATIONS[key]
    method = resolve(ffn, name)
    body = None
    if op.request_model:
        data = without_unknown(object_payload(op, op.request_model))
        body = serialization.structure(data, model(op, op.request_model))
    args, kwargs = call_args(method, body)
    query_kwargs = dict(kwargs)
    is_list = op.kind == "page"
    if is_list:
        kwargs.update(top=2, skip=4, filter=F("lastname").eq("O'Brien"), select=["a", "b/c"])
        kwargs["order_by"] = [desc("modificationInfo/createdAt")]
    if op.kind == "feed":
        kwargs.update(from_date=WHEN - dt.timedelta(days=5), to_date=WHEN, ignore_own_user_id=True)
    if op.kind == "chunks":
        kwargs.update(page=2)
        query_kwargs.update(page=2)

    if op.kind == "raw":
        http.add(re.compile(".*"), op.method, body=PICTURE, content_type="image/png")
    else:
        status, answer = response_for(op, name)
        if answer is None:
            http.add(re.compile(".*"), op.method, status=status, body=b"")
        else:
            http.add(re.compile(".*"), op.method, status=status, payload=answer)

    result = method(*args, **kwargs)
    if isinstance(result, Paginator):
        items = [item async for item in result]
        assert len(items) == 2
        result = items[0]
    elif isinstance(result, ChangeFeed):
        items = [item async for item in result]
        assert len(items) == 1
        assert result.to == WHEN
        result = items[0]
    elif isinstance(result, ChunkedList):
        items = [item async for item in result]
        assert len(items) == 2
        assert result.date == WHEN
        result = items[0]
    else:
        result = await result

    # The request: exactly one, with every parameter in the query.
    [((_, url), _)] = list(http.requests.items())
    query = dict(parse_qsl(url.raw_query_string, keep_blank_values=True))
    expected = {to_camel(k): wire_value(v) for k, v in query_kwargs.items()}
    if is_list:
        expected |= {
            "$top": "2",
            "$skip": "4",
            "$filter": "lastname eq 'O''Brien'",
            "$select": "a,b/c",
            "$orderBy": "modificationInfo/createdAt desc",
        }
    if op.kind == "feed":
        expected |= {
            "fromDate": "2024-05-01T07:08:09+00:00",
            "toDate": "2024-05-06T07:08:09+00:00",
            "ignoreOwnUserId": "true",
        }
    assert query == expected

    # The result: the promised type.
    if op.kind == "raw" or name.endswith(".download"):
        assert result == PICTURE
    elif op.kind == "none":
        assert result is None
    elif op.kind == "array":
        assert len(result) == 2
        assert isinstance(result[0], model(op, op.response_model or ""))
    elif isinstance(result, Page):
        assert isinstance(result.items[0], model(op, op.response_model or ""))
        assert (result.limit, result.offset, result.count) == (2, 4, 2)
    else:
        assert isinstance(result, model(op, op.response_model or ""))


async def consume(result: Any) -> Any:
    """Await a call, or walk what it returns (pages, feeds, chunked listings)."""
    if isinstance(result, Paginator | ChangeFeed | ChunkedList):
        return [item async for item in result]
    return await result


ERROR_CASES = [(key, status) for key, op in OPERATIONS.items() for status in op.errors]
ERROR_TYPES = {
    400: errors.BadRequest,
    403: errors.Forbidden,
    404: errors.NotFound,
    409: errors.Conflict,
    410: errors.Gone,
    423: errors.Locked,
}


@pytest.mark.parametrize(("key", "status"), ERROR_CASES, ids=[f"{k}:{s}" for k, s in ERROR_CASES])
async def test_documented_error_status_raises_its_typed_error(
    key: str, status: int, ffn: FFNClient, http: aioresponses
) -> None:
    op = OPERATIONS[key]
    method = resolve(ffn, op.python)
    body = None
    if op.request_model:
        data = without_unknown(object_payload(op, op.request_model))
        body = serialization.structure(data, model(op, op.request_model))
    args, kwargs = call_args(method, body)
    answer = {
        "errorCode": {"code": "Outbounds_OutboundNotFound", "description": "d"},
        "errorMessages": [{"message": "nope"}],
        "errorMetaData": {"Id": ID},
    }
    http.add(re.compile(".*"), op.method, status=status, payload=answer)
    with pytest.raises(ERROR_TYPES[status]) as info:
        await consume(method(*args, **kwargs))
    assert info.value.status == status
    assert info.value.code is ErrorCode.OUTBOUNDS_OUTBOUND_NOT_FOUND
    assert info.value.metadata == {"Id": ID}


def test_every_method_is_a_case() -> None:
    """Each public method of every namespace appears in the registry (nothing unregistered)."""
    from ffn_async.api import fulfiller, merchant, shared

    registered = {name for _, name in CASES}
    found = set()
    for module, api in ((fulfiller, "fulfiller"), (merchant, "merchant"), (shared, "shared")):
        root = getattr(module, f"{api.capitalize()}API")
        walk_namespaces(root, api, found)
    assert found == registered


def walk_namespaces(cls: type, prefix: str, found: set[str]) -> None:
    import typing

    for attr, value in vars(cls).items():
        if attr.startswith("_"):
            continue
        func = getattr(value, "func", None)
        if func is not None:
            child = typing.get_type_hints(func, vars(inspect.getmodule(cls)))["return"]
            walk_namespaces(child, f"{prefix}.{attr}", found)
        elif inspect.isfunction(value):
            found.add(f"{prefix}.{attr}")
