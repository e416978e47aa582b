"""Regenerate everything that comes from the two FFN specs, in one command.

Usage::

    python tools/generate.py [SPECS_DIR]          # rewrite every generated file
    python tools/generate.py --check [SPECS_DIR]  # exit 1 if a committed file differs (CI)

SPECS_DIR defaults to ``<repo>/specs`` (the committed copies). In order:

* ``tools/generate_models.py``: ``ffn_async/models/`` (per-API models);
* ``tools/generate_api.py``: ``ffn_async/api/`` namespaces and registry, their blocking twins
  in ``ffn_async/blocking/``, ``docs/operations.md``, ``ffn_async/_error_codes.py``;
* ``tools/generate_payloads.py``: ``tests/models/fixtures/<api>.json`` (a payload per schema);
* ``tools/generate_fake_fixtures.py``: ``ffn_async/testing/shapes.py`` and
  ``tests/testing/spec_operations.json`` (the fake server's and the conformance tests' view).

Each generator still runs alone with the same arguments. What the generators know beyond the
specs (operation names, the Shared API table, docstring tables, model topics) is data in
``tools/data/``; every generated file starts with a line naming this command.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate_api
import generate_fake_fixtures
import generate_models
import generate_payloads
from _generated import SPECS

GENERATORS = (generate_models, generate_api, generate_payloads, generate_fake_fixtures)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("specs", nargs="?", type=Path, default=SPECS, help="the specs directory")
    parser.add_argument("--check", action="store_true", help="exit 1 if a committed file differs")
    args = parser.parse_args(argv)
    code = 0
    for generator in GENERATORS:
        forwarded = [*(["--check"] if args.check else []), str(args.specs)]
        code = max(code, generator.main(forwarded))
        if code and not args.check:
            break  # a later generator may read what an earlier one failed to write
    return code


if __name__ == "__main__":
    raise SystemExit(main())
