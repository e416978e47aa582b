"""Write the generated pages of the documentation site (docs/conf.py runs this at each build).

Usage::

    python tools/generate_docs.py [DOCS_DIR]

Three kinds of page, none committed (each build writes them afresh from the code, so they
cannot go stale):

* ``guide/<section>.md``: one page per ``## `` section of README.md, the README's text with
  its links made to work from the page (other sections, docs/ pages, files of the
  repository); ``guide/more/<section>.md``, where it exists, is appended (what a reader of
  the site needs beyond the README).
* ``reference/<module>.rst``: the API reference, every name in the ``__all__`` of every
  public module, documented once where it is defined (re-exports link there).
* ``reference/operations/<api>/<operationId>.md``: one page per operation of
  :data:`ffn_async.api.OPERATIONS` (method, path, scope, Python method, models, errors).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import shutil
import sys
from pathlib import Path
from types import ModuleType

from ffn_async.api import OPERATIONS, Operation
from ffn_async.errors import _ERROR_TYPES, RateLimited

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PACKAGES = ("ffn_async", "token_stores")
#: Packages whose submodules are internals: the package's own ``__all__`` is the public part.
CLOSED = ("ffn_async.cli", "ffn_async.testing")
GUIDE_INDEX_TITLE = "User guide"

# ------------------------------------------------------------------ the guide, from README.md


def _slug(title: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def readme_sections(readme: Path) -> list[tuple[str, str]]:
    """``(title, body)`` of each ``## `` section (the part above the first is the intro)."""
    text = readme.read_text()
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    return [(parts[i].strip(), parts[i + 1]) for i in range(1, len(parts), 2)]


def _relink(body: str, pages: dict[str, str]) -> str:
    """README links as they work from ``docs/guide/``."""

    def link(match: re.Match[str]) -> str:
        text, target = match.groups()
        if re.match(r"[a-z][a-z+.-]*:", target):  # https:, mailto: …
            return match.group(0)
        if target.startswith("#"):
            page = pages.get(target[1:])
            return f"[{text}]({page})" if page else match.group(0)
        if target.startswith("docs/guide/more/"):  # appended to the guide page of that name
            return f"[{text}]({target.removeprefix('docs/guide/more/')})"
        if target.startswith("docs/"):
            return f"[{text}](../{target.removeprefix('docs/')})"
        # A file of the repository (examples/, benchmarks/): not part of the site.
        return f"{text} (`{target}` in the repository)"

    return re.sub(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)", link, body)


def _promote_headings(body: str) -> str:
    """A README section's ``###`` headings one level up: the section's title is the page's H1."""
    lines, fenced = [], False
    for line in body.split("\n"):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("###"):
            line = line[1:]
        lines.append(line)
    return "\n".join(lines)


def write_guide(docs: Path, readme: Path) -> list[str]:
    """Write ``guide/*.md`` and its index; return the page names in README order."""
    guide = docs / "guide"
    sections = readme_sections(readme)
    pages = {}  # README anchor -> where it lives on the site
    for title, body in sections:
        for sub in re.findall(r"^### (.+)$", body, flags=re.M):
            pages[_slug(sub)] = f"{_slug(title)}.md#{_slug(sub)}"
        pages[_slug(title)] = f"{_slug(title)}.md"
    names = []
    for title, body in sections:
        name = _slug(title)
        more = guide / "more" / f"{name}.md"
        extra = "\n" + more.read_text() if more.is_file() else ""
        body = _promote_headings(_relink(body, pages))
        _write(guide / f"{name}.md", f"# {title}\n{body}{extra}")
        names.append(name)
    toc = "\n".join(names)
    _write(
        guide / "index.md",
        f"# {GUIDE_INDEX_TITLE}\n\nThe README's sections, one page each, with more where a "
        "reader needs it.\n\n```{toctree}\n:maxdepth: 1\n\n" + toc + "\n```\n",
    )
    return names


# ------------------------------------------------------------------ the API reference


def public_modules() -> list[ModuleType]:
    """Every module with an ``__all__`` and no private part in its name."""
    found = []
    for package in PACKAGES:
        root = importlib.import_module(package)
        names = [package] + [
            info.name
            for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}.")
            if not any(part.startswith("_") for part in info.name.split("."))
        ]
        for name in names:
            if any(name.startswith(closed + ".") for closed in CLOSED):
                continue
            module = importlib.import_module(name)
            if getattr(module, "__all__", None):
                found.append(module)
    return found


def _homes(modules: list[ModuleType]) -> dict[int, str]:
    """Where each exported class or function is documented: the shallowest module exporting
    it (``ffn_async.FFNClient``, ``token_stores.TokenStore``: how users import them), so that
    every object is described once and its other exports link there."""
    homes: dict[int, str] = {}
    for module in sorted(modules, key=lambda m: (m.__name__.count("."), m.__name__)):
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                homes.setdefault(id(obj), module.__name__)
    return homes


def _directive(obj: object) -> str:
    if inspect.ismodule(obj):
        return ""
    if inspect.isclass(obj):
        if issubclass(obj, BaseException):
            return "autoexception"
        return "autoclass"
    if inspect.isfunction(obj) or inspect.isbuiltin(obj):
        return "autofunction"
    return "autodata"


def write_reference(docs: Path) -> list[str]:
    """Write ``reference/<module>.rst`` for every public module; return the page names."""
    modules = public_modules()
    homes = _homes(modules)
    names = []
    for module in modules:
        title = f"``{module.__name__}``"
        lines = [title, "=" * len(title), "", f".. automodule:: {module.__name__}", ""]
        aliases = []
        for name in module.__all__:
            obj = getattr(module, name)
            home = homes.get(id(obj))
            if inspect.ismodule(obj):
                aliases.append(f"* ``{name}``: the module :mod:`{obj.__name__}`")
            elif home is not None and home != module.__name__:
                aliases.append(f"* :py:obj:`{home}.{name}`")
            else:
                directive = _directive(obj)
                options = (
                    "   :members:\n   :show-inheritance:\n" if directive == "autoclass" else ""
                )
                lines += [f".. {directive}:: {module.__name__}.{name}", options]
        if aliases:
            lines += ["Also importable from here:", "", *aliases, ""]
        _write(docs / "reference" / f"{module.__name__}.rst", "\n".join(lines) + "\n")
        names.append(module.__name__)
    return names


# ------------------------------------------------------------------ one page per operation


def _namespace_class(op: Operation) -> str | None:
    """``ffn_async.api.merchant.MerchantOutbounds.list`` for ``merchant.outbounds.list``."""
    *path, method = op.python.split(".")
    api = path[0]
    name = "".join(part.title().replace("_", "") for part in path)
    module = importlib.import_module(f"ffn_async.api.{api}")
    cls = getattr(module, name, None)
    if cls is None or not hasattr(cls, method):
        return None
    return f"ffn_async.api.{api}.{name}.{method}"


def write_operations(docs: Path) -> list[str]:
    """Write one page per operation and an index per API; return the index page names."""
    errors = {**_ERROR_TYPES, 429: RateLimited}
    base = docs / "reference" / "operations"
    by_api: dict[str, list[Operation]] = {}
    for op in OPERATIONS.values():
        by_api.setdefault(op.api, []).append(op)
    indexes = []
    for api, ops in sorted(by_api.items()):
        ops.sort(key=lambda op: op.operation_id)
        for op in ops:
            _write(base / api / f"{op.operation_id}.md", _operation_page(op, errors))
        toc = "\n".join(op.operation_id for op in ops)
        title = f"{api.title()} API operations"
        _write(
            base / api / "index.md",
            f"# {title}\n\n{len(ops)} operations, generated from `ffn_async.api.OPERATIONS`."
            f"\n\n```{{toctree}}\n:maxdepth: 1\n\n{toc}\n```\n",
        )
        indexes.append(f"{api}/index")
    _write(
        base / "index.md",
        "# Operations\n\nOne page per operation of the FFN APIs: method, path, scope, the "
        "Python method, its models and the errors it raises. The same registry as a single "
        "table: [the operation table](../../operations.md).\n\n```{toctree}\n:maxdepth: 1\n\n"
        + "\n".join(indexes)
        + "\n```\n",
    )
    return indexes


def _operation_page(o: Operation, errors: dict[int, type]) -> str:
    method = _namespace_class(o)
    python = f"{{py:meth}}`ffn.{o.python}() <{method}>`" if method else f"`ffn.{o.python}()`"
    models = f"ffn_async.models.{'shared' if o.api == 'shared' else o.api}"
    rows = [
        ("HTTP", f"`{o.method} {o.path}`"),
        ("Python", python),
        ("also", ", ".join(f"`{a}()`" for a in o.also) or "-"),
        ("scope", f"`{o.scope}`" if o.scope else "any valid token"),
        ("request", _model(models, o.request_model)),
        ("response", _model(models, o.response_model) + f" (decoded as `{o.kind}`)"),
        ("success", f"`{o.status}`" if o.status else "-"),
        ("source", f"evidence grade {o.grade}" if o.grade else "the API's OpenAPI spec"),
    ]
    lines = [f"# {o.operation_id}", "", o.summary, "", "| | |", "| --- | --- |"]
    lines += [f"| {key} | {value} |" for key, value in rows]
    lines += ["", "## Errors", ""]
    for status in o.errors:
        error = errors.get(status)
        shown = f"{{py:exc}}`~ffn_async.errors.{error.__name__}`" if error else "ApiError"
        lines.append(f"- `{status}`: {shown}")
    lines += [
        "- any status: {py:exc}`~ffn_async.errors.ApiError` and its subclasses; "
        "{py:exc}`~ffn_async.errors.TransportError` when FFN cannot be reached; "
        "{py:exc}`~ffn_async.errors.MissingScope` before sending, when the token lacks the "
        "scope",
        "",
    ]
    return "\n".join(lines)


def _model(module: str, name: str | None) -> str:
    if not name:
        return "-"
    cls = getattr(importlib.import_module(module), name, None)
    if cls is None:
        cls_module = "ffn_async.models.common"
        if getattr(importlib.import_module(cls_module), name, None) is None:
            return f"`{name}`"
        module = cls_module
    return f"{{py:class}}`~{module}.{name}`"


# ------------------------------------------------------------------ all of it


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text() != text:  # unchanged pages stay unchanged
        path.write_text(text)


def generate(docs: Path = DOCS, readme: Path = ROOT / "README.md") -> None:
    """Write every generated page under ``docs``."""
    for generated in (docs / "reference",):
        if generated.is_dir():
            shutil.rmtree(generated)
    for stale in (docs / "guide").glob("*.md"):
        stale.unlink()
    write_guide(docs, readme)
    names = write_reference(docs)
    write_operations(docs)
    toc = "\n".join(names)
    _write(
        docs / "reference" / "index.md",
        "# API reference\n\nEvery public module and every name in its `__all__`.\n\n"
        "```{toctree}\n:maxdepth: 1\n\n" + toc + "\noperations/index\n```\n",
    )


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else DOCS)
