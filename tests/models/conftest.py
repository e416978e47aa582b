from __future__ import annotations

from typing import Any

import pytest

from .payloads import load_schemas


@pytest.fixture(scope="session")
def schemas() -> dict[str, dict[str, Any]]:
    return load_schemas()
