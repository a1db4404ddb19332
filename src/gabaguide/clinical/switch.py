"""Switch plan gabapentin -> pregabalin: an overnight switch by the published expert table.

The current daily gabapentin dose picks the table's row; the pregabalin dose is then limited by
pregabalin's renal table (the column at or below the converted dose, the low end of a printed range;
where two rows hold a CrCl, the lower-function row) and by its label maximum for the indication.
The table is an expert's, not a validated equivalence, and every switch plan says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from gabaguide.domain import Maintenance, Plan, PlanDay, Switch
from gabaguide.knowledge import Knowledge
from gabaguide.knowledge.schema import PregabalinLimit, PregabalinRenalRow, Product

from .compose import compose
from .regimen import doses_for


@dataclass(frozen=True)
class SwitchResult:
    plan: Plan | None
    problem: str | None = None


def pregabalin_renal_row(k: Knowledge, crcl: float) -> PregabalinRenalRow:
    """The renal row holding a CrCl; the lower-function row where printed rows share an edge."""
    rows = k.switch.pregabalin_renal.rows
    holding = [r for r in rows if _contains(r, crcl)]
    if not holding:  # pragma: no cover - the printed rows cover 0 to infinity
        raise LookupError(f"no pregabalin renal row for CrCl {crcl}")
    return min(holding, key=lambda r: r.crcl_min if r.crcl_min is not None else -1.0)


def _contains(r: PregabalinRenalRow, crcl: float) -> bool:
    lo_ok = r.crcl_min is None or (
        crcl >= r.crcl_min if r.crcl_min_inclusive else crcl > r.crcl_min
    )
    hi_ok = r.crcl_max is None or (
        crcl <= r.crcl_max if r.crcl_max_inclusive else crcl < r.crcl_max
    )
    return lo_ok and hi_ok


def _limit(k: Knowledge, indication: str | None) -> PregabalinLimit:
    by_ind = {lim.indication: lim for lim in k.switch.pregabalin_limits}
    return by_ind.get(indication or "*") or by_ind["*"]


def switch_to_pregabalin(
    k: Knowledge,
    current: Product,
    daily_mg: float,
    crcl: float | None,
    indication: str | None,
) -> SwitchResult:
    """The overnight switch plan, or the reason none can be made."""
    conv = k.switch.conversion
    if current.ingredient != conv.from_ingredient:
        return SwitchResult(
            None, f"the conversion table is for {conv.from_ingredient}, not {current.name}"
        )
    row = (
        next(
            r
            for r in conv.rows
            if daily_mg > r.above_mg and (r.up_to_mg is None or daily_mg <= r.up_to_mg)
        )
        if daily_mg > 0
        else conv.rows[0]
    )
    target = k.product_by_id[conv.to_product]
    limit = _limit(k, indication)
    dose = row.pregabalin_mg
    renal_note = "Kidney function unknown: the pregabalin renal limit could not be applied."
    allowed = limit.doses_per_day
    maximum = limit.max_daily_mg
    if crcl is not None:
        renal = pregabalin_renal_row(k, crcl)
        dose = _renal_dose(k, renal, dose)
        maximum = min(maximum, max(c.high for c in renal.columns))
        renal_note = f"Pregabalin renal row for CrCl {crcl:.0f} mL/min: {renal.label}."
        allowed = tuple(n for n in limit.doses_per_day if n in renal.doses_per_day) or (
            renal.doses_per_day
        )
    dose = min(dose, limit.max_daily_mg)
    made = _divide(k, target, dose, allowed, indication)
    if made is None:
        return SwitchResult(None, f"{dose:g} mg/day cannot be made from {target.name} strengths")
    n, day = made
    switch = Switch(
        from_product=current.id,
        from_daily_mg=daily_mg,
        to_product=target.id,
        table_row=row.label,
        converted_daily_mg=row.pregabalin_mg,
        daily_mg=dose,
        doses_per_day=n,
        last_previous_dose=conv.last_previous_dose,
        caveat=f"{conv.caveat} {renal_note}",
        citations=(
            *conv.cite,
            *k.switch.pregabalin_renal.cite,
            *limit.cite,
            *k.switch.division.cite,
        ),
    )
    return SwitchResult(
        Plan(
            product=target.id,
            target_daily_mg=dose,
            max_daily_mg=maximum,
            titration=(day,),
            maintenance=Maintenance(daily_mg=dose, doses=day.doses),
            switch=switch,
            instructions=(conv.last_previous_dose, *target.instructions),
        )
    )


def _renal_dose(k: Knowledge, row: PregabalinRenalRow, converted: float) -> float:
    normal = k.switch.pregabalin_renal.normal_columns
    if tuple(c.low for c in row.columns) == normal:
        return converted  # full function: no reduction
    at_or_below = [i for i, c in enumerate(normal) if c <= converted] or [0]
    return row.columns[at_or_below[-1]].low


def _divide(
    k: Knowledge, product: Product, daily: float, allowed: tuple[int, ...], indication: str | None
) -> tuple[int, PlanDay] | None:
    for n in [n for n in k.switch.division.preferred_doses_per_day if n in allowed]:
        per_dose = daily / n
        if compose(product, per_dose) is not None:
            doses = doses_for(k, product, indication, per_dose, n)
            return n, PlanDay(day=1, daily_mg=daily, doses=doses)
    return None
