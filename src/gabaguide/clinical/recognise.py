"""Recognise a medication: by RxNorm code, brand, ingredient or common name, alone or combined.

The vocabulary is the CDC value sets' RxNorm products (imported into the knowledge base) plus the
common names listed with each drug class. A medication's classes come from its ingredients and,
for a coded product, from the value sets that hold its code. Nothing is guessed: text that names no
known ingredient is reported as not recognised.
"""

from __future__ import annotations

from dataclasses import dataclass

from gabaguide.domain import Medication
from gabaguide.knowledge import Knowledge, normalise
from gabaguide.knowledge.schema import Product

# Words of an RxNorm or free-text name that say the product is not immediate release.
_MODIFIED_RELEASE_WORDS = (
    " extended ", " 24 hr ", " er ", " xr ", " cr ", " gastroretentive ", " once daily ",
)  # fmt: skip
_MAX_WORDS = 4  # the longest name looked up as a phrase ("milk of magnesia", "lyrica cr")
_MIN_SINGLE_WORD = 4  # shorter single words match only as the whole text (avoids "ms", "cr")


@dataclass(frozen=True)
class Recognised:
    """What a medication is: its ingredients, drug classes and how it was recognised."""

    label: str
    ingredients: frozenset[str]
    classes: frozenset[str]
    matched_by: str


def recognise(k: Knowledge, med: Medication) -> Recognised | None:
    """The medication's ingredients and classes, or None when neither code nor name is known."""
    if med.rxcui is not None:
        entry = k.drug_by_rxcui.get(med.rxcui)
        if entry is not None:
            ingredients = frozenset(entry.ingredients)
            classes = _classes(k, ingredients).union(
                *(k.classes_by_valueset.get(vs, frozenset()) for vs in entry.valuesets)
            )
            return Recognised(
                med.name, ingredients, classes, f"RxNorm {med.rxcui} ({entry.display})"
            )
    ingredients = ingredients_in(k, med.name)
    if not ingredients:
        return None
    return Recognised(med.name, ingredients, _classes(k, ingredients), f"name {med.name!r}")


def product_named(k: Knowledge, rxcui: str | None, name: str) -> Product | None:
    """The gabapentinoid product: by its RxNorm code, else by name (product or brand name in the
    text, else the ingredient with the release form the text states, immediate if it states none)."""
    if rxcui is not None and rxcui in k.product_form_by_rxcui:
        return k.product_form_by_rxcui[rxcui][0]
    if not name:
        return None
    text = normalise(name)
    if text in k.product_by_name:
        return k.product_by_name[text]
    for key in k.brand_names_longest_first:
        if f" {key} " in f" {text} ":
            return k.product_by_name[key]
    ingredients = ingredients_in(k, name)
    candidates = [p for p in k.products if p.ingredient in ingredients]
    if len(candidates) > 1:
        modified = any(w in f" {text} " for w in _MODIFIED_RELEASE_WORDS)
        candidates = [p for p in candidates if (p.release != "immediate") == modified]
    return candidates[0] if len(candidates) == 1 else None


def ingredients_in(k: Knowledge, text: str) -> frozenset[str]:
    """Ingredients named in free text: the whole text, else the longest known phrases in it
    (so 'hydrocodone/acetaminophen 5/325' and 'Tylenol with codeine' are both recognised)."""
    names = k.ingredients_by_name
    whole = normalise(text)
    if whole in names:
        return names[whole]
    words = whole.split()
    found: set[str] = set()
    i = 0
    while i < len(words):
        for n in range(min(_MAX_WORDS, len(words) - i), 0, -1):
            phrase = " ".join(words[i : i + n])
            if phrase in names and (n > 1 or len(phrase) >= _MIN_SINGLE_WORD):
                found |= names[phrase]
                i += n
                break
        else:
            i += 1
    return frozenset(found)


def _classes(k: Knowledge, ingredients: frozenset[str]) -> frozenset[str]:
    return frozenset().union(*(k.classes_by_ingredient.get(i, frozenset()) for i in ingredients))
