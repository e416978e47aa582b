"""0.2.0's module paths keep working for one release: same objects, a warning with the new path."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from ffn_async._moved import MOVED


@pytest.mark.parametrize(("old", "new"), sorted(MOVED.items()))
def test_an_old_path_gives_the_moved_objects_and_names_the_new_path(
    old: str, new: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(sys.modules, old, raising=False)
    with pytest.warns(DeprecationWarning, match=f"{old} moved to {new} in ffn-async 0.3.0") as seen:
        __import__(old)  # as an import statement does: no importlib frame of our own
    alias = sys.modules[old]
    assert seen[0].filename == __file__  # the warning points at the importing line
    target = importlib.import_module(new)
    assert alias.__all__ == target.__all__
    for name in target.__all__:
        assert getattr(alias, name) is getattr(target, name)
    with pytest.raises(AttributeError):
        alias.no_such_name  # noqa: B018


def test_from_import_through_an_old_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "ffn_async.outbox", raising=False)
    with pytest.warns(DeprecationWarning, match="ffn_async.ordersync.outbox"):
        from ffn_async.outbox import Outbox
    from ffn_async.ordersync import Outbox as moved

    assert Outbox is moved


def test_the_library_itself_never_imports_an_old_path() -> None:
    code = (
        "import sys, ffn_async, ffn_async.cli, ffn_async.testing, ffn_async.blocking, "
        "ffn_async.ordersync, ffn_async.codec, ffn_async.observe.tracing, ffn_async.api.odata\n"
        "from ffn_async._moved import MOVED\n"
        "print(sorted(set(MOVED) & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", code],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "[]"
