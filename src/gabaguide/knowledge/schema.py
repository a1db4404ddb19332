"""The shape of every knowledge file. Unknown fields, bad units and wrong types are rejected.

Each file under ``knowledge/data/`` is a TOML document validated by one ``*File`` model below.
Every record that states a clinical fact carries ``cite``: one or more ``{source, locator}`` pairs
whose ``source`` must resolve to an entry of ``sources.toml`` (checked by the loader).
"""

from __future__ import annotations

from itertools import pairwise
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gabaguide.domain import SEVERITY_ORDER, Citation, Severity


class Record(BaseModel):
    """Base of every knowledge record: strict, frozen, no unknown fields."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


Cite = tuple[Citation, ...]
NonEmptyCite = Field(min_length=1)


# --- sources ---------------------------------------------------------------------------------------


class Source(Record):
    id: str
    title: str
    document: str
    url: str | None = None
    kind: Literal[
        "label",
        "label-non-us",
        "regulator",
        "guideline",
        "study",
        "secondary",
        "reference",
        "decision",
    ]
    jurisdiction: str | None = None
    note: str | None = None


class SourcesFile(Record):
    sources: tuple[Source, ...]


# --- products --------------------------------------------------------------------------------------

Measure = Literal["capsule", "tablet", "mL"]


class ProductForm(Record):
    form: Literal[
        "capsule",
        "tablet",
        "once-daily tablet",
        "extended-release tablet",
        "oral solution",
    ]
    measure: Measure
    strength_mg: float = Field(gt=0, description="mg per piece, or mg per mL for a solution")
    label: str = Field(description="Strength as printed, e.g. '250 mg/5 mL'")
    scored: bool = False
    measure_step_ml: float | None = Field(None, gt=0)
    rxcui: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _solution_has_step(self) -> ProductForm:
        if (self.measure == "mL") != (self.measure_step_ml is not None):
            raise ValueError("measure_step_ml is required for mL forms and only for them")
        return self


class Product(Record):
    id: str
    name: str
    ingredient: Literal["gabapentin", "gabapentin enacarbil", "pregabalin"]
    brands: tuple[str, ...] = ()
    release: Literal["immediate", "once-daily gastroretentive", "extended-release"]
    interchange_group: str
    may_crush_split_or_chew: bool
    take_with: Literal["with or without food", "evening meal", "food", "not stated"]
    forms: tuple[ProductForm, ...] = Field(min_length=1)
    instructions: tuple[str, ...] = ()
    cite: Cite = NonEmptyCite


class ProductsFile(Record):
    products: tuple[Product, ...]


# --- indications -----------------------------------------------------------------------------------


class Indication(Record):
    id: str
    name: str
    synonyms: tuple[str, ...] = ()
    gabapentin_status: Literal["approved", "off-label", "not-recommended"]
    approved_products: tuple[str, ...] = ()
    population: str
    first_line: bool | None = None
    evidence: str
    schemes: tuple[str, ...] = ()
    cite: Cite = NonEmptyCite


class FailedTreatmentNote(Record):
    """What a failed treatment of ``group`` means for the indications listed (all when empty)."""

    group: str
    text: str
    indications: tuple[str, ...] = ()
    cite: Cite = NonEmptyCite


class IndicationsFile(Record):
    indications: tuple[Indication, ...]
    failed_treatments: tuple[FailedTreatmentNote, ...] = ()


# --- dosing ----------------------------------------------------------------------------------------

AmountUnit = Literal["mg/day", "mg/kg/day"]


class Step(Record):
    """From ``from_day`` on (until the next step), ``daily`` in ``doses_per_day`` equal doses."""

    from_day: int = Field(ge=1)
    daily: float = Field(gt=0)
    doses_per_day: int = Field(ge=1, le=6)
    every_n_days: int = Field(1, ge=1)


class DosingScheme(Record):
    id: str
    product: str
    indication: str
    min_age_years: float | None = None
    max_age_years: float | None = Field(None, description="exclusive")
    unit: AmountUnit
    steps: tuple[Step, ...] = Field(min_length=1)
    step_up: float | None = Field(
        None, gt=0, description="increase per step after the printed ones"
    )
    step_interval_days: int | None = Field(None, ge=1)
    doses_per_day: int = Field(ge=1, le=6)
    every_n_days: int = Field(1, ge=1)
    target_daily: float = Field(gt=0)
    maintenance_min_daily: float = Field(gt=0)
    maintenance_max_daily: float = Field(gt=0)
    max_daily: float = Field(gt=0)
    instructions: tuple[str, ...] = ()
    cite: Cite = NonEmptyCite

    @model_validator(mode="after")
    def _consistent(self) -> DosingScheme:
        days = [s.from_day for s in self.steps]
        if days != sorted(set(days)) or days[0] != 1:
            raise ValueError("steps must start on day 1 and have increasing from_day")
        if not self.maintenance_min_daily <= self.maintenance_max_daily <= self.max_daily:
            raise ValueError("need maintenance_min_daily <= maintenance_max_daily <= max_daily")
        if not self.target_daily <= self.max_daily:
            raise ValueError("target_daily must not exceed max_daily")
        if (self.step_up is None) != (self.step_interval_days is None):
            raise ValueError("step_up and step_interval_days go together")
        return self


class TaperRule(Record):
    """The general taper: never abrupt, at least ``min_days``, stepping down through ``levels``."""

    product: str = Field(description="product id, or '*' for any product without its own")
    indication: str | None = Field(None, description="only for this indication")
    min_days: int = Field(ge=1)
    levels: tuple[float, ...] = Field(
        min_length=1, description="fractions of the current daily dose, decreasing, each in (0, 1)"
    )
    doses_per_day: int | None = Field(None, ge=1, description="fixed frequency while tapering")
    cite: Cite = NonEmptyCite

    @model_validator(mode="after")
    def _decreasing(self) -> TaperRule:
        lv = self.levels
        if any(not 0 < x < 1 for x in lv) or list(lv) != sorted(lv, reverse=True):
            raise ValueError("levels must be decreasing fractions between 0 and 1")
        return self


class DoseTimes(Record):
    """Default clock times for ``doses_per_day`` doses of a product (``*`` = any)."""

    product: str
    indication: str | None = None
    doses_per_day: int = Field(ge=1, le=6)
    times: tuple[str, ...]
    note: str | None = None
    cite: Cite = NonEmptyCite

    @model_validator(mode="after")
    def _times(self) -> DoseTimes:
        if len(self.times) != self.doses_per_day:
            raise ValueError("need one time per dose")
        for t in self.times:
            _check_clock(t)
        return self


class Limits(Record):
    max_interval_h: float = Field(gt=0)
    label_max_daily_mg: float = Field(gt=0)
    generic_scheme: str = Field(description="titration used when only target_daily_mg is given")
    solids_within_fraction: float = Field(
        gt=0,
        le=1,
        description="an adult dose rounded down to solids must keep at least this fraction of "
        "the dose wanted, else the oral solution measures it",
    )
    cite: Cite = NonEmptyCite


def _check_clock(t: str) -> None:
    hh, _, mm = t.partition(":")
    if not (hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60 and len(mm) == 2):
        raise ValueError(f"time {t!r} is not HH:MM")


class Scheduling(Record):
    """What the dose-time scheduler needs: the patient's day when not given, and spacing rules."""

    default_wake: str
    default_sleep: str
    default_meals: tuple[str, ...]
    grid_minutes: int = Field(ge=1, le=60, description="clock times are multiples of this")
    antacid_gap_h: float = Field(gt=0, description="take gabapentin at least this long after")
    usual_antacid_after_meal_min: int = Field(ge=0, description="usual pattern: after each meal")
    usual_antacid_at_bedtime: bool
    maintenance_days: int = Field(ge=1, description="maintenance days scheduled and dispensed")
    reminder_minutes_before: int = Field(ge=0, description="calendar reminder lead time")
    cite: Cite = NonEmptyCite

    @model_validator(mode="after")
    def _times(self) -> Scheduling:
        for t in (self.default_wake, self.default_sleep, *self.default_meals):
            _check_clock(t)
        return self


class DosingFile(Record):
    limits: Limits
    scheduling: Scheduling
    schemes: tuple[DosingScheme, ...]
    taper_rules: tuple[TaperRule, ...]
    dose_times: tuple[DoseTimes, ...]


# --- renal -----------------------------------------------------------------------------------------


class CockcroftGault(Record):
    age_offset_years: float
    denominator: float
    female_factor: float
    creatinine_unit: Literal["mg/dL"]
    weight: Literal["actual"]
    cite: Cite = NonEmptyCite


class CreatinineConversion(Record):
    umol_per_l_per_mg_dl: float = Field(gt=0)
    cite: Cite = NonEmptyCite


class RenalBand(Record):
    """One printed row of a renal dosing table, with its edges exactly as printed."""

    id: str
    product: str
    indication: str | None = None
    label: str
    dialysis: Literal["none", "hemodialysis"] = "none"
    crcl_min: float | None = None
    crcl_min_inclusive: bool = True
    crcl_max: float | None = None
    crcl_max_inclusive: bool = True
    action: Literal["dose", "avoid"]
    daily_min_mg: float | None = None
    daily_max_mg: float | None = None
    doses_per_day: int | None = None
    every_n_days: int = 1
    regimen_options_mg: tuple[float, ...] = ()
    scheme: str | None = None
    no_taper: bool = Field(False, description="the label says no taper is needed in this band")
    instruction: str | None = None
    cite: Cite = NonEmptyCite

    @model_validator(mode="after")
    def _dose_fields(self) -> RenalBand:
        dosed = (self.daily_min_mg, self.daily_max_mg, self.doses_per_day)
        if self.action == "dose" and None in dosed:
            raise ValueError("a 'dose' band needs daily_min_mg, daily_max_mg and doses_per_day")
        if self.action == "avoid" and any(x is not None for x in dosed):
            raise ValueError("an 'avoid' band has no dose fields")
        lo, hi = self.daily_min_mg, self.daily_max_mg
        if lo is not None and hi is not None and lo > hi:
            raise ValueError("daily_min_mg exceeds daily_max_mg")
        return self


class ProportionalBelow(Record):
    """Below ``crcl_below``, scale the band ``reference_band`` by CrCl / ``reference_crcl``."""

    product: str
    crcl_below: float
    reference_band: str
    reference_crcl: float = Field(gt=0)
    cite: Cite = NonEmptyCite


class HemodialysisSupplement(Record):
    product: str
    maintenance_mg: float = Field(gt=0)
    supplement_mg: float = Field(gt=0)
    after_hours_of_dialysis: float = Field(gt=0)
    cite: Cite = NonEmptyCite


class GapRule(Record):
    rule: Literal["lower-function"]
    explanation: str
    cite: Cite = NonEmptyCite


class RenalFile(Record):
    cockcroft_gault: CockcroftGault
    creatinine: CreatinineConversion
    gap_rule: GapRule
    bands: tuple[RenalBand, ...]
    proportional: tuple[ProportionalBelow, ...] = ()
    hemodialysis_supplements: tuple[HemodialysisSupplement, ...] = ()


# --- findings catalogue ----------------------------------------------------------------------------


class FindingKind(Record):
    code: str = Field(pattern=r"^[a-z]+(\.[a-z0-9-]+)+$")
    severity: Severity
    title: str
    description: str


class FindingsFile(Record):
    findings: tuple[FindingKind, ...]


# --- descriptive facts -----------------------------------------------------------------------------


class AdverseReaction(Record):
    id: str
    study: str = Field(description="which trial pool, e.g. 'PHN placebo-controlled (Table 3)'")
    population: str
    reaction: str
    drug_pct: float = Field(ge=0, le=100)
    placebo_pct: float | None = Field(None, ge=0, le=100)
    n_drug: int | None = None
    n_placebo: int | None = None
    cite: Cite = NonEmptyCite


class Statement(Record):
    """A sourced sentence: mechanism, warnings, pregnancy, lactation, misuse, efficacy, ..."""

    id: str
    topic: Literal[
        "identity",
        "mechanism",
        "warning",
        "pregnancy",
        "lactation",
        "pediatric",
        "elderly",
        "misuse",
        "withdrawal",
        "efficacy",
        "administration",
        "storage",
        "article-correction",
    ]
    text: str
    severity: Severity | None = None
    cite: Cite = NonEmptyCite


PkUnit = Literal[
    "L", "L/h", "mL/min", "h", "1/h", "%", "fraction", "mg", "mg/L", "ug*h/mL", "L/kg", "kg"
]


class PkParameter(Record):
    id: str
    drug: Literal["gabapentin", "pregabalin"]
    model: str = Field(description="'label' or the model's short name, e.g. 'tran-2017'")
    name: str
    value: float
    unit: PkUnit
    low: float | None = None
    high: float | None = None
    context: str = ""
    cite: Cite = NonEmptyCite


class PkVariability(Record):
    """Between-subject variability of one parameter, log-normal: ``θ_i = θ·exp(η_i)``.

    ``reads_as = "omega"``: the referenced number is the SD of η (a ``%`` unit means ω*100);
    ``"cv"``: it is a coefficient of variation, and ``ω = sqrt(ln(1 + CV²))``.
    """

    param: str
    reads_as: Literal["omega", "cv"]


class PkModel(Record):
    """A population PK model assembled from cited ``pk_parameters`` (each field names one by id).

    One compartment with first-order absorption; ``CL = cl * min(CrCl, crcl_cap)/crcl_reference``
    (proportional to CrCl), times ``(WT/weight_reference)^exponent`` and the female factor when
    given. Bioavailability is ``dmax/(d50 + dose)`` per administration when both are given, else
    ``CL`` and ``V`` are apparent (``CL/F``, ``V/F``) and F is 1.
    """

    id: str
    drug: Literal["gabapentin", "pregabalin"]
    name: str
    summary: str
    ka: str
    lag: str
    v: str
    cl: str
    crcl_reference: str
    crcl_cap: str | None = None
    weight_reference: str | None = None
    cl_weight_exponent: str | None = None
    v_weight_exponent: str | None = None
    cl_female_factor: str | None = None
    v_female_factor: str | None = None
    bioavailability_dmax: str | None = None
    bioavailability_d50: str | None = None
    iiv_cl: PkVariability | None = None
    iiv_v: PkVariability | None = None
    iiv_ka: PkVariability | None = None
    iiv_f: PkVariability | None = None
    dialysis_half_life_on: str | None = None
    dialysis_half_life_off: str | None = None
    antacid_bioavailability_reduction: str | None = None
    decisions: tuple[str, ...] = ()


class FactsFile(Record):
    statements: tuple[Statement, ...] = ()
    adverse_reactions: tuple[AdverseReaction, ...] = ()
    pk_parameters: tuple[PkParameter, ...] = ()
    pk_models: tuple[PkModel, ...] = ()


# --- safety screens and predicates -----------------------------------------------------------------


class Predicate(Record):
    """One test about the patient; a ``when`` list holds if any of its predicates holds. Age tests
    in one predicate combine (``age_at_least`` 3 and ``age_below`` 12 is a range)."""

    always: bool | None = None
    allergy_group: str | None = None
    condition_group: str | None = None
    flag: Literal["pregnant", "breastfeeding", "alcohol_use"] | None = None
    age_at_least: float | None = None
    age_below: float | None = None
    crcl_below: float | None = None
    crcl_unknown: bool | None = None
    drug_classes: tuple[str, ...] = ()
    reason: str | None = Field(None, description="how the reason reads in a finding")

    @model_validator(mode="after")
    def _one_test(self) -> Predicate:
        ages = self.age_at_least is not None or self.age_below is not None
        tests = [
            self.always is not None,
            self.allergy_group is not None,
            self.condition_group is not None,
            self.flag is not None,
            ages,
            self.crcl_below is not None,
            self.crcl_unknown is not None,
            bool(self.drug_classes),
        ]
        if sum(tests) != 1:
            raise ValueError("a predicate needs exactly one test")
        return self


When = tuple[Predicate, ...]


class TermGroup(Record):
    """Words that name one kind of condition or allergy (matched as whole words)."""

    id: str
    terms: tuple[str, ...] = Field(min_length=1)
    cite: Cite = NonEmptyCite


class Screen(Record):
    id: str
    finding: str
    summary: str
    action: str
    when: When = Field(min_length=1)
    statements: tuple[str, ...] = ()
    cite: Cite = NonEmptyCite


class ScreensFile(Record):
    groups: tuple[TermGroup, ...]
    screens: tuple[Screen, ...]


# --- interactions ----------------------------------------------------------------------------------


class NamedProduct(Record):
    """A common or brand name and the ingredients it stands for."""

    name: str
    ingredients: tuple[str, ...] = Field(min_length=1)


class DrugClass(Record):
    id: str
    name: str
    valuesets: tuple[str, ...] = ()
    ingredients: tuple[str, ...] = ()
    names: tuple[NamedProduct, ...] = ()
    cite: Cite = NonEmptyCite


class MmeTier(Record):
    at_least: float = Field(ge=0)
    severity: Severity
    label: str


class InteractionRule(Record):
    id: str
    finding: str
    classes: tuple[str, ...] = Field(min_length=1)
    effect: str
    mechanism: str
    action: str
    mme_unknown_severity: Severity | None = None
    mme_tiers: tuple[MmeTier, ...] = ()
    not_the_assessed_product: bool = Field(
        False, description="the product being planned or taken now does not trigger the rule"
    )
    cite: Cite = NonEmptyCite

    @model_validator(mode="after")
    def _tiers(self) -> InteractionRule:
        starts = [t.at_least for t in self.mme_tiers]
        if starts != sorted(starts) or (starts and starts[0] != 0):
            raise ValueError("mme_tiers must start at 0 and increase")
        ranks = [SEVERITY_ORDER[t.severity] for t in self.mme_tiers]
        if ranks != sorted(ranks):
            raise ValueError("mme_tiers severity must never fall as MME rises")
        if self.mme_tiers and self.mme_unknown_severity is None:
            raise ValueError("mme_tiers need mme_unknown_severity")
        if (
            self.mme_unknown_severity is not None
            and ranks
            and (SEVERITY_ORDER[self.mme_unknown_severity] < ranks[-1])
        ):
            raise ValueError("an unknown MME must be rated at least as severe as the top tier")
        return self


class InteractionsFile(Record):
    classes: tuple[DrugClass, ...]
    rules: tuple[InteractionRule, ...]


class DrugEntry(Record):
    """One RxNorm product of the imported vocabulary (knowledge/data/vocabulary/rxnorm.csv)."""

    rxcui: str
    display: str
    ingredients: tuple[str, ...]
    brand: str | None
    valuesets: tuple[str, ...]


class OpioidStrength(Record):
    """Strength of one opioid product (vocabulary/opioid-strengths.csv), per piece or per unit."""

    rxcui: str
    ingredient: str
    strength_value: float
    strength_unit: str
    dose_form: str


class ValueSetInfo(Record):
    """Provenance of one imported value set (vocabulary/manifest.toml, generated)."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)

    id: str
    title: str
    url: str


class ValueSetsManifest(Record):
    valuesets: tuple[ValueSetInfo, ...] = Field(min_length=1)


class MmeFactor(Record):
    ingredient: str
    ingredient_rxcui: str
    factor: float = Field(gt=0)
    unit_note: str


# --- alternatives and switch -----------------------------------------------------------------------


class AlternativeCaution(Record):
    when: When = Field(min_length=1)
    severity: Severity
    summary: str
    cite: Cite = NonEmptyCite


class AlternativeRecord(Record):
    id: str
    name: str
    drug_class: str
    line_of_therapy: str
    usual_dose: str
    indications: tuple[str, ...]
    notes: tuple[str, ...] = ()
    cautions: tuple[AlternativeCaution, ...] = ()
    cite: Cite = NonEmptyCite


class ComparisonRecord(Record):
    alternative: str
    feature: str
    gabapentin: str
    other: str
    article_says: str | None = None
    cite: Cite = NonEmptyCite


class AlternativesFile(Record):
    alternatives: tuple[AlternativeRecord, ...]
    comparison: tuple[ComparisonRecord, ...] = ()


class ConversionRow(Record):
    above_mg: float = Field(ge=0)
    up_to_mg: float | None = None
    pregabalin_mg: float = Field(gt=0)
    label: str


class Conversion(Record):
    from_ingredient: str
    to_product: str
    caveat: str
    last_previous_dose: str
    rows: tuple[ConversionRow, ...] = Field(min_length=1)
    cite: Cite = NonEmptyCite

    @model_validator(mode="after")
    def _contiguous(self) -> Conversion:
        rows = self.rows
        if rows[0].above_mg != 0 or rows[-1].up_to_mg is not None:
            raise ValueError("conversion rows must start at 0 and end open")
        for a, b in pairwise(rows):
            if a.up_to_mg != b.above_mg:
                raise ValueError("conversion rows must be contiguous")
        return self


class DoseRange(Record):
    low: float = Field(gt=0)
    high: float = Field(gt=0)


class PregabalinRenalRow(Record):
    label: str
    crcl_min: float | None = None
    crcl_min_inclusive: bool = True
    crcl_max: float | None = None
    crcl_max_inclusive: bool = True
    doses_per_day: tuple[int, ...] = Field(min_length=1)
    columns: tuple[DoseRange, ...]


class PregabalinRenal(Record):
    normal_columns: tuple[float, ...] = Field(min_length=1)
    rows: tuple[PregabalinRenalRow, ...] = Field(min_length=1)
    cite: Cite = NonEmptyCite

    @model_validator(mode="after")
    def _columns(self) -> PregabalinRenal:
        if any(len(r.columns) != len(self.normal_columns) for r in self.rows):
            raise ValueError("every renal row needs one column per normal_columns entry")
        return self


class PregabalinLimit(Record):
    indication: str
    max_daily_mg: float = Field(gt=0)
    doses_per_day: tuple[int, ...] = Field(min_length=1)
    cite: Cite = NonEmptyCite


class Division(Record):
    preferred_doses_per_day: tuple[int, ...] = Field(min_length=1)
    cite: Cite = NonEmptyCite


class SwitchFile(Record):
    conversion: Conversion
    pregabalin_renal: PregabalinRenal
    division: Division
    pregabalin_limits: tuple[PregabalinLimit, ...]
