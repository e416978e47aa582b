"""The lane's tally per API, filled by the tests and printed by ``conftest.py`` at the end."""

from __future__ import annotations

__all__ = ["RESULTS", "lines"]

RESULTS: dict[str, dict[str, int]] = {}
"""Per API: ``requests`` sent and ``valid`` (no request violation), spec-valid ``answers`` and
``decoded`` (the typed method returned its model, or raised the documented typed error)."""


def lines() -> list[str]:
    """One line per API: requests valid N/N, answers decoded N/N."""
    return [
        f"{api}: requests valid {t['valid']}/{t['requests']}, "
        f"answers decoded {t['decoded']}/{t['answers']}"
        for api, t in sorted(RESULTS.items())
    ]
