"""Every operation of the registry, called once through its typed method against aioresponses.

For each operation the test checks the HTTP method, the path with percent-encoded parameters
(ids contain a space and a slash), the query, the JSON body (the request model as encoded by the
converter), and that a realistic response (spec examples, plus an unknown field) decodes into the
promised model.
"""

from __future__ import annotations

import base64
import datetime as dt
import inspect
import re
from typing import Any
from urllib.parse import parse_qsl, quote

import orjson
import pytest

from ffn_async import FFNClient, models, serialization
from ffn_async.api import OPERATIONS, Operation
from ffn_async.odata import F, desc
from ffn_async.pagination import ChangeFeed, Page, Paginator
from tests.http_mock import aioresponses
from tests.models.payloads import PayloadBuilder, load_schemas

ID = "ID 7/x y"
NUMBER = 3
WHEN = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC)
PICTURE = b"\x89PNG\r\n\x1a\n binary \x00\xff"
UNKNOWN = "someFieldFromTheFuture"

# (operation id, method name) for every method: the primary one and its twins.
CASES = [(op.operation_id, name) for op in OPERATIONS.values() for name in (op.python, *op.also)]


@pytest.fixture(scope="module")
def builder() -> PayloadBuilder:
    return PayloadBuilder(load_schemas())


def resolve(ffn: FFNClient, dotted: str) -> Any:
    target: Any = ffn
    for part in dotted.split("."):
        target = getattr(target, part)
    return target


def expected_path(op: Operation) -> str:
    def fill(match: re.Match[str]) -> str:
        return str(NUMBER) if match.group(1) == "number" else quote(ID, safe="")

    return "/api" + re.sub(r"{(\w+)}", fill, op.path)


WIRE = {
    "object_version": "objectVersion",
    "date": "date",
    "oversale": "oversale",
    "referenced_warehouse": "referencedWarehouse",
}


def wire_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value.isoformat() if isinstance(value, dt.datetime) else str(value)


def call_args(method: Any, op: Operation, body: Any) -> tuple[list[Any], dict[str, Any]]:
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for name, param in inspect.signature(method).parameters.items():
        if param.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD:
            args.append(body if name == "body" else NUMBER if name == "number" else ID)
        elif name in ("object_version", "date"):
            kwargs[name] = WHEN
        elif name == "oversale":
            kwargs[name] = True
        elif name == "referenced_warehouse":
            kwargs[name] = "WH O'1"
    return args, kwargs


def response_for(op: Operation, name: str, builder: PayloadBuilder) -> tuple[int, Any]:
    item = builder.object(op.response_model) if op.response_model else None
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
    if op.kind == "array":
        return 200, [item, item]
    if op.kind == "none":
        return 204, None
    assert item is not None
    if name.endswith(".download"):
        item["data"] = base64.b64encode(PICTURE).decode()
    return (201 if op.method == "POST" else 200), item


@pytest.mark.parametrize(
    ("op_id", "name"), CASES, ids=[f"{o}:{n.rsplit('.', 1)[-1]}" for o, n in CASES]
)
async def test_operation(
    op_id: str, name: str, ffn: FFNClient, http: aioresponses, builder: PayloadBuilder
) -> None:
    op = OPERATIONS[op_id]
    method = resolve(ffn, name)
    body = None
    if op.request_model:
        body = serialization.structure(
            builder.object(op.request_model, extra=False), getattr(models, op.request_model)
        )
    args, kwargs = call_args(method, op, body)
    is_list = op.kind == "page"
    if is_list:
        kwargs.update(top=2, skip=4, filter=F("lastname").eq("O'Brien"), select=["a", "b/c"])
        kwargs["order_by"] = [desc("modificationInfo/createdAt")]
    if op.kind == "feed":
        kwargs.update(from_date=WHEN - dt.timedelta(days=5), to_date=WHEN, ignore_own_user_id=True)

    if op.kind == "raw":
        http.add(re.compile(".*"), op.method, body=PICTURE, content_type="image/png")
    else:
        status, payload = response_for(op, name, builder)
        if payload is None:
            http.add(re.compile(".*"), op.method, status=status, body=b"")
        else:
            http.add(re.compile(".*"), op.method, status=status, payload=payload)

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
    else:
        result = await result

    # The request: exactly one, with the right method, encoded path, query and body.
    [(key, calls)] = list(http.requests.items())
    sent_method, url = key
    assert sent_method == op.method
    assert url.raw_path == expected_path(op)
    assert url.origin() == ffn.environment.api_url.origin()
    query = dict(parse_qsl(url.raw_query_string, keep_blank_values=True))
    expected: dict[str, str] = {WIRE[k]: wire_value(v) for k, v in kwargs.items() if k in WIRE}
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
    sent_kwargs = calls[0].kwargs
    assert sent_kwargs["headers"]["Authorization"] == "Bearer test-access-token"
    if body is None:
        assert sent_kwargs["data"] is None
    else:
        assert orjson.loads(sent_kwargs["data"]) == orjson.loads(serialization.dumps(body))

    # The result: the promised type.
    if op.kind == "raw" or name.endswith(".download"):
        assert result == PICTURE
    elif op.kind == "none":
        assert result is None
    elif op.kind == "array":
        assert len(result) == 2
        assert isinstance(result[0], getattr(models, op.response_model))
    elif isinstance(result, Page):
        assert isinstance(result.items[0], getattr(models, op.response_model))
        assert (result.limit, result.offset, result.count) == (2, 4, 2)
    else:
        assert isinstance(result, getattr(models, op.response_model))


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
