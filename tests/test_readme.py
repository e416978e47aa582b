"""The README's quickstart works when pasted: its first Python block runs as a script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from readme_block import block  # noqa: E402  (the one extraction, shared with CI)


def test_quickstart_runs_as_pasted(tmp_path: Path) -> None:
    script = tmp_path / "quickstart.py"
    script.write_text(block("Quickstart"))
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "logged in as MERC" in result.stdout
    # It once printed `page.total` as the number of outbounds: that is the number of pages.
    assert "0 outbounds on the first page" in result.stdout.splitlines()
    assert (tmp_path / "tokens").is_dir()


def test_order_sync_example_runs_as_pasted(tmp_path: Path) -> None:
    script = tmp_path / "order_sync.py"
    script.write_text(block("Order sync that loses nothing"))
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "A-1: recovered",
        "A-2 kept: True",
        "replayed: ['A-2']",
        "A-2 Pending",
        "A-1 Shipped",
    ]
