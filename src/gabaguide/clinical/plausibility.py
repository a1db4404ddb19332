"""Is the input believable? Impossible combinations are input errors; values that are possible but
usually a typing error are findings that name the value; the values the answer used are echoed
with their units so a typo can be seen beside the answer. Limits live in ``planning.toml``.
"""

from __future__ import annotations

from dataclasses import dataclass

from gabaguide.domain import Finding, InputUsed, Patient
from gabaguide.knowledge import Knowledge

from .findings import finding
from .renal import (
    CrCl,
    adolescent_min_age,
    cockcroft_gault,
    creatinine_mg_dl,
    egfr_ckd_epi_2021,
)


def impossible(k: Knowledge, patient: Patient) -> list[str]:
    """One sentence per impossible combination, naming the fields (empty when none)."""
    p = k.planning.plausibility
    problems: list[str] = []
    if patient.pregnant:
        if patient.sex == "male":
            problems.append("pregnant cannot be true when sex is 'male'; check both fields")
        age = patient.age_years
        lo, hi = p.pregnancy_possible_age_years.low, p.pregnancy_possible_age_years.high
        if age is not None and not lo <= age <= hi:
            problems.append(
                f"pregnant cannot be true at age_years {age:g}: pregnancy is possible between "
                f"{lo:g} and {hi:g} years; check both fields"
            )
    return problems


@dataclass(frozen=True)
class Doubts:
    """Warnings for values that are possible but usually a typing error; ``kidneys`` are those the
    creatinine clearance rests on (no dose is read from a doubtful clearance)."""

    kidneys: tuple[Finding, ...]
    other: tuple[Finding, ...]

    @property
    def all(self) -> tuple[Finding, ...]:
        return (*self.kidneys, *self.other)


def implausible(k: Knowledge, patient: Patient, crcl: CrCl) -> Doubts:
    """A warning for each value that is possible but usually a typing error."""
    p = k.planning.plausibility
    notes: list[str] = []
    age = patient.age_years
    adult = age is not None and age >= p.adult_age_years
    scr = patient.serum_creatinine
    scr_mg = creatinine_mg_dl(scr.value, scr.unit, k) if scr is not None else None
    if scr is not None and scr_mg is not None and patient.dialysis != "hemodialysis":
        low, high = p.creatinine_mg_dl.low, p.creatinine_mg_dl.high
        if scr_mg > high or (scr_mg < low and (adult or age is None)):
            notes.append(
                f"serum_creatinine {scr.value:g} {scr.unit} ({scr_mg:.2f} mg/dL) is outside "
                f"{low:g}-{high:g} mg/dL, unusual without dialysis (a misplaced decimal point, "
                "or the other unit?)"
            )
    estimated = crcl.ml_min if crcl.method == "cockcroft-gault" else None
    if estimated is not None and estimated > p.estimated_crcl_high_ml_min:
        notes.append(
            f"the estimated CrCl is {estimated:.0f} mL/min, above "
            f"{p.estimated_crcl_high_ml_min:g}: check creatinine, weight and age"
        )
    notes += _discordant(k, patient, scr_mg)
    if adult and patient.weight_kg is not None:
        w = p.adult_weight_kg
        if not w.low <= patient.weight_kg <= w.high:
            notes.append(
                f"weight_kg {patient.weight_kg:g} kg is outside {w.low:g}-{w.high:g} kg for an "
                f"adult of {age:g} years"
            )
    kidneys = tuple(_doubt(k, n) for n in notes)
    notes = []
    if adult and patient.height_cm is not None:
        h = p.adult_height_cm
        if not h.low <= patient.height_cm <= h.high:
            notes.append(
                f"height_cm {patient.height_cm:g} cm is outside {h.low:g}-{h.high:g} cm for an adult"
            )
    if patient.pregnant and age is not None:
        u = p.pregnancy_usual_age_years
        if not u.low <= age <= u.high:
            notes.append(f"pregnant at age_years {age:g} (usually {u.low:g}-{u.high:g})")
    return Doubts(kidneys, tuple(_doubt(k, n) for n in notes))


def _doubt(k: Knowledge, note: str) -> Finding:
    return finding(
        k,
        "input.implausible",
        f"Check the input: {note}.",
        "Correct it and assess again if it is a typing error. No dose is read from a kidney "
        "function that rests on a doubtful value.",
        k.planning.plausibility.cite,
    )


def _discordant(k: Knowledge, patient: Patient, scr_mg: float | None) -> list[str]:
    """A measured CrCl far from what the creatinine implies (Cockcroft-Gault, else CKD-EPI)."""
    p = k.planning.plausibility
    measured, age = patient.crcl_ml_min, patient.age_years
    if measured is None or scr_mg is None or age is None or patient.sex is None:
        return []
    female = patient.sex == "female"
    if patient.weight_kg is not None:
        implied = cockcroft_gault(age, patient.weight_kg, female, scr_mg, k)
        method = "Cockcroft-Gault"
    elif age >= k.planning.ckd_epi_2021.min_age_years:
        implied = egfr_ckd_epi_2021(k, scr_mg, age, female)
        method = "CKD-EPI 2021 eGFR"
    else:
        return []
    ratio = p.measured_vs_estimated_ratio
    if implied <= 0 or not 1 / ratio <= measured / implied <= ratio:
        return [
            f"the measured crcl_ml_min {measured:g} mL/min is far from the {implied:.0f} mL/min "
            f"the creatinine implies ({method}): check which is right"
        ]
    return []


def inputs_used(k: Knowledge, patient: Patient, crcl: CrCl) -> tuple[InputUsed, ...]:
    """The values the answer rests on, with units, in the order a clinician reads them."""
    out: list[InputUsed] = []

    def add(name: str, value: str) -> None:
        out.append(InputUsed(field=name, value=value))

    if patient.age_years is not None:
        add("age_years", f"{patient.age_years:g} years")
    if patient.sex is not None:
        add("sex", patient.sex)
    if patient.weight_kg is not None:
        add("weight_kg", f"{patient.weight_kg:g} kg")
    scr = patient.serum_creatinine
    if scr is not None:
        other = (
            f"{creatinine_mg_dl(scr.value, scr.unit, k):.2f} mg/dL"
            if scr.unit == "umol/L"
            else f"{scr.value * k.renal.creatinine.umol_per_l_per_mg_dl:.0f} umol/L"
        )
        add("serum_creatinine", f"{scr.value:g} {scr.unit} (= {other})")
    if crcl.ml_min is not None:
        how = "measured" if crcl.method == "measured" else "Cockcroft-Gault"
        add("crcl_ml_min", f"{crcl.ml_min:.1f} mL/min ({how})")
    elif patient.age_years is not None and patient.age_years < adolescent_min_age(k):
        add(
            "crcl_ml_min",
            f"not estimated: Cockcroft-Gault is not used under {adolescent_min_age(k):g} years",
        )
    else:
        add(
            "crcl_ml_min",
            "unknown" + (f" (missing: {', '.join(crcl.missing)})" if crcl.missing else ""),
        )
    add("dialysis", patient.dialysis or "not given")
    if patient.pregnant is not None:
        add("pregnant", "yes" if patient.pregnant else "no")
    if patient.indication is not None:
        add("indication", patient.indication)
    add("goal", patient.goal)
    if patient.product is not None:
        add("product", patient.product)
    reg = patient.current_regimen
    if reg is not None:
        add(
            "current_regimen",
            f"{reg.product} {reg.dose_mg:g} mg x {reg.times_per_day} a day "
            f"({reg.dose_mg * reg.times_per_day:g} mg/day)",
        )
    if patient.target_daily_mg is not None:
        add("target_daily_mg", f"{patient.target_daily_mg:g} mg/day at normal kidney function")
    return tuple(out)
