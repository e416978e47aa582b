"""The README's quickstart works when pasted: its first Python block runs as a script."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.helpers import readme_block, run_script

README = Path(__file__).resolve().parents[1] / "README.md"


def test_quickstart_runs_as_pasted(tmp_path: Path) -> None:
    block = re.search(r"```python\n(.*?)```", README.read_text(), re.S)
    assert block is not None, "the README has no Python quickstart"
    script = tmp_path / "quickstart.py"
    script.write_text(block.group(1))
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "logged in as MERC" in result.stdout
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
