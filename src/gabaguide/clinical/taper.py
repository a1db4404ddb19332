"""Taper planner: from the current regimen down to stop, never abruptly.

The rule for the product (or the general one) gives fractions of the current daily dose; each level
is made of real strengths, only levels below the one before are kept, and each is held long enough
that the taper lasts at least the rule's minimum number of days.
"""

from __future__ import annotations

from math import ceil

from gabaguide.domain import PlanDay
from gabaguide.knowledge import Knowledge
from gabaguide.knowledge.schema import Product, TaperRule

from .compose import round_down
from .regimen import doses_for


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
