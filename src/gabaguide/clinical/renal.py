"""Kidney function: creatinine clearance, the label's band for it, and hemodialysis supplements.

CrCl is a measured value when the caller gives one, else Cockcroft-Gault from serum creatinine
(mg/dL or umol/L), age, actual weight and sex. Missing data is never filled in: without a CrCl the
renal dose is reported as not checked. Band edges are those printed in the label; a CrCl between
printed rows (or on a value printed in two rows) gets the lower-function row (``gap_rule``).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import isclose
from typing import Literal

from gabaguide.domain import Citation, Finding, Patient
from gabaguide.knowledge import Knowledge
from gabaguide.knowledge.schema import HemodialysisSupplement, ProportionalBelow, RenalBand

from .findings import finding

#: The age below which the label's renal dosing has not been studied is the youngest age the
#: label's adult and adolescent table covers; it is read from the epilepsy scheme for 12 and over.
_ADOLESCENT_SCHEME = "epilepsy-ir-12-plus"


@dataclass(frozen=True)
class CrCl:
    """A creatinine clearance and how it was obtained."""

    ml_min: float | None
    method: Literal["measured", "cockcroft-gault", "not-available"]
    missing: tuple[str, ...] = ()
    citations: tuple[Citation, ...] = ()


@dataclass(frozen=True)
class RenalRange:
    """The daily dose range and frequency that the renal table gives for one patient and product."""

    band: RenalBand
    daily_min_mg: float | None
    daily_max_mg: float | None
    doses_per_day: int | None
    every_n_days: int
    proportional: ProportionalBelow | None
    in_gap: bool
    regimen_options_mg: tuple[float, ...] = ()

    @property
    def avoid(self) -> bool:
        return self.band.action == "avoid"

    @property
    def label(self) -> str:
        if self.proportional is not None:
            return f"<{self.proportional.crcl_below:g} (proportional to CrCl)"
        return self.band.label

    @property
    def citations(self) -> tuple[Citation, ...]:
        extra = self.proportional.cite if self.proportional else ()
        return (*self.band.cite, *extra)


def creatinine_mg_dl(value: float, unit: str, k: Knowledge) -> float:
    """Serum creatinine in mg/dL."""
    if unit == "mg/dL":
        return value
    return value / k.renal.creatinine.umol_per_l_per_mg_dl


def cockcroft_gault(
    age_years: float, weight_kg: float, female: bool, scr_mg_dl: float, k: Knowledge
) -> float:
    """Creatinine clearance (mL/min) by Cockcroft-Gault as printed in the gabapentin labels."""
    cg = k.renal.cockcroft_gault
    crcl = (cg.age_offset_years - age_years) * weight_kg / (cg.denominator * scr_mg_dl)
    return crcl * cg.female_factor if female else crcl


def adolescent_min_age(k: Knowledge) -> float:
    """Youngest age the label's renal table applies to (the scheme for 12 years and over)."""
    age = k.scheme_by_id[_ADOLESCENT_SCHEME].min_age_years
    assert age is not None
    return age


def estimate_crcl(patient: Patient, k: Knowledge) -> CrCl:
    """Measured CrCl if given; else Cockcroft-Gault when every input is there; else not available."""
    if patient.crcl_ml_min is not None:
        return CrCl(patient.crcl_ml_min, "measured")
    missing = tuple(
        name
        for name, value in (
            ("serum_creatinine", patient.serum_creatinine),
            ("age_years", patient.age_years),
            ("weight_kg", patient.weight_kg),
            ("sex", patient.sex),
        )
        if value is None
    )
    if missing:
        return CrCl(None, "not-available", missing)
    assert patient.serum_creatinine is not None
    assert patient.age_years is not None
    assert patient.weight_kg is not None
    if patient.age_years < adolescent_min_age(k):
        return CrCl(None, "not-available", ())
    scr = creatinine_mg_dl(patient.serum_creatinine.value, patient.serum_creatinine.unit, k)
    value = cockcroft_gault(patient.age_years, patient.weight_kg, patient.sex == "female", scr, k)
    citations = (*k.renal.cockcroft_gault.cite, *k.renal.creatinine.cite)
    return CrCl(max(value, 0.0), "cockcroft-gault", (), citations)


def _contains(band: RenalBand, crcl: float) -> bool:
    lo, hi = band.crcl_min, band.crcl_max
    above = lo is None or crcl > lo or (band.crcl_min_inclusive and crcl == lo)
    below = hi is None or crcl < hi or (band.crcl_max_inclusive and crcl == hi)
    return above and below


def _low_edge(band: RenalBand) -> float:
    return float("-inf") if band.crcl_min is None else band.crcl_min


def _high_edge(band: RenalBand) -> float:
    if band.crcl_max is not None:
        return band.crcl_max
    return float("inf") if band.crcl_min is None else band.crcl_min


def renal_range(
    k: Knowledge, product: str, indication: str | None, crcl: float | None, dialysis: str | None
) -> RenalRange | None:
    """The renal table row for this CrCl (None if the product has no table or CrCl is unknown)."""
    bands = k.bands_for(product, indication)
    if not bands:
        return None
    if dialysis == "hemodialysis":
        hd = [b for b in bands if b.dialysis == "hemodialysis"]
        if hd:
            return _range(hd[0], None, in_gap=False)
    if crcl is None:
        return None
    rows = [b for b in bands if b.dialysis == "none"]
    hits = [b for b in rows if _contains(b, crcl)]
    if len(hits) == 1:
        return _range(hits[0], None, in_gap=False)
    if hits:  # printed in two rows: the lower-function row
        return _range(min(hits, key=_low_edge), None, in_gap=True)
    for rule in k.renal.proportional:
        if rule.product == product and crcl < rule.crcl_below:
            ref = next(b for b in rows if b.id == rule.reference_band)
            return _range(ref, rule, in_gap=False, scale=crcl / rule.reference_crcl)
    below = [b for b in rows if _high_edge(b) < crcl]
    if below:  # in a gap between printed rows: the row just below
        return _range(max(below, key=_high_edge), None, in_gap=True)
    return None


def patient_renal_range(
    k: Knowledge, patient: Patient, product: str, indication: str | None, crcl: CrCl
) -> RenalRange | None:
    """The renal row for this patient: none under the age the label's renal table starts at."""
    if patient.age_years is not None and patient.age_years < adolescent_min_age(k):
        return None
    return renal_range(k, product, indication, crcl.ml_min, patient.dialysis)


def _range(
    band: RenalBand, rule: ProportionalBelow | None, *, in_gap: bool, scale: float = 1.0
) -> RenalRange:
    def scaled(x: float | None) -> float | None:
        return None if x is None else round(x * scale, 1)

    return RenalRange(
        band=band,
        daily_min_mg=scaled(band.daily_min_mg),
        daily_max_mg=scaled(band.daily_max_mg),
        doses_per_day=band.doses_per_day,
        every_n_days=band.every_n_days,
        proportional=rule,
        in_gap=in_gap,
        regimen_options_mg=tuple(round(x * scale, 1) for x in band.regimen_options_mg),
    )


def hemodialysis_supplement(
    k: Knowledge, product: str, maintenance_mg: float
) -> HemodialysisSupplement | None:
    """Post-dialysis supplement for a maintenance dose: the printed column at or below the dose."""
    rows = [h for h in k.renal.hemodialysis_supplements if h.product == product]
    exact = [h for h in rows if isclose(h.maintenance_mg, maintenance_mg)]
    lower = exact or [h for h in rows if h.maintenance_mg <= maintenance_mg]
    if not lower:
        return None
    return max(lower, key=lambda h: h.maintenance_mg)


def renal_findings(
    k: Knowledge, patient: Patient, crcl: CrCl, rng: RenalRange | None, product: str
) -> list[Finding]:
    """What the renal assessment tells the clinician."""
    out: list[Finding] = []
    age = patient.age_years
    child = age is not None and age < adolescent_min_age(k)
    if child:
        out.append(
            finding(
                k,
                "renal.pediatric-not-studied",
                f"Renal dosing is not established below {adolescent_min_age(k):g} years.",
                f"The label's renal table covers patients {adolescent_min_age(k):g} years and older; "
                "Cockcroft-Gault is not used for children. Kidney function in a child needs "
                "specialist assessment.",
                [k.citation("NEU48", "§2.3 Dosage Adjustment in Renal Impairment; §8.6")],
            )
        )
    if crcl.ml_min is None and not child and not (rng and rng.band.dialysis == "hemodialysis"):
        missing = ", ".join(crcl.missing) or "a measured CrCl"
        out.append(
            finding(
                k,
                "renal.not-checked",
                "The renal dose cannot be checked: creatinine clearance is unknown.",
                f"Missing: {missing}. Give crcl_ml_min, or serum_creatinine with age_years, "
                "weight_kg and sex. Until then the dose range for kidney function is unknown; "
                "gabapentin is cleared by the kidneys only.",
                [*k.renal.cockcroft_gault.cite[:1], k.citation("NEU48", "§2.3")],
            )
        )
    if patient.dialysis == "peritoneal":
        out.append(
            finding(
                k,
                "renal.peritoneal-dialysis",
                "The label gives no dosing for peritoneal dialysis.",
                "Dose from the CrCl band with specialist advice; gabaguide plans nothing for it.",
                [k.citation("NEU48", "§2.3")],
            )
        )
    if (
        patient.dialysis == "hemodialysis"
        and crcl.ml_min is None
        and not (rng and rng.band.dialysis == "hemodialysis")
    ):
        out.append(
            finding(
                k,
                "renal.hemodialysis-no-crcl",
                "On hemodialysis, but no CrCl to set the maintenance dose.",
                "The label sets the maintenance dose on hemodialysis from the CrCl estimate and adds "
                "a supplement after each session of hemodialysis; give crcl_ml_min or creatinine data.",
                [k.citation("NEU48", "§2.3 Table 1, hemodialysis rows")],
            )
        )
    if rng is None:
        return out
    if rng.avoid:
        out.append(
            finding(
                k,
                "renal.product-not-recommended",
                f"{k.product_by_id[product].name}: not for CrCl {rng.label}.",
                rng.band.instruction or "The label advises against this product here.",
                rng.citations,
            )
        )
        return out
    if rng.in_gap:
        out.append(
            finding(
                k,
                "renal.band-gap",
                f"CrCl {crcl.ml_min:.1f} mL/min falls between or on two printed rows; row {rng.label} used.",
                k.renal.gap_rule.explanation,
                k.renal.gap_rule.cite,
            )
        )
    if rng.proportional is not None:
        out.append(
            finding(
                k,
                "renal.below-table",
                f"CrCl {crcl.ml_min:.1f} mL/min: daily dose {rng.daily_min_mg:g}-{rng.daily_max_mg:g} mg, "
                "reduced in proportion to CrCl.",
                f"Below {rng.proportional.crcl_below:g} mL/min the label scales the "
                f"{rng.band.label} mL/min row by CrCl/{rng.proportional.reference_crcl:g}.",
                rng.citations,
            )
        )
    elif rng.band.crcl_max is not None or rng.band.dialysis != "none":
        out.append(
            finding(
                k,
                "renal.adjust",
                f"CrCl {rng.label} mL/min: {rng.daily_min_mg:g}-{rng.daily_max_mg:g} mg/day, "
                f"{_frequency(rng)}.",
                rng.band.instruction
                or "The label's renal table reduces the daily dose and the number of doses a day.",
                rng.citations,
            )
        )
    return out


def _frequency(rng: RenalRange) -> str:
    if rng.every_n_days > 1:
        return f"every {rng.every_n_days} days"
    n = rng.doses_per_day or 0
    return {1: "once daily", 2: "twice daily", 3: "three times daily"}.get(n, f"{n} times daily")


def egfr_ckd_epi_2021(k: Knowledge, scr_mg_dl: float, age_years: float, female: bool) -> float:
    """eGFR (mL/min/1.73 m2) by the race-free CKD-EPI 2021 creatinine equation. Shown when weight
    is missing; never used to choose a dose (the labels use Cockcroft-Gault)."""
    c = k.planning.ckd_epi_2021
    kappa = c.kappa_female if female else c.kappa_male
    alpha = c.alpha_female if female else c.alpha_male
    ratio = scr_mg_dl / kappa
    egfr = (
        c.constant
        * min(ratio, 1.0) ** alpha
        * max(ratio, 1.0) ** c.exponent_above
        * c.age_base**age_years
    )
    return float(egfr * c.female_factor if female else egfr)


def creatinine_upper_mg_dl(k: Knowledge, age_years: float, sex: str | None) -> float | None:
    """The upper reference limit of serum creatinine at this age (the lower of the sexes' limits
    when sex is unknown); None where no reference range is held."""
    limits = [
        r.upper_mg_dl
        for r in k.planning.creatinine_upper_reference
        if r.min_age_years <= age_years
        and (r.max_age_years is None or age_years < r.max_age_years)
        and (sex is None or r.sex in (sex, "any"))
    ]
    return min(limits) if limits else None
