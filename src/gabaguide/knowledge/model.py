"""The loaded knowledge base: validated records plus the look-ups the rules need."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

from gabaguide.domain import Citation
from gabaguide.knowledge.auditfile import AuditFile
from gabaguide.knowledge.cdsfile import CdsFile
from gabaguide.knowledge.diaryfile import DiaryFile, RedFlag, SideEffect
from gabaguide.knowledge.planningfile import PlanningFile
from gabaguide.knowledge.schema import (
    AdverseReaction,
    AlternativesFile,
    DosingFile,
    DosingScheme,
    DrugClass,
    DrugEntry,
    FailedTreatmentNote,
    FindingKind,
    Indication,
    InteractionsFile,
    MmeFactor,
    OpioidStrength,
    PkModel,
    PkParameter,
    Product,
    ProductForm,
    RenalBand,
    RenalFile,
    ScreensFile,
    Source,
    Statement,
    SwitchFile,
    TermGroup,
)

T = TypeVar("T")
MEMO_LIMIT = 20_000
"""Entries the derived-value memo holds before it starts again (not clinical: memory)."""


@dataclass(frozen=True)
class Knowledge:
    """Everything in ``knowledge/data``, validated and cross-checked by the loader."""

    sources: tuple[Source, ...]
    products: tuple[Product, ...]
    indications: tuple[Indication, ...]
    failed_treatments: tuple[FailedTreatmentNote, ...]
    dosing: DosingFile
    renal: RenalFile
    finding_kinds: tuple[FindingKind, ...]
    screens: ScreensFile
    interactions: InteractionsFile
    alternatives: AlternativesFile
    switch: SwitchFile
    drugs: tuple[DrugEntry, ...]
    """The RxNorm vocabulary imported from the CDC value sets (vocabulary/rxnorm.csv)."""
    mme_factors: tuple[MmeFactor, ...]
    valuesets: tuple[str, ...]
    """Ids of the imported value sets (vocabulary/manifest.toml)."""
    diary: DiaryFile
    """Diary scales, side-effect checklist, red flags, outcome categories, missed doses."""
    cds: CdsFile
    audit: AuditFile
    """The CDS Hooks service's codes, units and card policy."""
    planning: PlanningFile
    """The planning gate, creatinine reference ranges, CKD-EPI 2021 and plausibility limits."""
    opioid_strengths: tuple[OpioidStrength, ...] = ()
    """Strength of each opioid product (vocabulary/opioid-strengths.csv), to count tablets as mg."""
    statements: tuple[Statement, ...] = ()
    adverse_reactions: tuple[AdverseReaction, ...] = ()
    pk_parameters: tuple[PkParameter, ...] = field(default=())
    pk_models: tuple[PkModel, ...] = field(default=())
    memo: dict[object, Any] = field(default_factory=dict, compare=False, repr=False)
    """Derived values the rules compute once per knowledge base (e.g. built doses)."""

    @cached_property
    def source_by_id(self) -> dict[str, Source]:
        return {s.id: s for s in self.sources}

    @cached_property
    def product_by_id(self) -> dict[str, Product]:
        return {p.id: p for p in self.products}

    @cached_property
    def product_by_name(self) -> dict[str, Product]:
        """Product ids, names and brand names, lower-cased, to products."""
        out: dict[str, Product] = {}
        for p in self.products:
            for name in (p.id, p.name, *p.brands):
                out.setdefault(name.lower(), p)
        return out

    @cached_property
    def scheme_by_id(self) -> dict[str, DosingScheme]:
        return {s.id: s for s in self.dosing.schemes}

    @cached_property
    def finding_kind(self) -> dict[str, FindingKind]:
        return {f.code: f for f in self.finding_kinds}

    @cached_property
    def indication_by_name(self) -> dict[str, Indication]:
        """Indication ids, names and synonyms, normalised, to indications."""
        out: dict[str, Indication] = {}
        for ind in self.indications:
            for name in (ind.id, ind.name, *ind.synonyms):
                out.setdefault(normalise(name), ind)
        return out

    @cached_property
    def pk_parameter_by_id(self) -> dict[str, PkParameter]:
        return {p.id: p for p in self.pk_parameters}

    @cached_property
    def pk_model_by_drug(self) -> dict[str, PkModel]:
        return {m.drug: m for m in self.pk_models}

    @cached_property
    def statement_by_id(self) -> dict[str, Statement]:
        return {s.id: s for s in self.statements}

    @cached_property
    def adverse_reaction_by_id(self) -> dict[str, AdverseReaction]:
        return {r.id: r for r in self.adverse_reactions}

    @cached_property
    def side_effect_by_id(self) -> dict[str, SideEffect]:
        return {s.id: s for s in self.diary.side_effects}

    @cached_property
    def red_flag_by_id(self) -> dict[str, RedFlag]:
        return {r.id: r for r in self.diary.red_flags}

    @cached_property
    def group_by_id(self) -> dict[str, TermGroup]:
        return {g.id: g for g in self.screens.groups}

    @cached_property
    def group_terms(self) -> dict[str, tuple[str, ...]]:
        """Each term group's terms, normalised for whole-word matching."""
        return {g.id: tuple(normalise(t) for t in g.terms) for g in self.screens.groups}

    @cached_property
    def drug_class_by_id(self) -> dict[str, DrugClass]:
        return {c.id: c for c in self.interactions.classes}

    @cached_property
    def product_form_by_rxcui(self) -> dict[str, tuple[Product, ProductForm]]:
        """Each gabapentinoid product code (SCD and SBD) with its product and form."""
        return {code: (p, f) for p in self.products for f in p.forms for code in f.rxcui}

    @cached_property
    def brand_names_longest_first(self) -> tuple[str, ...]:
        """Product names and brands that are not bare ingredient names, longest first (so that
        'lyrica cr' is found before 'lyrica')."""
        ingredients = {p.ingredient for p in self.products}
        names = [n for n in self.product_by_name if n not in ingredients]
        return tuple(sorted(names, key=len, reverse=True))

    @cached_property
    def opioid_strength_by_rxcui(self) -> dict[str, OpioidStrength]:
        """One strength per product; a product listed with two opioid strengths is left out."""
        counts = Counter(s.rxcui for s in self.opioid_strengths)
        return {s.rxcui: s for s in self.opioid_strengths if counts[s.rxcui] == 1}

    @cached_property
    def drug_by_rxcui(self) -> dict[str, DrugEntry]:
        return {d.rxcui: d for d in self.drugs}

    @cached_property
    def mme_factor_by_ingredient(self) -> dict[str, MmeFactor]:
        return {m.ingredient: m for m in self.mme_factors}

    @cached_property
    def ingredients_by_name(self) -> dict[str, frozenset[str]]:
        """Normalised ingredient, brand and common names to the ingredients they stand for."""
        out: dict[str, set[str]] = {}
        for d in self.drugs:
            for ing in d.ingredients:
                out.setdefault(normalise(ing), set()).add(ing)
            if d.brand:
                out.setdefault(normalise(d.brand), set()).update(d.ingredients)
        for c in self.interactions.classes:
            for ing in c.ingredients:
                out.setdefault(normalise(ing), set()).add(ing)
            for named in c.names:
                out.setdefault(normalise(named.name), set()).update(named.ingredients)
        for p in self.products:
            for name in (p.id, p.name, *p.brands):
                out.setdefault(normalise(name), set()).add(p.ingredient)
        return {name: frozenset(ings) for name, ings in out.items()}

    @cached_property
    def classes_by_ingredient(self) -> dict[str, frozenset[str]]:
        out: dict[str, set[str]] = {}
        for c in self.interactions.classes:
            for ing in c.ingredients:
                out.setdefault(ing, set()).add(c.id)
        return {ing: frozenset(ids) for ing, ids in out.items()}

    @cached_property
    def classes_by_valueset(self) -> dict[str, frozenset[str]]:
        out: dict[str, set[str]] = {}
        for c in self.interactions.classes:
            for vs in c.valuesets:
                out.setdefault(vs, set()).add(c.id)
        return {vs: frozenset(ids) for vs, ids in out.items()}

    def remember(self, key: object, make: Callable[[], T]) -> T:
        """The value memoised under ``key`` (made by ``make`` the first time). Keys are values, never
        object identities. The memo is bounded: past ``MEMO_LIMIT`` entries it starts again, so a
        long-running server assessing ever-new patients keeps a fixed amount of memory."""
        if key in self.memo:
            value: T = self.memo[key]
            return value
        if len(self.memo) >= MEMO_LIMIT:
            self.memo.clear()
        made = self.memo[key] = make()
        return made

    def bands_for(self, product: str, indication: str | None = None) -> tuple[RenalBand, ...]:
        """The renal table rows of a product (and indication, where the table differs by one)."""
        rows = [b for b in self.renal.bands if b.product == product]
        specific = [b for b in rows if b.indication == indication]
        return tuple(specific or [b for b in rows if b.indication is None])

    def citation(self, source: str, locator: str) -> Citation:
        """A citation to a known source (a KeyError names a source that does not exist)."""
        self.source_by_id[source]
        return Citation(source=source, locator=locator)


def normalise(text: str) -> str:
    """Lower case, punctuation to spaces, single spaces: how names are matched."""
    kept = "".join(ch.lower() if ch.isalnum() else " " for ch in text)
    return " ".join(kept.split())
