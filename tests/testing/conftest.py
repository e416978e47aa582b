"""Load the fake's pytest plugin for these tests, whether or not its entry point is installed."""

from __future__ import annotations

from .raw_client import call  # noqa: F401 - the raw HTTP caller fixture


def basic(login: str, password: str) -> str:
    """An HTTP Basic ``Authorization`` value, written out here so the fake's decoder is tested
    against RFC 7617 itself rather than against the client's own encoder."""
    import base64

    return "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode("ascii")
