"""Can we plan? One gate before any plan, read by every shell through the assessment.

The answer is ``plan``, ``hold`` (a start that is safe in every kidney-function row, kept until the
missing data is given) or ``none``, with findings that say why and what to obtain:

* a finding of the withholding severity (a contraindication) -> none;
* an indication that is nearly a known one ("diabetic neu") -> none, asking which was meant;
* a kidney function that rests on a doubtful value (creatinine 13 mg/dL, a 1 kg adult, a measured
  CrCl far from what the creatinine implies) -> none until it is confirmed;
* a child below the renal table's age with impaired kidneys (on dialysis, a low CrCl, or a
  creatinine above the reference range for age) -> none, involve a specialist;
* peritoneal dialysis (no labelled dosing), or hemodialysis without a CrCl -> none;
* kidney function unknown where impairment is likely (an older adult, a creatinine above the
  reference range, an unknown age) -> hold; with a creatinine but no weight, the finding says what
  the creatinine alone implies (CKD-EPI 2021, not the label's method);
* CrCl below the lowest printed row with dialysis status not given -> none where the product has a
  hemodialysis row of its own, else a plan and a warning that the supplement is not planned.

Every threshold is in ``planning.toml`` with its source.
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Literal

from gabaguide.domain import Citation, Finding, Patient
from gabaguide.knowledge import Knowledge, normalise
from gabaguide.knowledge.schema import Product

from .findings import finding
from .grid import normal_row
from .renal import (
    CrCl,
    adolescent_min_age,
    creatinine_mg_dl,
    creatinine_upper_mg_dl,
    egfr_ckd_epi_2021,
)

Decision = Literal["plan", "hold", "none"]


@dataclass(frozen=True)
class Gate:
    decision: Decision
    findings: tuple[Finding, ...] = ()
    contraindicated: bool = False
    """A contraindication about the patient holds: no taper either (stop as directed)."""


PLAN = Gate("plan")


def can_plan(
    k: Knowledge,
    patient: Patient,
    product: Product,
    crcl: CrCl,
    found: list[Finding],
    kidney_doubts: tuple[Finding, ...] = (),
) -> Gate:
    """The gate for this patient and product, given the findings the screens have made and the
    doubtful values the kidney function rests on (already reported)."""
    for check in (_contraindicated, _indication_unclear):
        gate = check(k, patient, found)
        if gate is not None:
            return gate
    if kidney_doubts:
        return _withheld(
            k,
            "the kidney function rests on a value that looks like a typing error",
            "Confirm the value named in the input finding (both, when a measured CrCl and the "
            "creatinine disagree), then assess again.",
        )
    child = patient.age_years is not None and patient.age_years < adolescent_min_age(k)
    if child:
        return _child(k, patient, product) or PLAN
    return _kidneys(k, patient, product, crcl)


def _contraindicated(k: Knowledge, patient: Patient, found: list[Finding]) -> Gate | None:
    severity = k.planning.gate.withhold_on_severity
    blocking = [f for f in found if f.severity == severity]
    if not blocking:
        return None
    first = blocking[0]
    return Gate(
        "none",
        (
            finding(
                k,
                "plan.withheld",
                f"No plan, dose times or dispensing: {first.summary.rstrip('.')}.",
                "A contraindication stops every plan. The findings and the alternatives still "
                "apply; if the patient takes a gabapentinoid now, stop it as the prescriber directs.",
                [c for f in blocking for c in f.citations],
            ),
        ),
        contraindicated=any(f.code.startswith(k.planning.gate.no_taper_prefixes) for f in blocking),
    )


def _indication_unclear(k: Knowledge, patient: Patient, found: list[Finding]) -> Gate | None:
    if not patient.indication or k.indication_by_name.get(normalise(patient.indication)):
        return None
    meant = did_you_mean(k, patient.indication)
    if not meant:
        return None
    return Gate(
        "none",
        (
            finding(
                k,
                "plan.indication-did-you-mean",
                f"Indication {patient.indication!r} is not recognised: did you mean "
                + " or ".join(repr(m) for m in meant)
                + "?",
                "Nothing is planned until the indication is given in full: the dose, the maximum "
                "and the titration depend on it.",
                k.planning.gate.cite,
            ),
        ),
    )


def did_you_mean(k: Knowledge, text: str) -> tuple[str, ...]:
    """Known indication names this text is the start of, or close to (best first, at most 3)."""
    typed = normalise(text)
    cutoff = k.planning.gate.indication_suggestion_cutoff
    scored: dict[str, float] = {}
    for ind in k.indications:
        for name in (ind.name, *ind.synonyms):
            known = normalise(name)
            ratio = 1.0 if known.startswith(typed) and len(typed) >= 3 else 0.0
            ratio = max(ratio, SequenceMatcher(None, typed, known).ratio())
            if ratio >= cutoff:
                scored[ind.name] = max(scored.get(ind.name, 0.0), ratio)
    return tuple(sorted(scored, key=lambda n: (-scored[n], n))[:3])


def _child(k: Knowledge, patient: Patient, product: Product) -> Gate | None:
    assert patient.age_years is not None
    reasons: list[str] = []
    if patient.dialysis in ("hemodialysis", "peritoneal"):
        reasons.append(f"on {patient.dialysis}")
    normal = normal_row(k, product.id, None)
    normal_from = normal.band.crcl_min if normal is not None else None
    measured = patient.crcl_ml_min
    if measured is not None and normal_from is not None and measured < normal_from:
        reasons.append(f"measured CrCl {measured:g} mL/min")
    scr = patient.serum_creatinine
    if scr is not None:
        upper = creatinine_upper_mg_dl(k, patient.age_years, patient.sex)
        value = creatinine_mg_dl(scr.value, scr.unit, k)
        if upper is not None and value > upper:
            reasons.append(
                f"creatinine {scr.value:g} {scr.unit} is above the reference range for age "
                f"{patient.age_years:g} (upper limit {upper:g} mg/dL)"
            )
    if not reasons:
        return None
    return Gate(
        "none",
        (
            finding(
                k,
                "renal.pediatric-impaired",
                f"No plan: a child of {patient.age_years:g} with impaired kidney function "
                f"({'; '.join(reasons)}). Involve a pediatric nephrologist or neurologist.",
                f"The label's renal dosing is for patients {adolescent_min_age(k):g} years and "
                "older; use in younger children with compromised renal function has not been "
                "studied. gabaguide does not extrapolate the adult table to a child.",
                [*k.planning.gate.cite, *_reference_cites(k, patient)],
            ),
        ),
    )


def _reference_cites(k: Knowledge, patient: Patient) -> list[Citation]:
    age = patient.age_years
    if age is None:
        return []
    return [
        c
        for r in k.planning.creatinine_upper_reference
        if r.min_age_years <= age and (r.max_age_years is None or age < r.max_age_years)
        for c in r.cite
    ][:1]


def _kidneys(k: Knowledge, patient: Patient, product: Product, crcl: CrCl) -> Gate:
    has_hd_row = any(
        b.dialysis == "hemodialysis" and b.product == product.id for b in k.renal.bands
    )
    if patient.dialysis == "peritoneal":
        return _withheld(
            k,
            "the label gives no dosing on peritoneal dialysis",
            "Dose with a nephrologist's advice; the renal findings say what the label gives.",
        )
    if patient.dialysis == "hemodialysis" and crcl.ml_min is None and not has_hd_row:
        return _withheld(
            k,
            "on hemodialysis, but no creatinine clearance",
            "The label bases the maintenance dose on hemodialysis on the CrCl estimate; give "
            "crcl_ml_min (or creatinine, age, weight and sex).",
        )
    if crcl.ml_min is None and patient.dialysis != "hemodialysis":
        return _unknown_kidneys(k, patient, crcl)
    lowest = k.planning.gate.held_start_down_to_crcl
    if crcl.ml_min is not None and crcl.ml_min < lowest and patient.dialysis is None:
        text = (
            f"CrCl {crcl.ml_min:.1f} mL/min: is the patient on hemodialysis? Give dialysis "
            "('none', 'hemodialysis' or 'peritoneal')."
        )
        if has_hd_row:
            return Gate(
                "none",
                (
                    finding(
                        k,
                        "renal.dialysis-unknown",
                        text,
                        f"{product.name} has its own hemodialysis row: nothing is planned until "
                        "the dialysis status is known.",
                        k.planning.gate.cite,
                    ),
                ),
            )
        return Gate(
            "plan",
            (
                finding(
                    k,
                    "renal.dialysis-unknown",
                    text,
                    "The maintenance dose follows the CrCl either way; on hemodialysis a "
                    "supplement after each session is added, which is not planned until the "
                    "status is given.",
                    [k.citation("NEU48", "§2.3 Table 1, hemodialysis rows")],
                ),
            ),
        )
    return PLAN


def _withheld(k: Knowledge, why: str, what: str) -> Gate:
    return Gate(
        "none",
        (
            finding(
                k,
                "plan.withheld",
                f"No plan: {why}.",
                what,
                [*k.planning.gate.cite, k.citation("NEU48", "§2.3 Table 1")],
            ),
        ),
    )


def _unknown_kidneys(k: Knowledge, patient: Patient, crcl: CrCl) -> Gate:
    g = k.planning.gate
    age = patient.age_years
    reasons: list[str] = []
    if age is None:
        reasons.append("age not given")
    elif age >= g.likely_impaired_age_years:
        reasons.append(
            f"age {age:g} (older adults are more likely to have reduced kidney function)"
        )
    scr = patient.serum_creatinine
    scr_mg_dl = creatinine_mg_dl(scr.value, scr.unit, k) if scr is not None else None
    if scr is not None and scr_mg_dl is not None:
        adult = k.planning.plausibility.adult_age_years  # age unknown: the adult ranges
        upper = creatinine_upper_mg_dl(k, age if age is not None else adult, patient.sex)
        if upper is not None and scr_mg_dl > upper:
            reasons.append(
                f"creatinine {scr.value:g} {scr.unit} is above the reference range "
                f"(upper limit {upper:g} mg/dL)"
            )
    if not reasons:
        return PLAN
    missing = ", ".join(crcl.missing) or "a measured CrCl"
    found = [
        finding(
            k,
            "renal.unknown-likely-impaired",
            "Kidney function unknown and impairment likely: " + "; ".join(reasons) + ".",
            f"Missing for Cockcroft-Gault: {missing}. Give them (or crcl_ml_min) to plan past "
            "the held start.",
            g.cite,
        )
    ]
    estimate = _egfr_finding(k, patient, scr_mg_dl)
    if estimate is not None:
        found.append(estimate)
    return Gate("hold", tuple(found))


def _egfr_finding(k: Knowledge, patient: Patient, scr_mg_dl: float | None) -> Finding | None:
    c = k.planning.ckd_epi_2021
    age, sex, scr = patient.age_years, patient.sex, patient.serum_creatinine
    if scr is None or scr_mg_dl is None or age is None or sex is None or age < c.min_age_years:
        return None
    egfr = egfr_ckd_epi_2021(k, scr_mg_dl, age, sex == "female")
    return finding(
        k,
        "renal.egfr-estimate",
        f"Creatinine {scr.value:g} {scr.unit} at age {age:g} ({sex}) implies an eGFR of about "
        f"{egfr:.0f} mL/min/1.73 m\N{SUPERSCRIPT TWO} (CKD-EPI 2021). Not the label's method: "
        "give weight_kg for Cockcroft-Gault.",
        "The labels' renal tables are in creatinine clearance by Cockcroft-Gault, which needs the "
        "weight. The eGFR is shown so the creatinine is not ignored; no dose is chosen from it.",
        c.cite,
    )
