"""Help text as a terminal shows it: docstrings' reStructuredText roles made plain.

Command descriptions are often a handler's docstring, written for Sphinx
(``:mod:`ffn_async.ordersync.outbox```, ````ffn-async outbox````); ``--help`` shows them as a person
reads them (``ffn_async.ordersync.outbox``, ``ffn-async outbox``). Every parser of the command uses
:class:`Parser`, so a new command gets this without asking.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

__all__ = ["HelpFormatter", "Parser", "plain"]

# :role:`text`, :role:`~a.b.Name` (shown as Name) and :role:`title <target>` (shown as title).
_ROLE = re.compile(r":[\w:.-]+:`(~?)([^`<]*?)(?:\s*<[^>]*>)?`")
_LITERAL = re.compile(r"``(.+?)``")


def plain(text: str) -> str:
    """``text`` with Sphinx roles and double-backquoted literals in plain words."""

    def role(match: re.Match[str]) -> str:
        tilde, target = match.groups()
        return target.rsplit(".", 1)[-1] if tilde else target

    return _LITERAL.sub(r"\1", _ROLE.sub(role, text))


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps descriptions' line breaks (the epilog's tables), and shows roles as plain text."""

    def _format_text(self, text: str) -> str:
        return super()._format_text(plain(text))

    def _expand_help(self, action: argparse.Action) -> str:
        return plain(super()._expand_help(action))


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose help goes through :class:`HelpFormatter` by default; its
    subcommands' parsers are of this class too (``add_subparsers`` uses the parent's class)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)
