"""The package as an installed user meets it: ``python -m ffn_async`` and its metadata."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from ffn_async import __version__

ROOT = Path(__file__).resolve().parents[2]


def test_python_m_ffn_async_runs_the_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ffn_async", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout.strip()) == (0, f"ffn-async {__version__}")


def test_metadata_declares_every_tested_python_and_a_license() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    assert project["license-files"] == ["LICENSE"]
    ci = (ROOT / ".ci" / "run").read_text()
    for minor in ("3.11", "3.12", "3.13"):
        assert f"Programming Language :: Python :: {minor}" in project["classifiers"]
        assert f"python{minor}" in ci or minor == "3.11", f"CI does not test {minor}"
    assert any(c.startswith("Development Status ::") for c in project["classifiers"])
    assert project["urls"]
