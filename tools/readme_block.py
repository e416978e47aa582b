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


def block(section: str, language: str = "python", readme: Path = README) -> str:
    """The first ``language`` code block of the README's ``## <section>`` (before the next)."""
    parts = readme.read_text().split(f"\n## {section}\n", 1)
    if len(parts) < 2:
        raise LookupError(f"the README has no section {section!r}")
    found = re.search(rf"```{language}\n(.*?)```", parts[1].split("\n## ", 1)[0], re.S)
    if found is None:
        raise LookupError(f"the README's section {section!r} has no {language} block")
    return found.group(1)


if __name__ == "__main__":
    print(block(sys.argv[1] if len(sys.argv) > 1 else "Quickstart"), end="")
