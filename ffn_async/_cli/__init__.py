"""Internals of the ``ffn-async`` command (entry point: :func:`ffn_async.cli.main`)."""

from __future__ import annotations

__all__: list[str] = []
