"""Print the first Python block of a README section, to run it as pasted (CI runs the
Quickstart this way against the installed wheel; tests/test_readme.py runs it too).

Usage::

    python tools/readme_block.py Quickstart > quickstart.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def block(section: str, readme: Path = README) -> str:
    """The first ```python block after the ``## <section>`` heading."""
    text = readme.read_text()
    start = text.find(f"\n## {section}")
    if start < 0:
        raise LookupError(f"the README has no section {section!r}")
    found = re.search(r"```python\n(.*?)```", text[start:], re.S)
    if found is None:
        raise LookupError(f"the README's section {section!r} has no Python block")
    return found.group(1)


if __name__ == "__main__":
    print(block(sys.argv[1] if len(sys.argv) > 1 else "Quickstart"), end="")
