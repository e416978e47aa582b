"""Safe creates against the fake server: answers lost after the server committed never duplicate."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import pytest

from ffn_async import FFNClient
from ffn_async.api import creates
from ffn_async.api.creates import CreateOutcome
from ffn_async.errors import BadRequest, Conflict, Locked, ServerError, TransportError
from ffn_async.testing import FakeFFN
from ffn_async.testing.pytest_plugin import RunningFake

from . import builders


@attrs.frozen
class Case:
    """One create kind: its table entry, a body for a number, and the server's objects of it.

    ``body`` returns the request and the path parameters it needs.
    """

    kind: creates.CreateKind[Any, Any]
    body: Callable[[FakeFFN, str], tuple[Any, dict[str, str]]]
    on_server: Callable[[FakeFFN, str], list[dict[str, Any]]]
    generated: Callable[[FFNClient, Any, dict[str, str]], Awaitable[Any]]


def _jfsku(fake: FakeFFN) -> str:
    return str(fake.api.add_product(f"SKU-{secrets.token_hex(3)}", "Part")["jfsku"])


def _matching(collection: Any, field: str, number: str) -> list[dict[str, Any]]:
    return [o for o in collection.live() if o.get(field) == number]


def _inbound_id(fake: FakeFFN) -> str:
    """An inbound to announce shipping notifications for."""
    body = {
        "merchantInboundNumber": f"IN-{secrets.token_hex(3)}",
        "warehouseId": fake.api.default_warehouse_id,
        "items": [{"inboundItemId": "1", "jfsku": _jfsku(fake), "quantity": 5}],
    }
    created = fake.api.inbounds.collection.insert(
        {**body, "inboundId": f"MERC03{secrets.token_hex(3).upper()}", "status": "Pending"}
    )
    return str(created["inboundId"])


def _no_params(body: Any) -> tuple[Any, dict[str, str]]:
    return body, {}


CASES = {
    "outbound": Case(
        creates.OUTBOUND,
        lambda fake, n: _no_params(
            builders.outbound(n, fake.api.default_warehouse_id, _jfsku(fake))
        ),
        lambda fake, n: _matching(fake.api.outbounds.collection, "merchantOutboundNumber", n),
        lambda ffn, body, _: ffn.merchant.outbounds.create(body),
    ),
    "inbound": Case(
        creates.INBOUND,
        lambda fake, n: _no_params(
            builders.inbound(n, fake.api.default_warehouse_id, _jfsku(fake))
        ),
        lambda fake, n: _matching(fake.api.inbounds.collection, "merchantInboundNumber", n),
        lambda ffn, body, _: ffn.merchant.inbounds.create(body),
    ),
    "product": Case(
        creates.PRODUCT,
        lambda fake, n: _no_params(builders.product(n)),
        lambda fake, n: _matching(fake.api.products.collection, "merchantSku", n),
        lambda ffn, body, _: ffn.merchant.products.create(body),
    ),
    "return": Case(
        creates.RETURN,
        lambda fake, n: _no_params(
            builders.return_(n, fake.api.default_warehouse_id, _jfsku(fake))
        ),
        lambda fake, n: _matching(fake.api.returns.collection, "merchantReturnNumber", n),
        lambda ffn, body, _: ffn.merchant.returns.create(body),
    ),
    "inbound_shipping_notification": Case(
        creates.INBOUND_SHIPPING_NOTIFICATION,
        lambda fake, n: (builders.shipping_notification(n), {"inboundId": _inbound_id(fake)}),
        lambda fake, n: _matching(
            fake.api.inbounds.notifications, "merchantShippingNotificationNumber", n
        ),
        lambda ffn, body, params: ffn.merchant.inbounds.shipping_notifications.create(
            params["inboundId"], body
        ),
    ),
}


@pytest.fixture(params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> Case:
    return CASES[request.param]


def _number() -> str:
    return f"N-{secrets.token_hex(4)}"


async def test_answer_lost_after_commit_is_recovered_not_repeated(
    ffn: FFNClient, ffn_fake: RunningFake, case: Case
) -> None:
    fake, number = ffn_fake.server, _number()
    body, params = case.body(fake, number)
    fake.faults.inject_next("drop_after")  # processed, then the connection is cut

    done = await creates.create(ffn, case.kind, body, path_params=params)

    [stored] = case.on_server(fake, number)
    assert done.outcome is CreateOutcome.RECOVERED
    assert done.created
    assert done.attempts == 1  # no second POST: the look-up found the object
    assert isinstance(done.value, case.kind.response)
    assert fake.stats.faults["drop_after"] == 1


async def test_every_answer_lost_in_a_row_still_one_object(
    ffn: FFNClient, ffn_fake: RunningFake, case: Case
) -> None:
    fake, number = ffn_fake.server, _number()
    body, params = case.body(fake, number)
    # The create is processed but unanswered, the look-ups fail too, a resend is refused
    # as a duplicate and its answer is cut as well: the object is still found, once.
    fake.faults.inject_next("drop_after", "unavailable", "unavailable", "unavailable")
    fake.faults.inject_next("unavailable", "unavailable", "drop_after")

    done = await creates.create(ffn, case.kind, body, path_params=params)

    assert len(case.on_server(fake, number)) == 1
    assert done.outcome is CreateOutcome.RECOVERED


async def test_unprocessed_failure_is_sent_again_and_created_once(
    ffn: FFNClient, ffn_fake: RunningFake, case: Case
) -> None:
    fake, number = ffn_fake.server, _number()
    body, params = case.body(fake, number)
    fake.faults.inject_next("unavailable")  # a 503 before processing: ambiguous to the client

    done = await creates.create(ffn, case.kind, body, path_params=params)

    assert len(case.on_server(fake, number)) == 1
    assert (done.outcome, done.attempts) == (CreateOutcome.CREATED, 2)


async def test_a_second_create_of_the_same_number_finds_the_first(
    ffn: FFNClient, ffn_fake: RunningFake, case: Case
) -> None:
    fake, number = ffn_fake.server, _number()
    body, params = case.body(fake, number)
    first = await creates.create(ffn, case.kind, body, path_params=params)
    again = await creates.create(ffn, case.kind, body, path_params=params)

    assert len(case.on_server(fake, number)) == 1
    assert first.outcome is CreateOutcome.CREATED
    assert again.outcome is CreateOutcome.EXISTED
    assert not again.created
    assert again.value == first.value


async def test_generated_create_is_safe_by_default(
    ffn: FFNClient, ffn_fake: RunningFake, case: Case
) -> None:
    fake, number = ffn_fake.server, _number()
    body, params = case.body(fake, number)
    fake.faults.inject_next("drop_after")

    obj = await case.generated(ffn, body, params)

    [stored] = case.on_server(fake, number)
    assert isinstance(obj, case.kind.response)


async def test_safe_creates_off_sends_once_and_raises(
    ffn_fake: RunningFake, ffn: FFNClient, case: Case
) -> None:
    fake, number = ffn_fake.server, _number()
    body, params = case.body(fake, number)
    plain = FFNClient(ffn.auth, environment=ffn_fake.environment, safe_creates=False)
    async with plain:
        fake.faults.inject_next("drop_after")
        requests_before = fake.stats.api_requests
        with pytest.raises(TransportError):
            await case.generated(plain, body, params)
    assert fake.stats.api_requests - requests_before == 1  # no look-up, no resend
    assert len(case.on_server(fake, number)) == 1


async def test_a_refusal_for_another_reason_is_raised(
    ffn: FFNClient, ffn_fake: RunningFake
) -> None:
    fake = ffn_fake.server
    body = attrs.evolve(
        builders.outbound(_number(), fake.api.default_warehouse_id, _jfsku(fake)),
        warehouse_id="FULF04XX-NOPE-0001",
    )
    with pytest.raises(BadRequest):
        await creates.create(ffn, creates.OUTBOUND, body)


async def test_a_create_cut_before_processing_is_sent_again(
    ffn: FFNClient, ffn_fake: RunningFake
) -> None:
    fake, number = ffn_fake.server, _number()
    body = builders.product(number)
    fake.faults.inject_next("drop")  # cut before processing; the client cannot know that
    done = await creates.create(ffn, creates.PRODUCT, body)
    assert len(CASES["product"].on_server(fake, number)) == 1
    assert (done.outcome, done.attempts) == (CreateOutcome.CREATED, 2)


def test_every_kind_is_one_generated_create() -> None:
    """The table matches the generated namespace: each kind is the path of exactly one POST."""
    from ffn_async.api._registry import OPERATIONS

    for kind in creates.KINDS.values():
        posts = [op for op in OPERATIONS.values() if (op.method, op.path) == ("POST", kind.path)]
        assert len(posts) == 1, kind.name
        assert creates.kind_for_path("POST", kind.path) is kind
    assert creates.kind_for_path("GET", creates.OUTBOUND.path) is None


async def test_creation_in_progress_elsewhere_leads_to_the_object(
    ffn: FFNClient, ffn_fake: RunningFake
) -> None:
    """423 (another creation of this outbound is running): wait, look it up, take it."""
    fake, number = ffn_fake.server, _number()
    body = builders.outbound(number, fake.api.default_warehouse_id, _jfsku(fake))
    first = await creates.create(ffn, creates.OUTBOUND, body)  # the other creation...
    fake.api.lock_outbound_creation(number)  # ...whose lock has not been released yet

    again = await creates.create(ffn, creates.OUTBOUND, body)

    assert again.outcome is CreateOutcome.EXISTED
    assert again.value == first.value
    assert len(CASES["outbound"].on_server(fake, number)) == 1


async def test_creation_locked_beyond_the_budget_raises_locked(
    ffn: FFNClient, ffn_fake: RunningFake
) -> None:
    fake, number = ffn_fake.server, _number()
    body = builders.outbound(number, fake.api.default_warehouse_id, _jfsku(fake))
    fake.api.lock_outbound_creation(number)
    with pytest.raises(Locked):
        await creates.create(ffn, creates.OUTBOUND, body)
    assert CASES["outbound"].on_server(fake, number) == []


async def test_the_escape_hatch_is_safe_too_unless_told_otherwise(
    ffn: FFNClient, ffn_fake: RunningFake
) -> None:
    from ffn_async.codec.serialization import unstructure

    fake = ffn_fake.server
    path = "/v1/merchant/outbounds"
    safe, plain = _number(), _number()
    jfsku = _jfsku(fake)
    fake.faults.inject_next("drop_after")
    answer = await ffn.request(
        "POST",
        path,
        json=unstructure(builders.outbound(safe, fake.api.default_warehouse_id, jfsku)),
    )
    assert answer["merchantOutboundNumber"] == safe
    fake.faults.inject_next("drop_after")
    with pytest.raises(TransportError):
        await ffn.request(
            "POST",
            path,
            json=unstructure(builders.outbound(plain, fake.api.default_warehouse_id, jfsku)),
            safe_create=False,
        )
    assert len(CASES["outbound"].on_server(fake, safe)) == 1
    assert len(CASES["outbound"].on_server(fake, plain)) == 1
    assert fake.stats.outbound_creates[plain] == 1  # sent once, never looked up or resent


async def test_request_raw_is_safe_too_and_a_client_can_turn_it_off(
    ffn: FFNClient, ffn_fake: RunningFake
) -> None:
    """``request_raw("POST", ...)`` to a create path is a safe create like ``request``; a client
    built with ``safe_creates=False`` sends it once."""
    from ffn_async.codec.serialization import unstructure

    fake = ffn_fake.server
    safe, plain = _number(), _number()
    fake.faults.inject_next("drop_after")
    answer = await ffn.request_raw(
        "POST", creates.PRODUCT.path, json=unstructure(builders.product(safe))
    )
    assert answer.status == 200  # the look-up's GET: the object found by its number
    assert answer.json()["merchantSku"] == safe
    once = FFNClient(ffn.auth, environment=ffn_fake.environment, safe_creates=False)
    async with once:
        fake.faults.inject_next("drop_after")
        requests_before = fake.stats.api_requests
        with pytest.raises(TransportError):
            await once.request("POST", creates.PRODUCT.path, json=builders.product(plain))
    assert fake.stats.api_requests - requests_before == 1  # no look-up, no resend
    assert len(CASES["product"].on_server(fake, safe)) == 1
    assert len(CASES["product"].on_server(fake, plain)) == 1


async def test_build_and_send_never_make_a_safe_create(
    ffn: FFNClient, ffn_fake: RunningFake
) -> None:
    """The pipeline sends what was built: only the entries above it (``request``, the typed
    ``create``) take the safe-create step."""
    from ffn_async.http._requester import Response

    fake, number = ffn_fake.server, _number()
    body = builders.outbound(number, fake.api.default_warehouse_id, _jfsku(fake))
    request = ffn.build("POST", creates.OUTBOUND.path, json=body)
    fake.faults.inject_next("drop_after")
    with pytest.raises(TransportError):
        await ffn.send(request, Response.json)
    assert fake.stats.outbound_creates[number] == 1
    assert len(CASES["outbound"].on_server(fake, number)) == 1


async def test_a_create_runs_straight_down(
    ffn: FFNClient, ffn_fake: RunningFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The generated ``create`` → the creates step → the client's ``send``: the POST is built
    once and sent again after a lost answer, look-ups are built and sent the same way, and the
    client's public entries are never re-entered."""
    fake, number = ffn_fake.server, _number()
    built: list[tuple[str, str]] = []
    sent: list[str] = []
    real_build, real_send = FFNClient.build, FFNClient.send

    def build(self: FFNClient, method: str, path: str, **kw: Any) -> Any:
        built.append((method, path))
        return real_build(self, method, path, **kw)

    def send(self: FFNClient, request: Any, decode: Any) -> Any:
        sent.append(request.method)
        return real_send(self, request, decode)

    async def reentered(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a create re-entered the client's public entry")

    monkeypatch.setattr(FFNClient, "build", build)
    monkeypatch.setattr(FFNClient, "send", send)
    monkeypatch.setattr(FFNClient, "request", reentered)
    monkeypatch.setattr(FFNClient, "request_raw", reentered)
    fake.faults.inject_next("drop")  # cut before processing: a look-up, then the POST again

    product = await ffn.merchant.products.create(builders.product(number))

    assert product.merchant_sku == number
    assert [b for b in built if b[0] == "POST"] == [("POST", creates.PRODUCT.path)]
    assert sent.count("POST") == 2
    assert "GET" in sent  # the look-up between the two
    assert len(CASES["product"].on_server(fake, number)) == 1


class _Scripted:
    """A stand-in client whose POSTs answer from a script (an exception is raised, anything
    else is the answer) and whose retry policy allows ``tries`` POSTs."""

    safe_creates = True

    def __init__(self, script: list[Any], tries: int = 3) -> None:
        self.script, self.posts = list(script), 0
        self.retry = self
        self.tries = tries

    def build(self, method: str, path: str, **kw: Any) -> str:
        return method

    async def send(self, request: str, decode: Any) -> Any:
        self.posts += 1
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        return step

    def delay(self, attempt: int, *, started: float) -> float | None:
        return 0.0 if attempt < self.tries else None


def _duplicate() -> Conflict:
    return Conflict(409, code=min(creates.PRODUCT.duplicate_codes))


@pytest.mark.parametrize(
    ("script", "found", "expected"),
    [
        # A 423, then the object: it existed (nothing of ours was in doubt).
        ([Locked(423)], [("obj",)], (CreateOutcome.EXISTED, 1)),
        # A lost answer, then a 423, then the object: ours, recovered; being unsure sticks.
        ([ServerError(503), Locked(423)], [None, ("obj",)], (CreateOutcome.RECOVERED, 2)),
        # A lost answer, not found, then a duplicate refusal: the lost attempt made it.
        ([TransportError("cut"), _duplicate()], [None, ("obj",)], (CreateOutcome.RECOVERED, 2)),
        # A duplicate refusal at once: it existed; the look-up names the refusal.
        ([_duplicate()], [("obj",)], (CreateOutcome.EXISTED, 1)),
    ],
)
async def test_the_outcome_follows_what_the_attempts_said(
    script: list[Any], found: list[Any], expected: tuple[CreateOutcome, int]
) -> None:
    looked: list[Any] = []

    async def find(client: Any, number: str, params: Any, refusal: Any, decode: Any) -> Any:
        looked.append(refusal)
        return found.pop(0)

    kind = attrs.evolve(creates.PRODUCT, find=find)
    value, outcome, attempts = await creates.create_response(
        _Scripted(script), kind, {"merchantSku": "S-1"}, decode=lambda r: r
    )
    assert (value, outcome, attempts) == ("obj", *expected)
    assert isinstance(looked[-1], Conflict) == isinstance(script[-1], Conflict)


@pytest.mark.parametrize(
    "failure", [TransportError("refused", sent=False), BadRequest(400), _duplicate()]
)
async def test_a_failure_that_made_nothing_is_raised_as_it_is(failure: Exception) -> None:
    """Never sent, refused for another reason, or a duplicate whose object cannot be found:
    the failure itself is raised, after no look-up (the duplicate: after its one look-up)."""
    looked: list[Any] = []

    async def find(client: Any, number: str, params: Any, refusal: Any, decode: Any) -> Any:
        looked.append(refusal)
        return None

    client = _Scripted([failure])
    with pytest.raises(type(failure)) as raised:
        await creates.create_response(
            client, attrs.evolve(creates.PRODUCT, find=find), {"merchantSku": "S-1"}, decode=id
        )
    assert raised.value is failure
    assert client.posts == 1
    assert looked == ([failure] if isinstance(failure, Conflict) else [])


async def test_lost_answers_beyond_the_budget_raise_the_last_and_say_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def find(client: Any, number: str, params: Any, refusal: Any, decode: Any) -> Any:
        raise TransportError("look-up cut")

    async def no_wait(seconds: float) -> None:
        pass

    monkeypatch.setattr("ffn_async.retry._sleep", no_wait)
    last = ServerError(502)
    client = _Scripted([TransportError("cut"), last], tries=2)
    with caplog.at_level("INFO", logger="ffn_async.creates"), pytest.raises(ServerError) as raised:
        await creates.create_response(
            client, attrs.evolve(creates.PRODUCT, find=find), {"merchantSku": "S-1"}, decode=id
        )
    assert raised.value is last
    assert [r.getMessage() for r in caplog.records] == [
        "product S-1: look-up after a lost answer failed: look-up cut",
        "product S-1: answer lost (cut); not created, sending again",
        "product S-1: look-up after a lost answer failed: look-up cut",
        "product S-1: answer lost (502 ServerError); giving up",
    ]
