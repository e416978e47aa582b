"""The Prism lane's summary line per API at the end of the run."""

from __future__ import annotations

import pytest

from .summary import lines


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    found = lines()
    if found:
        terminalreporter.section("Prism conformance (tests/conformance)")
        for line in found:
            terminalreporter.write_line(line)
