"""Education pages are built from the knowledge base: every cited fact is on some page, and every
fact a page shows carries its citations, rendered as links to the source list."""

from __future__ import annotations

import re
from html import unescape

import httpx
import pytest

from gabaguide import Knowledge
from gabaguide.knowledge.catalogue import facts
from gabaguide.web.education import page_specs, pages


def test_every_cited_fact_is_on_some_page(k: Knowledge) -> None:
    shown = {(f.kind, f.id) for p in pages(k) for s in p.sections for f in s.facts}
    missing = [(f.kind, f.id) for f in facts(k) if f.citations and (f.kind, f.id) not in shown]
    assert missing == []


def test_every_section_has_facts_and_every_fact_citations(k: Knowledge) -> None:
    for page in pages(k):
        for section in page.sections:
            assert section.facts, f"{page.slug}: section {section.heading!r} selects no fact"
            for f in section.facts:
                assert f.citations, f"{page.slug}: {f.id} has no citation"
                assert all(c.source in k.source_by_id for c in f.citations)


def test_page_slugs_are_unique() -> None:
    slugs = [p.slug for p in page_specs()]
    assert len(slugs) == len(set(slugs))


@pytest.mark.parametrize("slug", [p.slug for p in page_specs()])
def test_page_renders_every_fact_with_its_citation_links(
    client: httpx.Client, k: Knowledge, slug: str
) -> None:
    r = client.get(f"/learn/{slug}")
    assert r.status_code == 200
    html = r.text
    assert "never change the dose yourself" in html
    page = {p.slug: p for p in pages(k)}[slug]
    for section in page.sections:
        for f in section.facts:
            # Each fact's element, then its citation links inside it.
            m = re.search(
                rf'<(li|tr) class="fact" data-fact="{re.escape(f.kind)}:{re.escape(f.id)}">(.*?)</\1>',
                html,
                re.S,
            )
            assert m, f"{f.id} is not rendered on /learn/{slug}"
            links = re.findall(r'href="/sources#src-([^"]+)"', m.group(2))
            assert links == [c.source for c in f.citations]
            if section.layout == "list":
                assert unescape(m.group(2)).startswith(f.text)


def test_citation_links_resolve_on_the_sources_page(client: httpx.Client, k: Knowledge) -> None:
    html = client.get("/sources").text
    for source in k.sources:
        assert f'id="src-{source.id}"' in html


def test_unknown_page_is_404(client: httpx.Client) -> None:
    r = client.get("/learn/no-such-page", headers={"accept": "text/html"})
    assert r.status_code == 404
    assert "no page" in r.text
