"""Look-ahead for medicine names: generic and brand names and RxNorm products the knowledge base
recognises, so what a prescriber picks is what the interaction rules will match."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from gabaguide.knowledge import Knowledge
from gabaguide.knowledge.model import normalise


class Suggestion(BaseModel):
    name: str
    kind: Literal["gabapentinoid", "generic", "brand", "rxnorm"]
    rxcui: str | None = None
    ingredients: tuple[str, ...] = ()


def suggestions(k: Knowledge, query: str, limit: int) -> list[Suggestion]:
    """Entries whose name has a word starting with the query (or whose RxNorm code starts with it),
    names before RxNorm products, shorter names first."""
    q = normalise(query)
    if not q:
        return []
    out = []
    for key, s in _index(k):
        if (s.rxcui or "").startswith(q) or key.startswith(q) or f" {q}" in key:
            out.append(s)
            if len(out) >= limit:
                break
    return out


def _index(k: Knowledge) -> list[tuple[str, Suggestion]]:
    return k.remember(("web.suggest",), lambda: _build_index(k))


def _build_index(k: Knowledge) -> list[tuple[str, Suggestion]]:
    rows: dict[tuple[str, str], Suggestion] = {}

    def add(s: Suggestion) -> None:
        rows.setdefault((s.kind, normalise(s.name)), s)

    for p in k.products:
        add(Suggestion(name=p.name, kind="gabapentinoid", ingredients=(p.ingredient,)))
        for brand in p.brands:
            add(Suggestion(name=brand, kind="gabapentinoid", ingredients=(p.ingredient,)))
    for c in k.interactions.classes:
        for ing in c.ingredients:
            add(Suggestion(name=ing, kind="generic", ingredients=(ing,)))
        for named in c.names:
            add(Suggestion(name=named.name, kind="brand", ingredients=named.ingredients))
    for d in k.drugs:
        for ing in d.ingredients:
            add(Suggestion(name=ing, kind="generic", ingredients=(ing,)))
        if d.brand:
            add(Suggestion(name=d.brand, kind="brand", ingredients=d.ingredients))
        add(Suggestion(name=d.display, kind="rxnorm", rxcui=d.rxcui, ingredients=d.ingredients))
    order = {"gabapentinoid": 0, "generic": 1, "brand": 2, "rxnorm": 3}
    return sorted(
        ((normalise(s.name), s) for s in rows.values()),
        key=lambda r: (order[r[1].kind], len(r[0]), r[0]),
    )
