"""Education pages, built from the knowledge base.

``education.toml`` (beside this file) lays the pages out: each section picks cited facts from the
catalogue (``knowledge/catalogue.py``) by kind or by id prefix, under a heading and a plain-language
signpost. Every clinical statement, number and citation comes from the knowledge files, so a fact
corrected there is corrected on every page.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib.resources import files
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gabaguide.knowledge import Knowledge
from gabaguide.knowledge.catalogue import Fact, facts

Layout = Literal["list", "reactions"]


class SectionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    heading: str
    intro: str
    kinds: tuple[str, ...] = ()
    ids: tuple[str, ...] = Field((), description="fact ids, or prefixes of them")
    layout: Layout = "list"

    def picks(self, f: Fact) -> bool:
        return f.kind in self.kinds or f.id.startswith(self.ids)


class PageSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    slug: str = Field(pattern=r"^[a-z0-9-]+$")
    title: str
    summary: str
    sections: tuple[SectionSpec, ...] = Field(min_length=1)


class EducationFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    pages: tuple[PageSpec, ...]


@dataclass(frozen=True)
class Section:
    heading: str
    intro: str
    facts: tuple[Fact, ...]
    layout: Layout


@dataclass(frozen=True)
class Page:
    slug: str
    title: str
    summary: str
    sections: tuple[Section, ...]


REACTIONS: tuple[tuple[str, str], ...] = (
    ("helpful", "Helpful"),
    ("clear", "Clear"),
    ("confusing", "Confusing"),
    ("worried", "Worrying"),
)
"""The reactions offered on each page: (stored value, label)."""


def page_specs() -> tuple[PageSpec, ...]:
    text = (files("gabaguide.web") / "education.toml").read_text(encoding="utf-8")
    return EducationFile.model_validate(tomllib.loads(text)).pages


def pages(k: Knowledge) -> tuple[Page, ...]:
    """Every education page with its facts (built once per knowledge base)."""
    return k.remember(("web.education",), lambda: _build(k))


def _build(k: Knowledge) -> tuple[Page, ...]:
    cited = [f for f in facts(k) if f.citations]
    return tuple(
        Page(
            spec.slug,
            spec.title,
            spec.summary,
            tuple(
                Section(s.heading, s.intro, tuple(f for f in cited if s.picks(f)), s.layout)
                for s in spec.sections
            ),
        )
        for spec in page_specs()
    )


def page_by_slug(k: Knowledge) -> dict[str, Page]:
    return {p.slug: p for p in pages(k)}
