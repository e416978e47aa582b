"""CHANGELOG.md keeps a changelog: a released section for the version the package declares."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_declared_version_has_a_released_section_below_unreleased() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    headings = re.findall(
        r"^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$", (ROOT / "CHANGELOG.md").read_text(), re.M
    )
    assert headings[0] == ("Unreleased", "")
    released = dict(headings[1:])
    assert version in released, f"CHANGELOG.md has no '## [{version}] - YYYY-MM-DD' section"
    assert released[version], "a released section carries its date"
