"""The committed models and payload fixtures match the generators; mypy --strict catches misuse."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from mypy import api as mypy_api

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("tool", ["generate_models.py", "generate_payloads.py"])
def test_generator_check_passes(tool: str, specs: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / tool), "--check", str(specs)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_generator_is_deterministic_and_check_detects_drift(
    tmp_path: Path, specs: Path, monkeypatch: Any
) -> None:
    import generate_models

    files = generate_models.generate(specs)
    assert files == generate_models.generate(specs)
    assert set(files) == {"__init__.py", "common.py", "fulfiller.py", "merchant.py", "shared.py"}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    monkeypatch.setattr(generate_models, "OUT", tmp_path)
    assert generate_models.main(["--check", str(specs)]) == 0
    (tmp_path / "merchant.py").write_text(files["merchant.py"] + "# edited by hand\n")
    assert generate_models.main(["--check", str(specs)]) == 1
    (tmp_path / "merchant.py").write_text(files["merchant.py"])
    (tmp_path / "stale.py").write_text("")
    assert generate_models.main(["--check", str(specs)]) == 1


def test_the_generators_need_both_specs(tmp_path: Path) -> None:
    import generate_models
    import generate_payloads

    assert generate_models.main(["--check", str(tmp_path)]) == 2
    assert generate_payloads.main(["--check", str(tmp_path)]) == 2


SNIPPET = textwrap.dedent(
    """
    from __future__ import annotations

    from decimal import Decimal

    from ffn_async.models import fulfiller, merchant

    good = merchant.CreateOutboundItemRequest(outbound_item_id="1", jfsku="J", quantity=Decimal(2))
    patch = merchant.UpdateProductRequest(note=None, name="x")
    status: merchant.OutboundStatusType | str = merchant.OutboundStatusType.SHIPPED


    def ship(outbound: merchant.Outbound) -> None: ...


    def relay(outbound: fulfiller.Outbound) -> None:
        ship(outbound)  # error: the other API's Outbound


    Item = merchant.CreateOutboundItemRequest
    wrong_name = Item(outbound_item_id="1", quantity=Decimal(2), quantiy=3)  # error
    wrong_type = Item(outbound_item_id=1, quantity=Decimal(2))  # error
    missing = Item(quantity=Decimal(2))  # error
    not_nullable = merchant.UpdateProductRequest(name=None)  # error
    bad_member = merchant.OutboundStatusType.SHIPED  # error
    bad_attribute = good.quantityy  # error
    """
)


def test_mypy_strict_catches_wrong_names_and_types(tmp_path: Path) -> None:
    user_code = tmp_path / "user_code.py"
    user_code.write_text(SNIPPET)
    stdout, stderr, _ = mypy_api.run(
        [
            "--strict",
            "--no-error-summary",
            "--follow-imports=silent",
            "--cache-dir",
            str(tmp_path / ".mypy_cache"),
            str(user_code),
        ]
    )
    errors = {int(line.split(":")[1]) for line in stdout.splitlines() if ": error:" in line}
    expected = {i + 1 for i, line in enumerate(SNIPPET.splitlines()) if "# error" in line}
    assert len(expected) == 7
    assert errors == expected, stdout + stderr
