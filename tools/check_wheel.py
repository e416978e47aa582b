"""Check a built wheel holds what a user installs and nothing else (CI runs this).

Usage::

    python tools/check_wheel.py dist/ffn_async-*.whl

Checked: every module of ``ffn_async`` and ``token_stores`` in the source tree is in the
wheel, both packages carry ``py.typed`` (PEP 561: without it a type checker ignores the
shipped annotations), no test module or repository file came along, the license is there
and the metadata names it by its SPDX expression. Exit 1 with one line per problem.
"""

from __future__ import annotations

import sys
import zipfile
from email.parser import HeaderParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ffn_async", "token_stores")


def problems(wheel: Path, root: Path = ROOT) -> list[str]:
    """What is wrong with ``wheel`` compared with the source tree at ``root``."""
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata_name = next((n for n in names if n.endswith(".dist-info/METADATA")), None)
        metadata = archive.read(metadata_name).decode() if metadata_name else ""
    found: list[str] = []
    sources = {
        path.relative_to(root).as_posix()
        for package in PACKAGES
        for path in (root / package).rglob("*.py")
    }
    found += [f"missing module {name}" for name in sorted(sources - names)]
    found += [
        f"missing {package}/py.typed" for package in PACKAGES if f"{package}/py.typed" not in names
    ]
    top_levels = {name.split("/", 1)[0] for name in names if "/" in name}
    stray = {t for t in top_levels if not t.endswith(".dist-info")} - set(PACKAGES)
    found += [f"unexpected top-level {t}/ in the wheel" for t in sorted(stray)]
    found += [
        f"test module {name} in the wheel"
        for name in sorted(names)
        if "/tests/" in f"/{name}" or name.rsplit("/", 1)[-1].startswith("test_")
    ]
    if not any(n.endswith(".dist-info/licenses/LICENSE") for n in names):
        found.append("no LICENSE in the wheel's .dist-info/licenses/")
    headers = HeaderParser().parsestr(metadata)
    if headers.get("License-Expression") != "MIT":
        found.append(f"License-Expression is {headers.get('License-Expression')!r}, not 'MIT'")
    return found


def main(argv: list[str]) -> int:
    """Check each wheel named in ``argv``; the exit code is 1 if any has a problem."""
    if not argv:
        print("usage: python tools/check_wheel.py WHEEL...", file=sys.stderr)
        return 2
    failed = False
    for wheel in map(Path, argv):
        found = problems(wheel)
        for problem in found:
            print(f"{wheel.name}: {problem}", file=sys.stderr)
        if not found:
            print(f"{wheel.name}: ok")
        failed = failed or bool(found)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
