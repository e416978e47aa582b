"""The ``ffn-async`` command, all of it in this package; this module is its thin entry point.

Layout: :mod:`.app` parses the command line and maps errors to exit codes (documented in
``ffn-async --help``); :mod:`.commands` runs each command; :mod:`.config` turns ``FFN_*``
variables and options into a store and a :class:`~ffn_async.auth.TokenManager`;
:mod:`.login` is the browser login; :mod:`.outbox` the ``outbox`` commands; :mod:`.render`
tables and progress; :mod:`.demo` and :mod:`.demo_feed` the ``demo`` command. Only the
names below are public: :func:`main` (the ``ffn-async`` script) and :func:`open_account`
(a script's way to the account ``ffn-async login`` stored).
"""

from __future__ import annotations

from .app import EXIT_CODES, ConfigError, build_parser, main, open_account

__all__ = ["EXIT_CODES", "ConfigError", "build_parser", "main", "open_account"]
