"""Switch plan gabapentin -> pregabalin: an overnight switch by the published expert table.

The current daily gabapentin dose picks the table's row; the converted dose is capped by the label
maximum for the indication (a dose at normal kidney function), then read through pregabalin's renal
grid (:mod:`.grid`: the column at or below, the low end of a printed range; where two rows hold a
CrCl, the lower-function row).
The table is an expert's, not a validated equivalence, and every switch plan says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gabaguide.domain import Maintenance, Plan, PlanDay, Switch
from gabaguide.knowledge import Knowledge
from gabaguide.knowledge.schema import PregabalinLimit, PregabalinRenalRow, Product

from .compose import compose
from .grid import Grid
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
    current_grid: Grid | None = None,
) -> SwitchResult:
    """The overnight switch plan, or the reason none can be made. ``current_grid`` is the current
    product's renal grid row for the patient: the dose taken is read back to the normal-function
    dose it stands for before the conversion table (which is in normal-function doses), so the
    renal reduction is not counted twice."""
    conv = k.switch.conversion
    if current.ingredient != conv.from_ingredient:
        return SwitchResult(
            None, f"the conversion table is for {conv.from_ingredient}, not {current.name}"
        )
    as_normal = daily_mg
    if current_grid is not None and not current_grid.is_normal:
        as_normal = current_grid.read_back(daily_mg)
    row = (
        next(
            r
            for r in conv.rows
            if as_normal > r.above_mg and (r.up_to_mg is None or as_normal <= r.up_to_mg)
        )
        if as_normal > 0
        else conv.rows[0]
    )
    target = k.product_by_id[conv.to_product]
    limit = _limit(k, indication)
    # The indication's maximum is a dose at normal kidney function: cap first, then read the
    # capped dose through the renal grid (the same mechanism as gabapentin's table).
    dose = min(row.pregabalin_mg, limit.max_daily_mg)
    renal_note = "Kidney function unknown: the pregabalin renal limit could not be applied."
    allowed = limit.doses_per_day
    maximum = limit.max_daily_mg
    if crcl is not None:
        renal = pregabalin_renal_row(k, crcl)
        low, high = pregabalin_grid(k, renal, "low"), pregabalin_grid(k, renal, "high")
        reading = low.read(dose)
        dose = reading.row_daily_mg
        maximum = high.read(limit.max_daily_mg).row_daily_mg
        renal_note = (
            f"Pregabalin renal row for CrCl {crcl:.0f} mL/min: {renal.label}; "
            f"{reading.describe()} (the low end of a printed range)."
        )
        if as_normal != daily_mg:
            renal_note = (
                f"{current.name} {daily_mg:g} mg/day at this kidney function stands for "
                f"{as_normal:g} mg/day at normal function (the renal table's column), which "
                f"the conversion table reads. {renal_note}"
            )
        # In a reduced row the table's own regimen (QD / BID) governs; at normal function the
        # indication's divided doses that the row allows.
        allowed = (
            renal.doses_per_day
            if not low.is_normal
            else tuple(n for n in limit.doses_per_day if n in renal.doses_per_day)
            or renal.doses_per_day
        )
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


def pregabalin_grid(k: Knowledge, row: PregabalinRenalRow, end: Literal["low", "high"]) -> Grid:
    """Lyrica's renal table as a grid row: the low (or high) end of each printed column."""
    table = k.switch.pregabalin_renal
    return Grid(
        normal_daily_mg=table.normal_columns,
        row_daily_mg=tuple(c.low if end == "low" else c.high for c in row.columns),
        row_label=row.label,
        citations=table.cite,
    )


def _divide(
    k: Knowledge, product: Product, daily: float, allowed: tuple[int, ...], indication: str | None
) -> tuple[int, PlanDay] | None:
    for n in [n for n in k.switch.division.preferred_doses_per_day if n in allowed]:
        per_dose = daily / n
        if compose(product, per_dose) is not None:
            doses = doses_for(k, product, indication, per_dose, n)
            return n, PlanDay(day=1, daily_mg=daily, doses=doses)
    return None
