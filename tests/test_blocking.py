"""The blocking facade (:mod:`ffn_async.blocking`) against the fake server over real sockets:
many threads at once, pagination as a plain iterator, a real forked worker, and closing.

The fake serves in the test's event loop; the facade's calls run in worker threads
(``asyncio.to_thread``), as sync code would call it, while its own loop runs on its thread.
"""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from functools import cached_property
from pathlib import Path

import pytest

from ffn_async import FFNClient, TokenManager
from ffn_async.blocking import BlockingClient
from ffn_async.testing.pytest_plugin import RunningFake
from tests.helpers import outbound_request, readme_block, run_script
from token_stores import FileTokenStore


async def in_threads(work: Callable[[], None], count: int) -> None:
    """``work`` in ``count`` threads of its own at once; the first exception is raised."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        await asyncio.to_thread(thread.join)
    if errors:
        raise errors[0]


@pytest.fixture
async def open_client(ffn_fake: RunningFake, tmp_path: Path) -> Callable[[], FFNClient]:
    """A factory over a file store holding a fresh login, as an app would write it."""
    store = FileTokenStore(tmp_path / "tokens")
    seed = TokenManager(ffn_fake.credentials, store, key="acme", environment=ffn_fake.environment)
    await seed.store_token(ffn_fake.server.token())

    def open_client() -> FFNClient:
        auth = TokenManager(
            ffn_fake.credentials,
            FileTokenStore(tmp_path / "tokens"),
            key="acme",
            environment=ffn_fake.environment,
        )
        return FFNClient(auth)

    return open_client


@pytest.fixture
def facade(open_client: Callable[[], FFNClient]) -> Iterator[BlockingClient]:
    ffn = BlockingClient(open_client)
    yield ffn
    ffn.close()


@pytest.mark.ffn_fake(token_lifetime=1.0)
async def test_many_threads_share_one_client_and_one_refresh_at_a_time(
    ffn_fake: RunningFake, facade: BlockingClient
) -> None:
    """Eight threads call for over two token lifetimes: every call answers, each token is
    rotated once (no refresh token is spent twice)."""
    seen: list[str] = []
    threads_seen: set[int] = set()

    def worker() -> None:
        for _ in range(12):
            user = facade.run(lambda c: c.shared.users.current())
            seen.append(user.user_id)
            threads_seen.add(threading.get_ident())
            threading.Event().wait(0.2)

    await in_threads(worker, 8)
    assert seen == ["MERC"] * 96
    assert len(threads_seen) == 8
    stats = ffn_fake.stats
    assert stats.reuse_attempts == 0
    assert 1 <= stats.refreshes <= 5  # ~2.4 s of 1 s tokens, refreshed at half-life: ~4
    assert stats.invalid_grants == 0


async def test_pagination_is_a_plain_iterator(
    ffn_fake: RunningFake, facade: BlockingClient
) -> None:
    def sync_code() -> tuple[list[str], list[str]]:
        for n in range(5):
            request = outbound_request(ffn_fake.server, f"B-{n}")
            facade.run(lambda c, r=request: c.merchant.outbounds.create(r))
        numbers = [
            o.merchant_outbound_number
            for o in facade.iterate(lambda c: c.merchant.outbounds.iterate(top=2))
        ]
        first_two = []
        for outbound in facade.iterate(lambda c: c.merchant.outbounds.iterate(top=2)):
            first_two.append(outbound.merchant_outbound_number)
            if len(first_two) == 2:
                break  # leaving early closes the async iterator in the facade's loop
        return numbers, first_two

    numbers, first_two = await asyncio.to_thread(sync_code)
    assert sorted(numbers) == [f"B-{n}" for n in range(5)]
    assert first_two == numbers[:2]
    assert ffn_fake.stats.requests["GET /api/v1/merchant/outbounds"] >= 3  # pages of 2


async def test_errors_are_raised_in_the_calling_thread(
    ffn_fake: RunningFake, facade: BlockingClient
) -> None:
    from ffn_async.errors import NotFound

    def sync_code() -> None:
        facade.run(lambda c: c.merchant.outbounds.get("no-such-outbound"))

    with pytest.raises(NotFound):
        await asyncio.to_thread(sync_code)


@pytest.mark.slow
async def test_a_forked_worker_gets_its_own_loop_and_client(
    ffn_fake: RunningFake, facade: BlockingClient
) -> None:
    """A real fork after the parent used the facade (a Celery prefork worker): the child's
    first call starts a loop thread of its own and calls the factory again."""

    def use_then_fork() -> tuple[str, int, str]:
        parent_user = facade.run(lambda c: c.shared.users.current()).user_id
        read_end, write_end = os.pipe()
        with warnings.catch_warnings():  # 3.12+: forking a process with threads
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the child: report through the pipe and leave without cleanup
            try:
                os.close(read_end)
                user = facade.run(lambda c: c.shared.users.current()).user_id
                names = sorted(t.name for t in threading.enumerate())
                os.write(write_end, f"{user} {names.count('ffn-async-blocking')}".encode())
                facade.close()
                code = 0
            except BaseException as exc:
                os.write(write_end, f"ERROR {exc!r}".encode())
                code = 1
            os._exit(code)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as pipe:
            if select.select([pipe], [], [], 60)[0]:
                child_said = pipe.read().decode()
            else:  # a child waiting on the parent's loop thread, which it does not have
                os.kill(pid, signal.SIGKILL)
                child_said = "no answer within 60 s"
        _, status = os.waitpid(pid, 0)
        after = facade.run(lambda c: c.shared.users.current()).user_id  # the parent's still works
        return parent_user + " " + after, os.waitstatus_to_exitcode(status), child_said

    parent, exit_code, child_said = await asyncio.to_thread(use_then_fork)
    assert parent == "MERC MERC"
    assert (exit_code, child_said) == (0, "MERC 1")
    assert ffn_fake.stats.reuse_attempts == 0


async def test_closing_closes_and_a_closed_facade_refuses(
    open_client: Callable[[], FFNClient],
) -> None:
    def sync_code() -> tuple[bool, str]:
        with BlockingClient(open_client) as ffn:
            ffn.run(lambda c: c.shared.users.current())
            client = ffn.client
        closed = client._session is None  # the session it made is closed and dropped
        try:
            ffn.run(lambda c: c.shared.users.current())
        except RuntimeError as exc:
            return closed, str(exc)
        return closed, ""

    before = {t.name for t in threading.enumerate()}
    closed, refused = await asyncio.to_thread(sync_code)
    assert closed
    assert "closed" in refused
    assert "ffn-async-blocking" not in {t.name for t in threading.enumerate()} - before


async def test_calling_it_from_its_own_loop_is_refused(facade: BlockingClient) -> None:
    async def inner(c: FFNClient) -> str:
        # An async hook that calls the sync facade would wait on itself forever.
        return facade.run(lambda c2: c2.shared.users.current()).user_id

    def sync_code() -> None:
        facade.run(inner)

    with pytest.raises(RuntimeError, match="its own event loop"):
        await asyncio.to_thread(sync_code)


def test_the_readme_section_runs_as_pasted(tmp_path: Path) -> None:
    result = run_script(readme_block("Calling from sync code"), tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "logged in as MERC",
        "warehouse Main warehouse",
        "from 8 threads: {'MERC'}",
    ]


async def test_a_failing_factory_leaves_no_thread_and_may_be_retried(
    open_client: Callable[[], FFNClient],
) -> None:
    attempts: list[int] = []

    def flaky() -> FFNClient:
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("store not reachable yet")
        return open_client()

    def sync_code() -> str:
        with BlockingClient(flaky) as ffn:
            with pytest.raises(OSError, match="not reachable"):
                ffn.run(lambda c: c.shared.users.current())
            alive = sum(t.name == "ffn-async-blocking" for t in threading.enumerate())
            assert alive == 0
            return ffn.run(lambda c: c.shared.users.current()).user_id

    assert await asyncio.to_thread(sync_code) == "MERC"
    assert len(attempts) == 2


async def test_typed_methods_from_several_threads(
    ffn_fake: RunningFake, facade: BlockingClient
) -> None:
    """The async namespaces' methods, called by name on the facade from six threads at once:
    creates, gets, a page, pagination and a shared call, each answering its model."""
    from ffn_async.models import merchant, shared

    def worker(n: int) -> None:
        me = facade.shared.users.current()
        assert isinstance(me, shared.User)
        assert me.user_id == "MERC"
        created = facade.merchant.outbounds.create(outbound_request(ffn_fake.server, f"T-{n}"))
        again = facade.merchant.outbounds.get(created.outbound_id)
        assert isinstance(again, merchant.Outbound)
        assert again.merchant_outbound_number == f"T-{n}"
        page = facade.merchant.warehouses.list(top=1)
        assert [type(w) for w in page] == [merchant.Warehouse]

    await in_threads(lambda: worker(threading.get_ident()), 6)

    def walk() -> list[str]:
        outbounds = facade.merchant.outbounds.iterate(top=2)
        assert not hasattr(outbounds, "__aiter__")  # a plain iterator
        return [o.merchant_outbound_number for o in outbounds]

    numbers = await asyncio.to_thread(walk)
    assert len(numbers) == 6
    assert all(n.startswith("T-") for n in numbers)
    assert ffn_fake.stats.requests["GET /api/v1/merchant/outbounds"] >= 3  # pages of 2


async def test_a_change_feed_iterates_plainly_and_keeps_its_watermark(
    ffn_fake: RunningFake, facade: BlockingClient
) -> None:
    import datetime as dt

    def sync_code() -> tuple[list[str], dt.datetime | None, dt.datetime | None]:
        start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        # Windows end a few seconds before now: the change is back-dated, not waited for.
        ffn_fake.server.clock.advance(-30)
        try:
            facade.merchant.outbounds.create(outbound_request(ffn_fake.server, "F-1"))
        finally:
            ffn_fake.server.clock.advance(30)
        feed = facade.merchant.outbounds.updates(from_date=start)
        before = feed.walk.to
        numbers = [o.merchant_outbound_number for o in feed]
        return numbers, before, feed.walk.to

    numbers, before, after = await asyncio.to_thread(sync_code)
    assert numbers == ["F-1"]
    assert before is None
    assert after is not None  # the watermark to checkpoint, as in async code


async def test_every_async_method_has_its_blocking_twin(
    open_client: Callable[[], FFNClient],
) -> None:
    """From the registry: every operation's methods (``list`` and ``iterate``, ``download``)
    exist on the facade under the same path, with the same parameters, and do not need
    awaiting. Neither object is started (no loop, no session)."""
    import inspect

    from ffn_async.api import OPERATIONS

    client = open_client()
    ffn = BlockingClient(open_client)

    def resolve(root: object, path: str) -> Callable[..., object]:
        for name in path.split("."):
            root = getattr(root, name)
        assert callable(root), path
        return root

    paths = [
        (path, op.kind in ("feed", "chunks") or path.rsplit(".", 1)[1].startswith("iterate"))
        for op in OPERATIONS.values()
        for path in (op.python, *op.also)
    ]
    for path, walks in paths:
        async_method, blocking_method = resolve(client, path), resolve(ffn, path)
        assert inspect.iscoroutinefunction(async_method) is not walks, path
        assert not inspect.iscoroutinefunction(blocking_method), path
        assert (
            inspect.signature(blocking_method).parameters
            == inspect.signature(async_method).parameters
        ), path

    def methods(namespace: object, prefix: str) -> Iterator[str]:
        for name in dir(type(namespace)):
            attr = getattr(type(namespace), name)
            if name.startswith("_"):
                continue
            if isinstance(attr, cached_property):
                yield from methods(getattr(namespace, name), f"{prefix}{name}.")
            elif callable(attr):
                yield prefix + name

    # Nothing more on either side than the registry's operations.
    for api in ("merchant", "fulfiller", "shared"):
        registry = {path for path, _ in paths if path.startswith(api + ".")}
        assert set(methods(getattr(client, api), api + ".")) == registry
        assert set(methods(getattr(ffn, api), api + ".")) == registry
    assert ffn._running is None
    await client.aclose()


@pytest.mark.slow
def test_mypy_strict_types_the_readme_section_for_users(tmp_path: Path) -> None:
    """The README's code as a user's module under ``mypy --strict``: the facade's methods
    return the async methods' models, ``iterate`` a plain iterator, a feed a ``Walk``."""
    code = readme_block("Calling from sync code") + (
        "\n    reveal_type(ffn.merchant.outbounds.get)\n"
        "    reveal_type(ffn.merchant.warehouses.iterate())\n"
        "    reveal_type(ffn.merchant.outbounds.list())\n"
        "    reveal_type(ffn.merchant.outbounds.updates())\n"
        "    reveal_type(ffn.merchant.outbounds.attachments.download('o', 'd'))\n"
        "    wrong: int = ffn.shared.users.current()\n"
    )
    (tmp_path / "use.py").write_text(code)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache")]
        + ["use.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = result.stdout
    assert (
        '"def (outbound_id: str, *, timeout: float | None =) -> ffn_async.models.merchant.Outbound"'
    ) in out, out
    assert '"typing.Iterator[ffn_async.models.merchant.Warehouse]"' in out, out
    assert "ffn_async.api.pagination.ListPage[ffn_async.models.merchant.Outbound]" in out, out
    assert (
        "ffn_async.blocking._base.Walk[ffn_async.api.pagination.ChangeFeed["
        "ffn_async.models.merchant.Outbound], ffn_async.models.merchant.Outbound]"
    ) in out, out
    assert 'Revealed type is "bytes"' in out, out
    assert 'expression has type "User", variable has type "int"' in out, out
    # Only the one deliberate error: the README's own code is clean under --strict.
    assert out.count("error:") == 1, out
