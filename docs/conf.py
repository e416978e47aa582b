"""Sphinx configuration of the ffn-async documentation site.

Build: ``sphinx-build -W -n docs docs/_build/html`` (``pip install '.[docs]'``). The guide,
the API reference and the operation pages are generated at each build by
``tools/generate_docs.py`` from README.md and the code, so they cannot go stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import generate_docs  # noqa: E402
from sphinx.errors import PycodeError  # noqa: E402
from sphinx.pycode import ModuleAnalyzer  # noqa: E402

from ffn_async import __version__  # noqa: E402

project = "ffn-async"
author = "ffn-async developers"
copyright = "2026, ffn-async developers"
release = __version__
version = ".".join(__version__.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",  # the docstrings' Args:/Returns:/Raises: sections
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "guide/more"]
html_theme = "furo"
html_title = f"ffn-async {release}"

# MyST: heading anchors for links such as [Reliability](reliability.md#reliability).
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

# autodoc: signatures as written (annotations are strings under `from __future__`).
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
autodoc_default_options = {"exclude-members": "__init__, __new__"}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_attr_annotations = True

# Internal links only: nothing is fetched from the internet (there is no intersphinx), and
# `-n` (nitpicky) reports every reference into ffn_async or token_stores that resolves to
# nothing. References to other packages' objects cannot resolve without intersphinx: ignored.
nitpick_ignore_regex = [
    (r"py:.*", r"(?!ffn_async\b|token_stores\b|~ffn_async\b|~token_stores\b).*"),
]
linkcheck_ignore = [r"https?://.*"]  # `-b linkcheck` checks the site's own links only
# A short name in an annotation that two packages define (StoreError is token_stores' and
# ffn_async.errors' wrapper of it): Sphinx picks one and says so; that is not an error.
suppress_warnings = ["ref.python"]


def _generate(app: object) -> None:
    generate_docs.generate(Path(__file__).resolve().parent)


def _no_class_docstring_on_data(
    app: object, what: str, name: str, obj: object, options: object, lines: list[str]
) -> None:
    """A constant without a ``#:`` comment would show its class's docstring (``dict``'s
    for a dict, ``CreateKind``'s attribute list for ``creates.OUTBOUND``): show none."""
    if what != "data":
        return
    module, _, attribute = name.rpartition(".")
    try:
        commented = ("", attribute) in ModuleAnalyzer.for_module(module).find_attr_docs()
    except PycodeError:
        commented = False
    if not commented:
        lines.clear()


def setup(app: object) -> None:
    app.connect("builder-inited", _generate)  # type: ignore[attr-defined]
    app.connect("autodoc-process-docstring", _no_class_docstring_on_data)  # type: ignore[attr-defined]
