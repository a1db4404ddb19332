"""Regimen planner: start -> day-by-day titration -> maintenance, inside the renal band.

Every step comes from a dosing scheme in the knowledge base; the renal row caps the daily dose and
sets the number of doses a day; each dose is made of real strengths (:mod:`.compose`), equal doses a
day, never more than the target, and the titration never goes down.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from math import isclose

from gabaguide.domain import Dose, Maintenance, PlanDay
from gabaguide.knowledge import Knowledge
from gabaguide.knowledge.schema import DosingScheme, Product

from .compose import compose, round_down
from .grid import ColumnReading, grid_for
from .renal import RenalRange


@dataclass(frozen=True)
class Titration:
    days: tuple[PlanDay, ...]
    maintenance: Maintenance
    target_daily_mg: float
    max_daily_mg: float
    column: ColumnReading | None = None
    """How the target was read through the renal grid (None at normal function or without one)."""


@dataclass(frozen=True)
class _Step:
    from_day: int
    daily_mg: float
    doses_per_day: int
    every_n_days: int


def dose_times(
    k: Knowledge, product: str, indication: str | None, doses_per_day: int
) -> tuple[tuple[str, ...], str | None]:
    """Default clock times for a number of doses, most specific entry first: (times, note)."""
    entries = k.dosing.dose_times
    for want_product, want_ind in ((product, indication), (product, None), ("*", None)):
        for e in entries:
            if (e.product, e.indication, e.doses_per_day) == (
                want_product,
                want_ind,
                doses_per_day,
            ):
                return e.times, e.note
    raise LookupError(f"no dose times for {doses_per_day} doses a day of {product}")


def doses_for(
    k: Knowledge,
    product: Product,
    indication: str | None,
    per_dose_mg: float,
    doses_per_day: int,
) -> tuple[Dose, ...]:
    """``doses_per_day`` equal doses of ``per_dose_mg`` at the default clock times (memoised)."""
    key = ("doses", product.id, indication, per_dose_mg, doses_per_day)
    return k.remember(key, lambda: _build_doses(k, product, indication, per_dose_mg, doses_per_day))


def _build_doses(
    k: Knowledge, product: Product, indication: str | None, per_dose_mg: float, doses_per_day: int
) -> tuple[Dose, ...]:
    units = compose(product, per_dose_mg)
    if units is None:
        raise ValueError(f"{per_dose_mg} mg cannot be made from {product.id}")
    times, note = dose_times(k, product.id, indication, doses_per_day)
    return tuple(Dose(time=t, mg=per_dose_mg, units=units, note=note) for t in times)


def scheme_cap_mg(k: Knowledge, scheme: DosingScheme, weight_kg: float | None) -> float:
    """The scheme's maximum in mg/day, never above the label's maximum."""
    factor = (weight_kg or 0.0) if scheme.unit == "mg/kg/day" else 1.0
    return min(scheme.max_daily * factor, k.dosing.limits.label_max_daily_mg)


def _steps(scheme: DosingScheme, factor: float, target: float) -> Iterator[_Step]:
    last: _Step | None = None
    for s in scheme.steps:
        last = _Step(s.from_day, s.daily * factor, s.doses_per_day, s.every_n_days)
        yield last
        if last.daily_mg >= target and last.every_n_days == 1:
            return
    assert last is not None
    if scheme.step_up is None or scheme.step_interval_days is None:
        if last.daily_mg < target:  # a target above the last printed step (within the maximum)
            yield _Step(last.from_day + 1, target, scheme.doses_per_day, 1)
        return
    daily, day = last.daily_mg, last.from_day
    while daily < target:
        daily += scheme.step_up * factor
        day += scheme.step_interval_days
        yield _Step(day, daily, scheme.doses_per_day, 1)


def measurable_dose(
    product: Product, mg: float, by_weight: bool, options: tuple[float, ...], keep: float
) -> float:
    """A dose the renal table prints (e.g. 125 or 150 mg) is given exactly when it can be measured;
    anything else rounds down to real strengths: solids for adults while they keep ``keep`` of the
    dose, else the solution (children dosed by weight: the solution unless solids hit it)."""
    exact = next((o for o in options if isclose(o, mg)), None)
    if exact is not None and compose(product, exact) is not None:
        return exact
    solid = round_down(product, mg, prefer_solution=by_weight)
    if by_weight or solid >= keep * mg:
        return solid
    return max(solid, round_down(product, mg, prefer_solution=True))


def titrate(
    k: Knowledge,
    product: Product,
    scheme: DosingScheme,
    rng: RenalRange | None,
    target_daily_mg: float,
    weight_kg: float | None,
    indication: str | None,
) -> Titration:
    """Day-by-day titration to ``target_daily_mg``, then maintenance.

    Where the renal table prints columns (a grid) the target and every step are doses at
    normal kidney function, each read through the grid into the patient's row (:mod:`.grid`); the
    row sets the doses a day. Steps below the first column (a ramp such as PHN's 300 mg once, then
    twice a day) keep their number of doses, each the row's first-column dose, so the start is the
    row's first column or less. Without a grid, the renal row's maximum caps the daily dose
    (products whose tables print only a range).
    """
    by_weight = scheme.unit == "mg/kg/day"
    factor = (weight_kg or 0.0) if by_weight else 1.0
    cap = scheme_cap_mg(k, scheme, weight_kg)
    grid = grid_for(k, product.id, indication, rng)
    mapped = grid is not None and not grid.is_normal
    if rng is not None and rng.daily_max_mg is not None and not mapped:
        cap = min(cap, rng.daily_max_mg)
    target = min(target_daily_mg, cap)
    band_dpd = rng.doses_per_day if rng is not None else None
    options = rng.regimen_options_mg if rng is not None else ()
    keep = k.dosing.limits.solids_within_fraction

    def in_row(normal_mg: float) -> float:
        if grid is None or not mapped:
            return normal_mg
        return grid.read(max(normal_mg, grid.start_mg(target))).row_daily_mg

    regimens: list[tuple[_Step, float, int]] = []  # step, per-dose mg, doses per day
    best_daily = 0.0
    for step in _steps(scheme, factor, target):
        normal_wanted = min(step.daily_mg, target)
        wanted = in_row(normal_wanted)
        dpd = min(step.doses_per_day, band_dpd) if band_dpd else step.doses_per_day
        if grid is not None and mapped and band_dpd:
            if normal_wanted < grid.first_normal_mg <= target:
                # A ramp below the first column (PHN: 300 mg once, then twice, then three times a
                # day) keeps its doses a day, each the first column's dose of the row.
                wanted = grid.row_daily_mg[0] / band_dpd * dpd
            else:
                dpd = band_dpd  # from the first column on, the row's own regimen
        per_dose = measurable_dose(product, wanted / dpd, by_weight, options, keep)
        while per_dose <= 0 and dpd > 1:
            dpd -= 1
            per_dose = measurable_dose(product, wanted / dpd, by_weight, options, keep)
        if per_dose <= 0:
            continue
        daily = per_dose * dpd
        if daily < best_daily and regimens:
            continue  # a titration never goes down
        best_daily = daily
        regimens.append((step, per_dose, dpd))
        if isclose(normal_wanted, target) and step.every_n_days == 1:
            break
    if not regimens:
        raise ValueError("no dose can be made within the limits")

    days: list[PlanDay] = []
    for i, (step, per_dose, dpd) in enumerate(regimens):
        end = regimens[i + 1][0].from_day if i + 1 < len(regimens) else step.from_day + 1
        doses = doses_for(k, product, indication, per_dose, dpd)
        for day in range(step.from_day, end):
            dosing_day = (day - step.from_day) % step.every_n_days == 0
            days.append(
                PlanDay(
                    day=day,
                    daily_mg=per_dose * dpd if dosing_day else 0,
                    doses=doses if dosing_day else (),
                )
            )
    _, per_dose, dpd = regimens[-1]
    every = max(scheme.every_n_days, rng.every_n_days if rng else 1)
    maintenance = Maintenance(
        daily_mg=per_dose * dpd,
        doses=doses_for(k, product, indication, per_dose, dpd),
        every_n_days=every,
    )
    column = grid.read(target) if grid is not None and mapped else None
    return Titration(
        tuple(days), maintenance, round(in_row(target), 1), round(in_row(cap), 1), column
    )
