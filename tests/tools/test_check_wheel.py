"""tools/check_wheel.py: what CI checks in the built wheel, on wheels made here to order."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import check_wheel  # noqa: E402

METADATA = "Metadata-Version: 2.4\nName: ffn-async\nLicense-Expression: MIT\n\n"


def _wheel(path: Path, *, leave_out: str = "", add: tuple[str, ...] = ()) -> Path:
    names = [
        p.relative_to(ROOT).as_posix()
        for package in check_wheel.PACKAGES
        for p in (ROOT / package).rglob("*.py")
    ]
    names += ["ffn_async/py.typed", "token_stores/py.typed", "x.dist-info/licenses/LICENSE"]
    with zipfile.ZipFile(path, "w") as archive:
        for name in [*names, *add]:
            if name != leave_out:
                archive.writestr(name, "")
        archive.writestr("x.dist-info/METADATA", METADATA)
    return path


def test_a_complete_wheel_passes(tmp_path: Path) -> None:
    assert check_wheel.problems(_wheel(tmp_path / "ok.whl")) == []


@pytest.mark.parametrize(
    ("leave_out", "add", "problem"),
    [
        ("token_stores/py.typed", (), "missing token_stores/py.typed"),
        ("ffn_async/cli/app.py", (), "missing module ffn_async/cli/app.py"),
        ("", ("tests/test_token.py",), "unexpected top-level tests/ in the wheel"),
        ("", ("ffn_async/test_helpers.py",), "test module ffn_async/test_helpers.py in the wheel"),
        ("x.dist-info/licenses/LICENSE", (), "no LICENSE in the wheel's .dist-info/licenses/"),
    ],
)
def test_each_problem_is_named(
    tmp_path: Path, leave_out: str, add: tuple[str, ...], problem: str
) -> None:
    wheel = _wheel(tmp_path / "bad.whl", leave_out=leave_out, add=add)
    assert problem in check_wheel.problems(wheel)
    assert check_wheel.main([str(wheel)]) == 1
