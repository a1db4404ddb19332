"""The regimen the patient takes now, checked against the label and renal maxima and the renal
row's doses a day (goal review, and the current dose before a stop or switch), and the regimen to
offer instead of an ordered one (the CDS corrected order)."""

from __future__ import annotations

from collections.abc import Sequence

from gabaguide.domain import Finding, Patient
from gabaguide.knowledge import Knowledge
from gabaguide.knowledge.schema import Product

from .findings import finding
from .gate import can_plan
from .grid import grid_for
from .indication import indication_id
from .plausibility import implausible
from .regimen import measurable_dose, scheme_cap_mg
from .renal import CrCl, estimate_crcl, patient_renal_range


def product_max(k: Knowledge, product: Product, indication: str | None) -> float | None:
    """The product's label maximum daily dose (mg/day) for the indication, else of any scheme."""
    schemes = [s for s in k.dosing.schemes if s.product == product.id and s.unit == "mg/day"]
    specific = [s for s in schemes if s.indication == indication] or schemes
    if not specific:
        return None
    return max(scheme_cap_mg(k, s, None) for s in specific)


def check_current(
    k: Knowledge, patient: Patient, current: Product, ind: str | None, crcl: CrCl
) -> list[Finding]:
    reg = patient.current_regimen
    assert reg is not None
    daily = reg.dose_mg * reg.times_per_day
    out: list[Finding] = []
    rng = patient_renal_range(k, patient, current.id, ind, crcl)
    label_max = product_max(k, current, ind)
    limits = [(label_max, "label maximum", k.dosing.limits.cite)]
    if rng is not None and rng.daily_max_mg is not None:
        limits.append((rng.daily_max_mg, f"renal maximum for CrCl {rng.label}", rng.citations))
    exceeded = [(m, why, c) for m, why, c in limits if m is not None and daily > m]
    if exceeded:
        m, why, cites = min(exceeded, key=lambda t: t[0] or 0)
        out.append(
            finding(
                k,
                "dose.exceeds-max",
                f"Current {daily:g} mg/day is above the {why} of {m:g} mg/day.",
                f"{reg.dose_mg:g} mg x {reg.times_per_day} a day. Reduce to at most {m:g} mg/day "
                "(taper gradually if reducing a lot).",
                cites,
            )
        )
    if rng is not None and rng.doses_per_day is not None and not rng.avoid:
        if reg.times_per_day != rng.doses_per_day:
            out.append(
                finding(
                    k,
                    "dose.frequency-renal",
                    f"Taken {reg.times_per_day} times a day; the renal table gives {rng.doses_per_day} "
                    f"for CrCl {rng.label}.",
                    "The label's renal table sets the number of doses a day with the dose range.",
                    rng.citations,
                )
            )
        max_gap = k.dosing.limits.max_interval_h
        if (
            current.release == "immediate"
            and rng.doses_per_day > 1
            and 24 / reg.times_per_day > max_gap
        ):
            out.append(
                finding(
                    k,
                    "dose.interval-exceeded",
                    f"{reg.times_per_day} dose a day leaves more than {max_gap:g} hours between doses.",
                    f"The label allows at most {max_gap:g} hours between doses of a divided "
                    "regimen.",
                    k.dosing.limits.cite[:1] or k.dosing.limits.cite,
                )
            )
    if rng is not None and rng.avoid:
        out.append(
            finding(
                k,
                "renal.product-not-recommended",
                f"{current.name}: not for CrCl {rng.label}.",
                rng.band.instruction or "The label advises against this product here.",
                rng.citations,
            )
        )
    return out


def corrected_regimen(
    k: Knowledge,
    patient: Patient,
    product: Product,
    ordered_daily_mg: float,
    ordered_times_per_day: int,
    found: Sequence[Finding],
) -> tuple[float, int] | None:
    """The regimen (mg per dose, doses a day) to offer instead of an ordered one, or None when no
    dose can be justified (the planning gate) or the row is not one of equal daily doses.

    An order above the renal row's range was written for normal kidney function: it is read
    through the renal grid (the same column in the patient's row). An order within the row keeps
    its daily dose in the row's doses a day. The label maximum caps it first.
    """
    indication = indication_id(k, patient)
    crcl = estimate_crcl(patient, k)
    doubts = implausible(k, patient, crcl).kidneys
    if can_plan(k, patient, product, crcl, list(found), doubts).decision != "plan":
        return None
    rng = patient_renal_range(k, patient, product.id, indication, crcl)
    label_max = product_max(k, product, indication)
    daily = min(ordered_daily_mg, label_max) if label_max is not None else ordered_daily_mg
    times = ordered_times_per_day
    if rng is not None:
        if rng.avoid or rng.every_n_days != 1 or rng.doses_per_day is None:
            return None
        if rng.daily_max_mg is not None and daily > rng.daily_max_mg:
            grid = grid_for(k, product.id, indication, rng)
            daily = (
                grid.read(daily).row_daily_mg
                if grid is not None and not grid.is_normal
                else rng.daily_max_mg
            )
        times = rng.doses_per_day
    options = rng.regimen_options_mg if rng is not None else ()
    keep = k.dosing.limits.solids_within_fraction
    per_dose = measurable_dose(product, daily / times, False, options, keep)
    return (per_dose, times) if per_dose > 0 else None
