"""Safe creates: a create retried after a lost answer never makes a second object.

FFN has no idempotency keys, but it has the next best thing: every create carries the
merchant's own number (``merchantOutboundNumber``, ``merchantSku``, …), the server refuses a
second object with the same number (``Outbounds_NotCanceledOutboundExists``,
``Products_DuplicateProduct``, …), and the object can be found by that number. So after an
*ambiguous* failure — the request was sent and the answer lost (timeout, reset, 5xx) — or a
423 (another creation is in progress), a safe create looks the object up; if it is there, that
is the result; if not, the create is sent again, and should the lost attempt land after all,
the duplicate refusal leads to the look-up.

Which kinds are safe, how each is found and which codes mean "already exists" is the table
:data:`KINDS` (one :class:`CreateKind` each). A safe create is a step above the client's
pipeline, taken explicitly: the generated ``create`` methods of these kinds, and
:meth:`~ffn_async.FFNClient.request` / ``request_raw`` for a ``POST`` to their paths, ask
:func:`safe_kind` and call :func:`create_response`, which builds the POST once and sends it
(and its look-ups) through the client's ``send`` with the caller's ``decode``; the answer is
decoded inside the pipeline like every other. ``FFNClient(safe_creates=False)`` or
``safe_create=False`` on a call sends a create once, like any other POST.
:func:`create` is the typed entry point that also says what happened (:class:`Created`).

Limits: the guarantee holds while one merchant number names one object. Reusing the number
of a *cancelled* outbound is how FFN expects a re-order; a cancelled outbound is never taken as
the result. Two callers creating the same number at the same moment get one object and both
get it as their result. Waits between tries follow the client's :class:`~ffn_async.RetryPolicy`.
"""

from __future__ import annotations

import enum
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, Generic, TypeAlias, TypeGuard, TypeVar

import attrs
import msgspec
import orjson

from .. import retry as _retry
from ..errors import ApiError, ErrorCode, Locked, NotFound, ServerError, TransportError
from ..http._requester import Request, Response
from ..models import merchant as m
from ..models.common import OutboundStatusType
from ..observe._logfields import account_of, logger
from . import odata, operation_for

if TYPE_CHECKING:
    from ..http._requester import Requester

__all__ = [
    "INBOUND",
    "INBOUND_SHIPPING_NOTIFICATION",
    "KINDS",
    "OUTBOUND",
    "PRODUCT",
    "RETURN",
    "CreateKind",
    "CreateOutcome",
    "Created",
    "create",
    "create_response",
    "kind_for_path",
    "safe_kind",
]

log = logger("ffn_async.creates")  # the 0.2.0 name: logging configurations name it

B = TypeVar("B")
T = TypeVar("T")

_READ: Final = "ffn.merchant.read"
_WRITE: Final = "ffn.merchant.write"

Found: TypeAlias = "tuple[Any] | None"
"""What a look-up found: the object's GET answer through the create's ``decode``, in a 1-tuple
(a ``decode`` may itself answer ``None``), or ``None`` when the object does not exist."""

Finder = Callable[
    ["Requester", str, Mapping[str, str | int], "ApiError | None", Callable[[Response], Any]],
    Awaitable[Found],
]
"""How a kind is found by the merchant's number: ``(client, number, path_params, refusal,
decode)`` to the GET answer of the single object, read by ``decode`` inside the pipeline
(from the bytes FFN sent, nothing re-encoded), or ``None``. ``refusal`` is the duplicate error
when the look-up follows one (its metadata may name the existing object)."""


class CreateOutcome(enum.Enum):
    """What a safe create did."""

    CREATED = "created"
    """The server answered this call's request with the new object."""
    RECOVERED = "recovered"
    """An attempt of this call got no answer (or a 5xx); the object was then found by its
    number. It was almost certainly made by that attempt (the rare exception: the lost answer
    was itself a duplicate refusal)."""
    EXISTED = "existed"
    """The first answer was a duplicate refusal: the object existed before this call (an
    earlier run, another worker, an outbox replay)."""


@attrs.frozen
class Created(Generic[T]):
    """The result of a safe create: the object, what happened, and how many POSTs were sent."""

    value: T
    outcome: CreateOutcome
    attempts: int

    @property
    def created(self) -> bool:
        """Whether this call made the object (``CREATED`` or ``RECOVERED``)."""
        return self.outcome is not CreateOutcome.EXISTED


@attrs.frozen
class CreateKind(Generic[B, T]):
    """One kind of safe create: where it is sent, how it is found, what "exists" looks like.

    Attributes:
        name: stable name, also written into outboxes (``"outbound"``).
        path: the create's path template (``/v1/merchant/outbounds``).
        request, response: the request and answer models.
        number_field: the request's JSON field holding the merchant's own number.
        duplicate_codes: FFN error codes refusing a second object with that number.
        find: looks the object up by that number.
        path_param: the path's placeholder, for kinds created under a parent (``inboundId``).
    """

    name: str
    path: str
    request: type[B]
    response: type[T]
    number_field: str
    duplicate_codes: frozenset[ErrorCode]
    find: Finder = attrs.field(repr=False)
    path_param: str | None = None

    def find_number(self, payload: Any) -> str | None:
        """The merchant's number in a body of this kind (a dict, a model or encoded bytes),
        or ``None`` if it has none (such a body cannot be made safe: it is sent as it is)."""
        if isinstance(payload, bytes | bytearray):
            payload = orjson.loads(payload)
        elif isinstance(payload, msgspec.Raw):  # opaque: the caller passes the number
            return None
        elif attrs.has(type(payload)):  # a request model: its attribute, nothing encoded
            number = getattr(payload, _snake(self.number_field), None)
            return number if isinstance(number, str) and number else None
        number = payload.get(self.number_field) if isinstance(payload, dict) else None
        return number if isinstance(number, str) and number else None

    def number_of(self, payload: Any) -> str:
        """:meth:`find_number`, required: ``ValueError`` when the body has none."""
        number = self.find_number(payload)
        if number is None:
            raise ValueError(f"a safe {self.name} create needs {self.number_field} in its body")
        return number


def _snake(name: str) -> str:
    """``merchantOutboundNumber`` -> ``merchant_outbound_number`` (the models' attributes)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _live(obj: Any) -> bool:
    """An object that counts as the result: not a cancelled outbound, not a tombstone."""
    if not isinstance(obj, dict):
        return False
    if obj.get("status") == OutboundStatusType.CANCELED:
        return False
    info = obj.get("modificationInfo")
    return not (isinstance(info, dict) and info.get("state") == "Deleted")


def _get_request(
    client: Requester,
    path: str,
    params: Mapping[str, str | int] | None,
    query: Mapping[str, Any] | None = None,
) -> Request:
    """A look-up's GET (read scope)."""
    return client.build("GET", path, path_params=params, params=query, scope=_READ)


async def _get(
    client: Requester, path: str, params: Mapping[str, str | int], decode: Callable[[Response], Any]
) -> Found:
    """One object's GET answer through ``decode``, or ``None`` on 404."""
    try:
        return await client.send(_get_request(client, path, params), lambda r: (decode(r),))
    except NotFound:
        return None


async def _get_live(
    client: Requester,
    path: str,
    params: Mapping[str, str | int],
    field: str,
    number: str,
    decode: Callable[[Response], Any],
) -> Found:
    """:func:`_get`, kept only if it is live and carries ``number`` in ``field`` (checked on
    the JSON before ``decode`` reads it)."""

    def read(response: Response) -> Found:
        obj = response.json()
        return (decode(response),) if _live(obj) and obj.get(field) == number else None

    try:
        return await client.send(_get_request(client, path, params), read)
    except NotFound:
        return None


async def _first_id(
    client: Requester,
    path: str,
    field: str,
    number: str,
    id_field: str,
    params: Mapping[str, str | int] | None = None,
) -> str | None:
    """The id of the first live object of a list whose ``field`` equals ``number``.

    Lists answer a paged envelope (``$filter``) or, for sub-resources, a bare array.
    """
    query = {"$filter": odata.filter_text(odata.F(field).eq(number)), "$top": 10}
    page = await client.send(_get_request(client, path, params, query), Response.json)
    items = page.get("items") if isinstance(page, dict) else page
    for item in items or ():
        if isinstance(item, dict) and item.get(field) == number and _live(item):
            found = item.get(id_field)
            return str(found) if found else None
    return None


def _by_number(collection: str, id_param: str, field: str) -> Finder:
    """Outbounds and inbounds: ``{id}`` accepts the merchant's number; ``$filter`` backs it up.

    The list look-up also covers a server that does not resolve numbers in the path, and an
    outbound number reused after a cancellation (the path may name the cancelled one).
    """
    one = f"{collection}/{{{id_param}}}"

    async def find(
        client: Requester,
        number: str,
        _: Mapping[str, str | int],
        refusal: ApiError | None,
        decode: Callable[[Response], Any],
    ) -> Found:
        found = await _get_live(client, one, {id_param: number}, field, number, decode)
        if found is not None:
            return found
        ident = await _first_id(client, collection, field, number, id_param)
        return None if ident is None else await _get(client, one, {id_param: ident}, decode)

    return find


async def _find_product(
    client: Requester,
    number: str,
    _: Mapping[str, str | int],
    refusal: ApiError | None,
    decode: Callable[[Response], Any],
) -> Found:
    one = "/v1/merchant/products/{jfsku}"
    # A duplicate refusal names the existing product: errorMetaData {MerchantSku, Jfsku}.
    jfsku = refusal.metadata.get("Jfsku") if refusal is not None else None
    if isinstance(jfsku, str) and jfsku:
        found = await _get_live(client, one, {"jfsku": jfsku}, "merchantSku", number, decode)
        if found is not None:
            return found
    jfsku = await _first_id(client, "/v1/merchant/products", "merchantSku", number, "jfsku")
    return None if jfsku is None else await _get(client, one, {"jfsku": jfsku}, decode)


async def _find_return(
    client: Requester,
    number: str,
    _: Mapping[str, str | int],
    refusal: ApiError | None,
    decode: Callable[[Response], Any],
) -> Found:
    path = "/v1/merchant/returns"
    ident = await _first_id(client, path, "merchantReturnNumber", number, "returnId")
    if ident is None:
        return None
    return await _get(client, path + "/{returnId}", {"returnId": ident}, decode)


async def _find_notification(
    client: Requester,
    number: str,
    params: Mapping[str, str | int],
    refusal: ApiError | None,
    decode: Callable[[Response], Any],
) -> Found:
    path = "/v1/merchant/inbounds/{inboundId}/shipping-notifications"
    field, id_field = "merchantShippingNotificationNumber", "inboundShippingNotificationId"
    try:
        ident = await _first_id(client, path, field, number, id_field, params)
    except NotFound:  # no such inbound (yet)
        return None
    if ident is None:
        return None
    one = path + "/{shippingNotificationId}"
    return await _get(client, one, {**params, "shippingNotificationId": ident}, decode)


# Every kind also accepts Shared_DuplicateKey: FFN's generic unique-key refusal. A code only
# ever leads to a look-up; when nothing is found the original error is raised.
_SHARED_DUPLICATE: Final = ErrorCode.SHARED_DUPLICATE_KEY

OUTBOUND: Final = CreateKind(
    "outbound",
    "/v1/merchant/outbounds",
    m.CreateOutboundRequest,
    m.Outbound,
    "merchantOutboundNumber",
    frozenset({ErrorCode.OUTBOUNDS_NOT_CANCELED_OUTBOUND_EXISTS, _SHARED_DUPLICATE}),
    _by_number("/v1/merchant/outbounds", "outboundId", "merchantOutboundNumber"),
)
INBOUND: Final = CreateKind(
    "inbound",
    "/v1/merchant/inbounds",
    m.CreateInboundRequest,
    m.Inbound,
    "merchantInboundNumber",
    frozenset({ErrorCode.INBOUNDS_DUPLICATE_INBOUND, _SHARED_DUPLICATE}),
    _by_number("/v1/merchant/inbounds", "inboundId", "merchantInboundNumber"),
)
PRODUCT: Final = CreateKind(
    "product",
    "/v1/merchant/products",
    m.CreateProductRequest,
    m.Product,
    "merchantSku",
    frozenset({ErrorCode.PRODUCTS_DUPLICATE_PRODUCT, _SHARED_DUPLICATE}),
    _find_product,
)
RETURN: Final = CreateKind(
    "return",
    "/v1/merchant/returns",
    m.CreateReturnRequest,
    m.Return,
    "merchantReturnNumber",
    frozenset({ErrorCode.RETURNS_DUPLICATE_RETURN, _SHARED_DUPLICATE}),
    _find_return,
)
INBOUND_SHIPPING_NOTIFICATION: Final = CreateKind(
    "inbound_shipping_notification",
    "/v1/merchant/inbounds/{inboundId}/shipping-notifications",
    m.CreateInboundShippingNotificationRequest,
    m.InboundShippingNotification,
    "merchantShippingNotificationNumber",
    frozenset(
        {
            ErrorCode.INBOUNDS_DUPLICATE_MERCHANT_SHIPPING_NOTIFICATION_NUMBER,
            ErrorCode.INBOUNDS_DUPLICATE_INBOUND_SHIPPING_NOTIFICATION_ID,
            _SHARED_DUPLICATE,
        }
    ),
    _find_notification,
    path_param="inboundId",
)

KINDS: Final[Mapping[str, CreateKind[Any, Any]]] = {
    kind.name: kind for kind in (OUTBOUND, INBOUND, PRODUCT, RETURN, INBOUND_SHIPPING_NOTIFICATION)
}
"""Every safe-create kind by name."""

_BY_PATH: Final = {kind.path: kind for kind in KINDS.values()}


def kind_for_path(method: str, path: str) -> CreateKind[Any, Any] | None:
    """The safe-create kind of a request, or ``None`` when it is not one."""
    return _BY_PATH.get(path) if method.upper() == "POST" else None


def safe_kind(
    client: Requester, path: str, payload: Any, safe: bool | None = None
) -> tuple[CreateKind[Any, Any], str] | None:
    """The kind and merchant's number when a ``POST`` of ``payload`` to ``path`` is made a safe
    create, else ``None`` (it is sent once, as it is).

    A safe create needs a create path of :data:`KINDS`, safe creates on (``safe``, else the
    client's ``safe_creates``) and a body that names its number: without one there is nothing
    to look the object up by.
    """
    kind = _BY_PATH.get(path)
    if kind is None or not (client.safe_creates if safe is None else safe):
        return None
    number = kind.find_number(payload)
    return None if number is None else (kind, number)


def _ambiguous(exc: Exception) -> bool:
    """Whether a failed POST may have been processed: sent and unanswered, or a 5xx."""
    if isinstance(exc, TransportError):
        return exc.sent
    return isinstance(exc, ServerError)


def _log_fields(client: Requester, kind: CreateKind[Any, Any]) -> dict[str, Any]:
    """The structured fields of a safe create's log lines (:mod:`ffn_async.observe._logfields`)."""
    return {"ffn_operation": operation_for("POST", kind.path), "ffn_account": account_of(client)}


async def create_response(
    client: Requester,
    kind: CreateKind[Any, Any],
    payload: Any,
    *,
    decode: Callable[[Response], T],
    number: str | None = None,
    path_params: Mapping[str, str | int] | None = None,
    params: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> tuple[T, CreateOutcome, int]:
    """Create once: ``(the object's answer through decode, outcome, POSTs sent)``.

    The answer is the create's own 201, or the GET of the object found by its number; either
    is read by ``decode`` inside the client's pipeline (:meth:`Requester.send`), so a body that
    is not what was promised raises a :class:`~ffn_async.errors.DecodeError` redacted like any
    other. ``payload`` is the body as :meth:`FFNClient.request` takes it (a ``msgspec.Raw`` of
    encoded bytes included); it is encoded once, and the same request is sent again after a
    lost answer. Raises the last error when the retry budget is spent without an answer either
    way; nothing was duplicated, and calling again is safe.
    """
    number = number if number is not None else kind.number_of(payload)
    request = client.build(
        "POST",
        kind.path,
        path_params=path_params,
        params=params,
        json=payload,
        headers=headers,
        scope=_WRITE,
        timeout=timeout,
    )
    lookup_params = dict(path_params or {})
    retry = client.retry
    started = time.monotonic()
    unsure = False  # an attempt may have been processed without our hearing of it
    attempt = 0
    while True:
        attempt += 1
        try:
            return await client.send(request, decode), CreateOutcome.CREATED, attempt
        except (ApiError, TransportError) as exc:
            if _refused_as_duplicate(exc, kind):
                existing = await _find_existing(client, kind, number, lookup_params, exc, decode)
                return existing, _found_outcome(unsure), attempt
            if not _worth_another_try(exc):
                raise
            last: Exception = exc
            unsure = unsure or _ambiguous(exc)
        found = await _look_up_after_loss(client, kind, number, lookup_params, decode)
        if found is not None:
            return found[0], _found_outcome(unsure), attempt
        wait = retry.delay(attempt, started=started)
        _log_lost_answer(client, kind, number, last, wait)
        if wait is None:
            raise last
        await _retry._sleep(wait)  # the pipeline's own sleep, so tests can skip the waits


def _refused_as_duplicate(
    exc: ApiError | TransportError, kind: CreateKind[Any, Any]
) -> TypeGuard[ApiError]:
    """Whether the server refused a second object with this number: the object exists."""
    return isinstance(exc, ApiError) and exc.code in kind.duplicate_codes


async def _find_existing(
    client: Requester,
    kind: CreateKind[Any, Any],
    number: str,
    path_params: Mapping[str, str | int],
    refusal: ApiError,
    decode: Callable[[Response], Any],
) -> Any:
    """The answer for the object a duplicate refusal speaks of; the refusal is raised when it
    cannot be found."""
    found = await kind.find(client, number, path_params, refusal, decode)
    if found is None:
        raise refusal
    return found[0]


def _worth_another_try(exc: ApiError | TransportError) -> bool:
    """Whether a failed POST (not a duplicate refusal) leads to a look-up and another try
    rather than being raised: it may have been processed, or it was a 423."""
    # 423: another creation is in progress, possibly our own earlier attempt that is still
    # running. Nothing was made by this one: wait, look, try again.
    return isinstance(exc, Locked) or _ambiguous(exc)


def _found_outcome(unsure: bool) -> CreateOutcome:
    """What finding the object means: ours if an attempt may have landed unheard."""
    return CreateOutcome.RECOVERED if unsure else CreateOutcome.EXISTED


async def _look_up_after_loss(
    client: Requester,
    kind: CreateKind[Any, Any],
    number: str,
    path_params: Mapping[str, str | int],
    decode: Callable[[Response], Any],
) -> Found:
    """The object if a lost attempt made it, else ``None``; ``None`` too when the look-up
    fails."""
    try:
        return await kind.find(client, number, path_params, None, decode)
    except (ApiError, TransportError) as exc:
        # Cannot tell: sending again is still safe, the server refuses a duplicate.
        log.info(
            "%s %s: look-up after a lost answer failed: %s",
            kind.name,
            number,
            exc,
            extra=_log_fields(client, kind),
        )
        return None


def _log_lost_answer(
    client: Requester, kind: CreateKind[Any, Any], number: str, last: Exception, wait: float | None
) -> None:
    log.warning(
        "%s %s: answer lost (%s); %s",
        kind.name,
        number,
        last,
        "not created, sending again" if wait is not None else "giving up",
        extra=_log_fields(client, kind),
    )


async def create(
    client: Requester,
    kind: CreateKind[B, T],
    body: B,
    *,
    path_params: Mapping[str, str | int] | None = None,
    params: Mapping[str, Any] | None = None,
    timeout: float | None = None,
) -> Created[T]:
    """Create ``body`` exactly once and say what happened.

    Example: ``done = await create(ffn, OUTBOUND, order)``; ``done.value`` is the
    :class:`~ffn_async.models.merchant.Outbound`, ``done.created`` whether this call made it.
    Shipping notifications name their inbound: ``path_params={"inboundId": ...}``.

    Raises:
        ValidationError: ``body`` breaks a constraint of the spec; nothing was sent.
        ApiError: the API refused the create (a duplicate that cannot be found included).
        TransportError, ServerError: no answer within the retry budget; nothing was
            duplicated and calling again is safe.
    """
    from ..codec.serialization import decoder, dumps

    if not isinstance(body, kind.request):
        raise TypeError(f"a {kind.name} create takes {kind.request.__name__}")
    if kind.path_param and not (path_params and kind.path_param in path_params):
        raise ValueError(f"a {kind.name} create needs path_params={{{kind.path_param!r}: ...}}")
    encoded = dumps(body)  # validates: a ValidationError names the field, nothing is sent
    read = decoder(kind.response)
    value, outcome, attempts = await create_response(
        client,
        kind,
        msgspec.Raw(encoded),
        decode=lambda response: read(response.content),
        number=kind.number_of(encoded),
        path_params=path_params,
        params=params,
        timeout=timeout,
    )
    return Created(value, outcome, attempts)
