"""The Prism lane's departures from the specs stay few, named and still needed, and the lane
cannot pass quietly where Prism is missing."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from . import prism
from .oddities import ODDITIES, SPEC_FILES, SPECS, prism_document, spec


@pytest.mark.parametrize("oddity", ODDITIES, ids=lambda o: o.__name__)
def test_every_oddity_still_finds_what_it_smooths(
    oddity: Callable[[dict[str, Any]], list[str]],
) -> None:
    """An oddity that no longer changes anything (the spec was fixed) must be deleted."""
    changed = {api: prism_document(api)[1][oddity.__name__] for api in SPEC_FILES}
    assert any(changed.values()), f"{oddity.__name__} changes nothing: remove it"


def test_the_copy_leaves_paths_parameters_and_request_bodies_alone() -> None:
    """What a request is checked against is the spec's own (but for the oddities' schemas)."""
    for api in SPEC_FILES:
        original, copy = spec(api), prism_document(api)[0]
        assert copy["paths"].keys() == original["paths"].keys()
        for path, item in original["paths"].items():
            for method, operation in item.items():
                patched = copy["paths"][path][method]
                assert patched.get("parameters") == operation.get("parameters")
                assert patched.get("requestBody") == operation.get("requestBody")


def test_the_committed_specs_are_the_hashed_ones() -> None:
    lines = (SPECS / "SHA256SUMS").read_text().splitlines()
    sums = {name: digest for digest, name in (line.split() for line in lines)}
    for name in SPEC_FILES.values():
        assert hashlib.sha256((SPECS / name).read_bytes()).hexdigest() == sums[name]


@pytest.mark.parametrize(
    ("ci", "outcome"), [("", pytest.skip.Exception), ("true", pytest.fail.Exception)]
)
def test_without_prism_the_lane_skips_and_under_ci_fails(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ci: str, outcome: type[BaseException]
) -> None:
    monkeypatch.setenv("CI", ci)
    monkeypatch.setenv("PRISM", str(tmp_path / "no-prism"))
    with pytest.raises(outcome, match="npm ci --prefix tools/prism"):
        prism.prism_binary()
