"""The README's "Testing your code against a fake FFN" block runs as written, in a new project."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_testing_block_runs_as_written(tmp_path: Path) -> None:
    section = README.read_text().split("## Testing your code against a fake FFN", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.S)
    assert block is not None
    (tmp_path / "test_ffn.py").write_text(block.group(1))
    # A project of its own: pytest's default (strict) asyncio mode, not this repository's.
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_ffn.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
