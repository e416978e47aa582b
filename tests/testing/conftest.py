"""Load the fake's pytest plugin for these tests, whether or not its entry point is installed."""

from __future__ import annotations

from ffn_async.testing.pytest_plugin import (  # noqa: F401
    ffn_fake,
    ffn_fake_options,
    pytest_configure,
)
