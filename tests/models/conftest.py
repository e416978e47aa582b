from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.services import unavailable

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "tools") not in sys.path:
    sys.path.insert(0, str(REPO / "tools"))


@pytest.fixture
def specs() -> Path:
    """``../shared/specs`` for the generator checks (skipped on a laptop without it, CI fails)."""
    import generate_models

    if not all((generate_models.SPECS / n).is_file() for n in generate_models.SPEC_FILES.values()):
        unavailable(f"the specs are not in {generate_models.SPECS}")
    return Path(generate_models.SPECS)
