"""``ffn-async outbox``: the kept creates (:mod:`ffn_async.ordersync.outbox`).

The outbox of an account is named after its store key (``FFN_ACCOUNT``) and lives in the same
store as its token. ``list`` shows each entry's state (waiting, held, failed), attempts and
last error; ``retry`` puts a failed or held entry back in line; ``drop`` removes one unsent.
They need only the store; ``replay`` needs a valid login.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson

from ..client import FFNClient
from ..errors import ReauthorizationRequired, TokenMissing
from ..ordersync.outbox import Outbox, OutboxEntry, ReplayReport
from .config import ConfigError, Settings, open_store
from .render import table

__all__ = ["register"]

T = TypeVar("T")


def register(
    sub: Any, add_options: Callable[[argparse.ArgumentParser], None]
) -> argparse.ArgumentParser:
    """Add the ``outbox`` command and its actions to the subparsers ``sub``."""
    outbox: argparse.ArgumentParser = sub.add_parser(
        "outbox",
        help="show, replay or drop creates kept while FFN could not take them",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    actions = outbox.add_subparsers(dest="outbox_command", metavar="ACTION", required=True)

    def action(name: str, run: Any, help: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = actions.add_parser(name, help=help, description=help)
        p.set_defaults(run=run, uses_account=True)
        add_options(p)
        return p

    p = action("list", list_entries, "the kept creates, oldest first")
    p.add_argument("--json", action="store_true", help="print the entries as JSON")
    action("replay", replay, "send the kept creates now, in order, each exactly once")
    p = action("retry", retry, "put a failed or held create back in line for the next replay")
    p.add_argument("entry", type=int, metavar="ID", help="the entry's id (see `outbox list`)")
    p = action("drop", drop, "remove one kept create without sending it")
    p.add_argument("entry", type=int, metavar="ID", help="the entry's id (see `outbox list`)")
    return outbox


def _row(entry: OutboxEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "kind": entry.kind,
        "number": entry.number,
        "kept_at": entry.kept_at.isoformat(timespec="seconds"),
        "state": entry.state.value,
        "attempts": entry.attempts,
        "last_error": entry.reason,
    }


async def list_entries(settings: Settings, args: argparse.Namespace) -> int:
    """``ffn-async outbox list``."""
    store = await open_store(settings.store_url)
    try:
        outbox = Outbox(store, settings.account)
        entries = await outbox.entries()
        quarantined = await outbox.quarantined()
    finally:
        await store.close()
    rows = [_row(e) for e in entries]
    if args.json:
        print(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
    elif not rows:
        print(f"The outbox of account {settings.account!r} is empty.")
    else:
        print(
            table(
                [
                    (
                        f"{r['id']} {r['kind']} {r['number']}",
                        f"{r['state']} ({r['attempts']} failed attempts): {r['last_error']}",
                    )
                    for r in rows
                ],
                title=f"outbox of {settings.account!r}: {len(rows)} kept",
            )
        )
    if quarantined:
        print(
            f"{quarantined} damaged entries were set aside as they were, in the store's queue "
            f"{outbox.quarantine_key!r}"
        )
    return 0


def _print_report(report: ReplayReport) -> None:
    for entry, outcome in report.applied:
        print(f"sent {entry.kind} {entry.number}: {outcome.value}")
    if report.sent > len(report.applied):
        print(f"... and {report.sent - len(report.applied)} more sent")
    for entry in report.failed:
        print(f"refused {entry.kind} {entry.number}: {entry.reason}")
    for entry in report.held:
        print(f"set aside {entry.kind} {entry.number}: {entry.reason}")
    print(
        f"{report.sent} sent, {len(report.failed)} refused, {len(report.held)} set "
        f"aside, {report.remaining} waiting"
    )


async def replay(settings: Settings, args: argparse.Namespace) -> int:
    """``ffn-async outbox replay``: exit 0 when everything went, else 1 (3: needs a login)."""
    store = await open_store(settings.store_url)
    try:
        async with (
            settings.token_manager(store) as auth,
            FFNClient(auth) as ffn,
        ):
            report = await Outbox(store, settings.account).replay(ffn)
    finally:
        await store.close()
    _print_report(report)
    if report.stopped:
        print(f"stopped: {report.stopped}")
        return 3 if isinstance(report.error, ReauthorizationRequired | TokenMissing) else 1
    return 1 if report.failed else 0


async def _on_entry(settings: Settings, act: Callable[[Outbox], Awaitable[T]]) -> T:
    """``act`` on the account's outbox, with the store open only as long as it needs."""
    store = await open_store(settings.store_url)
    try:
        return await act(Outbox(store, settings.account))
    finally:
        await store.close()


async def retry(settings: Settings, args: argparse.Namespace) -> int:
    """``ffn-async outbox retry ID``."""
    entry = await _on_entry(settings, lambda outbox: outbox.retry(args.entry))
    if entry is None:
        raise ConfigError(
            f"the outbox of {settings.account!r} has no failed or held entry {args.entry}"
        )
    print(f"entry {args.entry} is back in line as {entry.id}; the next replay sends it")
    return 0


async def drop(settings: Settings, args: argparse.Namespace) -> int:
    """``ffn-async outbox drop ID``."""
    if not await _on_entry(settings, lambda outbox: outbox.drop(args.entry)):
        raise ConfigError(f"the outbox of {settings.account!r} has no entry {args.entry}")
    print(f"dropped entry {args.entry}; it will not be sent")
    return 0
