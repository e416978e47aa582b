"""The committed models match the generator; mypy --strict catches misuse of the models."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from mypy import api as mypy_api

REPO = Path(__file__).resolve().parents[2]


def test_generator_check_passes(schemas: dict[str, Any]) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / "generate_models.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_generator_is_deterministic_and_check_detects_drift(
    tmp_path: Path, schemas: dict[str, Any], monkeypatch: Any
) -> None:
    import generate_models  # on sys.path via tests/models/payloads.py

    files = generate_models.generate(generate_models.DEFAULT_SPEC)
    assert files == generate_models.generate(generate_models.DEFAULT_SPEC)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    monkeypatch.setattr(generate_models, "OUT", tmp_path)
    assert generate_models.main(["--check"]) == 0
    (tmp_path / "outbounds.py").write_text(files["outbounds.py"] + "# edited by hand\n")
    assert generate_models.main(["--check"]) == 1
    (tmp_path / "outbounds.py").write_text(files["outbounds.py"])
    (tmp_path / "stale.py").write_text("")
    assert generate_models.main(["--check"]) == 1


SNIPPET = textwrap.dedent(
    """
    from __future__ import annotations

    from decimal import Decimal

    from ffn_async import models

    good = models.CreateOutboundItem(outbound_item_id="1", quantity=Decimal(2))
    patch = models.UpdateProduct(note=None, name="x")
    status: models.OutboundStatusType | str = models.OutboundStatusType.SHIPPED

    wrong_name = models.CreateOutboundItem(outbound_item_id="1", quantity=Decimal(2), quantiy=3)
    wrong_type = models.CreateOutboundItem(outbound_item_id=1, quantity=Decimal(2))
    missing = models.CreateOutboundItem(quantity=Decimal(2))
    not_nullable = models.UpdateProduct(name=None)
    bad_member = models.OutboundStatusType.SHIPED
    bad_attribute = good.quantityy
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
    lines = SNIPPET.splitlines()
    expected = {
        i + 1
        for i, line in enumerate(lines)
        if line.split(" = ")[0]
        in {"wrong_name", "wrong_type", "missing", "not_nullable", "bad_member", "bad_attribute"}
    }
    assert errors == expected, stdout + stderr
