"""The model generator is deterministic and its check catches drift; mypy --strict catches
misuse."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from mypy import api as mypy_api

REPO = Path(__file__).resolve().parents[2]


# The committed files against the committed specs (specs/) is `python tools/generate.py
# --check`, a step of .ci/run: the suite itself must run on a clone without the specs. Here the
# generator's own behaviour is checked on a tiny spec pair written for the test.
TINY_SCHEMAS: dict[str, Any] = {
    "Thing": {
        "type": "object",
        "required": ["id"],
        "properties": {"id": {"type": "string"}, "count": {"type": "integer"}},
    },
    "Address": {"type": "object", "properties": {"city": {"type": "string"}}},  # used by User
    "ModificationInfo": {
        "type": "object",
        "properties": {"createdAt": {"type": "string", "format": "date-time"}},
    },
}


@pytest.fixture
def tiny_specs(tmp_path: Path) -> Path:
    """Both spec files, sharing three schemas; the merchant's has one of its own."""
    import generate_models

    specs = tmp_path / "specs"
    specs.mkdir()
    own = {"OnlyMerchant": {"type": "object", "properties": {"x": {"type": "boolean"}}}}
    for api, name in generate_models.SPEC_FILES.items():
        schemas = {**TINY_SCHEMAS, **(own if api == "merchant" else {})}
        spec = {
            "openapi": "3.0.1",
            "info": {"title": api, "version": "1"},
            "paths": {},
            "components": {"schemas": schemas},
        }
        (specs / name).write_text(json.dumps(spec), encoding="utf-8")
    return specs


def test_generator_is_deterministic_and_check_detects_drift(
    tmp_path: Path, tiny_specs: Path, monkeypatch: Any
) -> None:
    import generate_models

    files = generate_models.generate(tiny_specs)
    assert files == generate_models.generate(tiny_specs)
    assert set(files) == {"__init__.py", "common.py", "fulfiller.py", "merchant.py", "shared.py"}
    assert "class Thing:" in files["common.py"]  # in both specs alike: one class
    assert "class OnlyMerchant:" in files["merchant.py"]
    assert "class OnlyMerchant:" not in files["fulfiller.py"]
    out = tmp_path / "models"
    out.mkdir()
    for name, text in files.items():
        (out / name).write_text(text)
    monkeypatch.setattr(generate_models, "OUT", out)
    assert generate_models.main(["--check", str(tiny_specs)]) == 0
    (out / "merchant.py").write_text(files["merchant.py"] + "# edited by hand\n")
    assert generate_models.main(["--check", str(tiny_specs)]) == 1
    (out / "merchant.py").write_text(files["merchant.py"])
    (out / "stale.py").write_text("")
    assert generate_models.main(["--check", str(tiny_specs)]) == 1


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


def test_generated_modules_import_every_annotation_name_at_run_time() -> None:
    # The codec resolves a model's annotations in its own module and nowhere else
    # (ffn_async.codec._modelinfo.fields): no name may hide under TYPE_CHECKING.
    for api in ("common", "fulfiller", "merchant", "shared"):
        source = (REPO / "ffn_async" / "models" / f"{api}.py").read_text()
        assert "TYPE_CHECKING" not in source, api
