"""The pytest plugin installed with the package is loaded into every pytest run of every
project that has ffn-async installed: it imports none of the fake server until it is used."""

from __future__ import annotations

import subprocess
import sys

import ffn_async.testing


def test_loading_the_plugin_imports_no_fake_server_module() -> None:
    code = (
        "import sys, pytest, ffn_async.testing.pytest_plugin\n"
        "print(sorted(m for m in sys.modules if m.startswith('ffn_async.testing')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "['ffn_async.testing', 'ffn_async.testing.pytest_plugin']"


def test_every_public_name_of_the_testing_package_resolves() -> None:
    for name in ffn_async.testing.__all__:
        assert getattr(ffn_async.testing, name) is not None
    assert set(dir(ffn_async.testing)) >= set(ffn_async.testing.__all__)
