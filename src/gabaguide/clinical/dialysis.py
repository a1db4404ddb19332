"""The post-hemodialysis supplement: paired with the maintenance dose by the renal table's column,
made of real strengths, and timed after each session on the patient's dialysis days.

The session weekdays, the time a session ends and the plan's start date come from the routine;
when any is missing the supplement is still part of the plan but not of the dose times or the
dispensing, and a finding asks for what is missing (never guessed).
"""

from __future__ import annotations

from datetime import date, timedelta

from gabaguide.domain import (
    WEEKDAYS,
    DialysisSupplement,
    Finding,
    Patient,
    Plan,
    ScheduledDose,
    Unit,
)
from gabaguide.knowledge import Knowledge

from .compose import compose
from .findings import finding
from .grid import grid_for, supplement_for_column
from .renal import RenalRange, hemodialysis_supplement


def with_supplement(
    k: Knowledge, patient: Patient, plan: Plan, rng: RenalRange
) -> tuple[Plan, list[Finding]]:
    """The plan with its supplement after each session (when the table gives one) and findings."""
    if rng.avoid or plan.maintenance is None or plan.held or plan.taper:
        return plan, []
    grid = grid_for(k, plan.product, None, rng)
    if plan.renal_column is not None:
        index: int | None = plan.renal_column.column - 1
    else:  # the normal-function row: the maintenance dose's own column
        index = grid.read(plan.maintenance.daily_mg).index if grid is not None else None
    if index is not None:
        found = supplement_for_column(k, plan.product, index)
        how = f"column {index + 1} of the label's table, the maintenance dose's"
    else:
        found = hemodialysis_supplement(k, plan.product, plan.maintenance.daily_mg)
        how = "the column at or below the maintenance dose"
    if found is None:
        return plan, []
    units = compose_units(k, plan.product, found.supplement_mg)
    routine = patient.routine
    days = routine.dialysis_days if routine else ()
    time = routine.dialysis_end if routine else None
    printed = sorted(
        (h for h in k.renal.hemodialysis_supplements if h.product == plan.product),
        key=lambda h: h.maintenance_mg,
    )
    by_column = grid is not None and len(printed) == len(grid.row_daily_mg)
    supplement = DialysisSupplement(
        mg=found.supplement_mg,
        units=units,
        after_hours_of_dialysis=found.after_hours_of_dialysis,
        days=days,
        time=time,
        row_daily_mg=grid.row_daily_mg if grid is not None and by_column else (),
        column_supplements_mg=tuple(h.supplement_mg for h in printed) if by_column else (),
        citations=found.cite,
    )
    out = [
        finding(
            k,
            "renal.hemodialysis-supplement",
            f"After each {found.after_hours_of_dialysis:g} hours of hemodialysis: "
            f"{found.supplement_mg:g} mg supplemental dose.",
            f"For a maintenance dose of {plan.maintenance.daily_mg:g} mg/day the label's table "
            f"gives this supplement ({how}). It is taken after the session, on dialysis days only.",
            found.cite,
        )
    ]
    missing = [
        name
        for name, value in (
            ("routine.dialysis_days", days),
            ("routine.dialysis_end", time),
            ("routine.start_date", routine.start_date if routine else None),
        )
        if not value
    ]
    if missing:
        out.append(
            finding(
                k,
                "renal.hemodialysis-schedule-needed",
                "Give " + ", ".join(missing) + " to put the supplement in the dose times, "
                "the calendar and the dispensing.",
                "The supplement is taken after each session; gabaguide does not guess the "
                "dialysis days or times.",
                found.cite,
            )
        )
    return plan.model_copy(update={"dialysis_supplement": supplement}), out


def compose_units(k: Knowledge, product: str, mg: float) -> tuple[Unit, ...]:
    units = compose(k.product_by_id[product], mg)
    if units is None:
        raise ValueError(f"{mg} mg cannot be made from {product}")
    return units


def supplement_doses(
    k: Knowledge, plan: Plan, start: date | None, daily_by_day: dict[int, float]
) -> tuple[ScheduledDose, ...]:
    """The supplement on each dialysis day of the plan (``daily_by_day``: the day's total of the
    regular doses), paired with that day's dose by column: while titrating, a lower column's
    supplement (none without the session days, the end time and the start date)."""
    s = plan.dialysis_supplement
    if s is None or not s.days or s.time is None or start is None:
        return ()
    out = []
    for day in sorted(daily_by_day):
        when = start + timedelta(days=day - 1)
        if WEEKDAYS[when.weekday()] not in s.days:
            continue
        at_maintenance = plan.maintenance is not None and (
            daily_by_day[day] >= plan.maintenance.daily_mg - 1e-9
        )
        mg = s.mg if at_maintenance else _for_daily(s, daily_by_day[day])
        out.append(
            ScheduledDose(
                day=day,
                date=when.isoformat(),
                time=s.time,
                phase="dialysis-supplement",
                product=plan.product,
                mg=mg,
                units=s.units if mg == s.mg else compose_units(k, plan.product, mg),
                note="After the dialysis session (dialysis days only).",
            )
        )
    return tuple(out)


def _for_daily(s: DialysisSupplement, daily_mg: float) -> float:
    """The supplement of the column a day's dose is in (the column at or below it), never more
    than the maintenance dose's."""
    if not s.row_daily_mg or not s.column_supplements_mg:
        return s.mg
    at_or_below = [i for i, d in enumerate(s.row_daily_mg) if d <= daily_mg + 1e-9]
    index = at_or_below[-1] if at_or_below else 0
    return min(s.column_supplements_mg[index], s.mg)
