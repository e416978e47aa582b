"""tools/generate_docs.py: the site's generated pages cover the README, every public name and
every operation (the Sphinx build itself runs in CI, `sphinx-build -W`)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import generate_docs  # noqa: E402

from ffn_async.api import OPERATIONS  # noqa: E402


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    docs = tmp_path_factory.mktemp("docs")
    generate_docs.generate(docs)
    return docs


def test_every_readme_section_is_a_guide_page(site: Path) -> None:
    titles = [title for title, _ in generate_docs.readme_sections(ROOT / "README.md")]
    assert "Quickstart" in titles
    for title in titles:
        page = site / "guide" / f"{generate_docs._slug(title)}.md"
        assert page.read_text().startswith(f"# {title}\n")


def test_readme_links_are_made_to_work_from_the_guide() -> None:
    pages = {"reliability": "reliability.md", "the-outbox": "order-sync.md#the-outbox"}
    body = (
        "see [Reliability](#reliability), [box](#the-outbox), [ops](docs/operations.md), "
        "[ex](examples/web_service.py), [JTL](https://example.invalid/x), [in](#a-subsection), "
        "[more](docs/guide/more/install.md)"
    )
    assert generate_docs._relink(body, pages) == (
        "see [Reliability](reliability.md), [box](order-sync.md#the-outbox), "
        "[ops](../operations.md), "
        "ex (`examples/web_service.py` in the repository), [JTL](https://example.invalid/x), "
        "[in](#a-subsection), [more](install.md)"
    )


def test_a_link_to_a_subsection_leads_to_its_page(site: Path) -> None:
    """A README link to a ``###`` heading of another section goes to that page's heading."""
    page = (site / "guide" / "many-accounts-and-many-workers.md").read_text()
    assert "(order-sync-that-loses-nothing.md#many-feeds-across-workers)" in page


def test_every_public_name_is_in_the_reference(site: Path) -> None:
    reference = "\n".join(p.read_text() for p in (site / "reference").glob("*.rst"))
    for module in generate_docs.public_modules():
        for name in module.__all__:
            assert f".{name}" in reference or f"``{name}``" in reference, (module, name)
    assert ".. autoclass:: ffn_async.FFNClient" in reference
    assert ".. autoclass:: token_stores.TokenStore" in reference


def test_every_operation_has_its_page(site: Path) -> None:
    pages = list((site / "reference" / "operations").glob("*/*.md"))
    assert len(pages) - 3 == len(OPERATIONS)  # less one index per API
    page = (site / "reference" / "operations" / "merchant" / "OutboundsGetAll.md").read_text()
    assert "`GET /v1/merchant/outbounds`" in page
    assert "ffn_async.api.merchant.MerchantOutbounds.list" in page
    assert "ffn_async.models.merchant.Outbound`" in page
    assert "`ffn.merchant.read`" in page


def test_a_sections_subheadings_sit_one_level_below_the_page_title() -> None:
    """A README ``###`` under a page whose ``##`` became its H1 would jump H1 to H3 (a -W error)."""
    body = "\n### Sub\n\ntext\n\n#### Deeper\n\n```bash\n### not a heading\n```\n"
    assert generate_docs._promote_headings(body) == (
        "\n## Sub\n\ntext\n\n### Deeper\n\n```bash\n### not a heading\n```\n"
    )
