"""The README's editable install lets a type checker outside the repository see real types.

setuptools' default editable install of a flat layout is an import hook, which mypy and IDEs
cannot follow (every ffn_async type becomes Any); ``editable_mode=compat`` writes a static
``.pth`` path instead. This installs the project the README's way into a scratch virtualenv
and type-checks a file outside the repository against it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

USER_CODE = """\
from ffn_async import FFNClient, Token
from token_stores import MemoryTokenStore

reveal_type(Token.expires_in)
reveal_type(MemoryTokenStore().load)
wrong: int = FFNClient
"""


def _readme_install_flags() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"pip install -e '\.\[dev\]'((?: --\S+(?: [\w=]+)?)*)", readme)
    assert match is not None, "the README has no editable install command"
    return match.group(1).split()


@pytest.mark.slow
def test_mypy_outside_the_repo_sees_the_types(tmp_path: Path) -> None:
    flags = _readme_install_flags()
    assert "editable_mode=compat" in flags
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "setuptools>=68", "wheel"], check=True, timeout=300)
    # No dependencies (mypy only has to find the package); the README's flags otherwise.
    subprocess.run(
        [*pip, "--no-deps", "--no-build-isolation", "-e", str(ROOT), *flags],
        check=True,
        timeout=300,
    )
    (tmp_path / "use.py").write_text(USER_CODE)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "--python-executable", str(python)]
        + ["use.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = result.stdout
    assert 'Revealed type is "def (self: ffn_async.token.Token' in out, out
    assert "token_stores.base.Record" in out, out
    assert 'expression has type "type[FFNClient]"' in out, out
    assert "import-not-found" not in out, out


def test_every_editable_install_in_the_readme_is_the_compat_one() -> None:
    # The demo's command once installed with the default import hook: a user's `mypy --strict`
    # then failed with "Cannot find implementation or library stub".
    readme = (ROOT / "README.md").read_text()
    editable = [line for line in readme.splitlines() if re.search(r"pip install -e\b", line)]
    assert len(editable) >= 2
    assert all("--config-settings editable_mode=compat" in line for line in editable), editable
