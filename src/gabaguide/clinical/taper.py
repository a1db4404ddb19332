"""Taper planner: from the current regimen down to stop, never abruptly.

The rule for the product (or the general one) gives fractions of the current daily dose; each level
is made of real strengths, only levels below the one before are kept, and each is held long enough
that the taper lasts at least the rule's minimum number of days.
"""

from __future__ import annotations

from math import ceil

from gabaguide.domain import Finding, Patient, Plan, PlanDay
from gabaguide.knowledge import Knowledge
from gabaguide.knowledge.schema import Product, TaperRule

from .compose import round_down
from .current import product_max
from .findings import finding
from .regimen import doses_for
from .renal import CrCl, patient_renal_range


def taper_rule(k: Knowledge, product: str, indication: str | None = None) -> TaperRule:
    """The product's own rule for the indication, else its rule for any indication, else the
    general one."""
    rules = k.dosing.taper_rules
    for want in ((product, indication), (product, None), ("*", None)):
        for r in rules:
            if (r.product, r.indication) == want:
                return r
    raise LookupError("the knowledge base has no general taper rule")


def taper(
    k: Knowledge,
    product: Product,
    current_daily_mg: float,
    current_doses_per_day: int,
    indication: str | None,
    max_doses_per_day: int | None = None,
    max_daily_mg: float | None = None,
) -> tuple[PlanDay, ...]:
    """Day-by-day taper to stop; empty when no level below the current dose can be made.

    A current dose above the maximum is tapered from the maximum down: no planned day exceeds it.
    """
    rule = taper_rule(k, product.id, indication)
    dpd_cap = rule.doses_per_day or current_doses_per_day
    if max_doses_per_day:
        dpd_cap = min(dpd_cap, max_doses_per_day)
    levels: list[tuple[float, int]] = []
    ceiling = current_daily_mg
    for fraction in rule.levels:
        wanted = current_daily_mg * fraction
        if max_daily_mg is not None:
            wanted = min(wanted, max_daily_mg)
        for dpd in range(dpd_cap, 0, -1):
            per_dose = round_down(product, wanted / dpd)
            if per_dose > 0:
                break
        if per_dose <= 0 or per_dose * dpd >= ceiling:
            continue
        ceiling = per_dose * dpd
        levels.append((per_dose, dpd))
    if not levels:
        return ()
    hold = ceil(rule.min_days / len(levels))
    days: list[PlanDay] = []
    for i, (per_dose, dpd) in enumerate(levels):
        doses = doses_for(k, product, indication, per_dose, dpd)
        days.extend(
            PlanDay(day=i * hold + d, daily_mg=per_dose * dpd, doses=doses)
            for d in range(1, hold + 1)
        )
    return tuple(days)


def taper_plan(
    k: Knowledge,
    patient: Patient,
    current: Product | None,
    ind: str | None,
    crcl: CrCl,
    findings: list[Finding],
) -> Plan | None:
    rule = taper_rule(k, current.id if current else "*", ind)
    reg = patient.current_regimen
    rng = patient_renal_range(k, patient, current.id, ind, crcl) if current else None
    if rng is not None and rng.band.no_taper:
        findings.append(
            finding(
                k,
                "taper.not-needed",
                f"{current.name if current else ''} at CrCl {rng.label}: the label gives no taper.",
                "Stop as the prescriber directs.",
                rng.citations,
            )
        )
        return Plan(product=rng.band.product, target_daily_mg=None, max_daily_mg=None)
    cites = rule.cite
    findings.append(
        finding(
            k,
            "taper.required",
            f"Do not stop abruptly: taper over at least {rule.min_days} days.",
            "Abrupt or rapid discontinuation risks increased seizure frequency; withdrawal symptoms "
            "(agitation, confusion, anxiety, insomnia, sweating, pain) and suicidal behaviour have "
            "been reported after stopping.",
            [*cites, k.citation("NEU48", "§5.6; §6.2 Postmarketing Experience")],
        )
    )
    reg = patient.current_regimen
    if current is None or reg is None:
        findings.append(
            finding(
                k,
                "taper.no-current-regimen",
                "No taper planned: the current regimen is not given.",
                "Give current_regimen with product, dose_mg and times_per_day.",
                cites,
            )
        )
        return None
    usable = rng is not None and not rng.avoid
    caps = [product_max(k, current, ind), rng.daily_max_mg if rng is not None and usable else None]
    days = taper(
        k,
        current,
        reg.dose_mg * reg.times_per_day,
        reg.times_per_day,
        ind,
        rng.doses_per_day if rng is not None and usable else None,
        min((c for c in caps if c is not None), default=None),
    )
    if not days and rule.product != "*":
        findings.append(
            finding(
                k,
                "taper.not-needed",
                f"{current.name}: no lower step of the label's taper can be made from this dose.",
                "The product's own taper starts below the current dose; stop as the prescriber "
                "directs.",
                rule.cite,
            )
        )
    return Plan(
        product=current.id,
        target_daily_mg=0,
        max_daily_mg=None,
        taper=days,
        instructions=("Then stop. Do not stop abruptly; follow the prescriber's instructions.",),
    )
