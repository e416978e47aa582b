"""The README's quickstart works when pasted: its first Python block runs as a script."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import readme_block, run_script

README = Path(__file__).resolve().parents[1] / "README.md"


def test_quickstart_runs_as_pasted(tmp_path: Path) -> None:
    result = run_script(readme_block("Quickstart"), tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "logged in as MERC" in result.stdout
    # It once printed `page.total` as the number of outbounds: that is the number of pages.
    assert "0 outbounds on the first page" in result.stdout.splitlines()
    assert (tmp_path / "tokens").is_dir()


def test_order_sync_example_runs_as_pasted(tmp_path: Path) -> None:
    result = run_script(readme_block("Order sync that loses nothing"), tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "A-1: recovered",
        "A-2 kept: True",
        "replayed: ['A-2']",
        "A-2 Pending",
        "A-1 Shipped",
    ]
