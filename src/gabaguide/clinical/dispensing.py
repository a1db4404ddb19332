"""Dispensing totals: how many pieces of each strength each phase of a plan needs.

Titration and taper are counted day by day; maintenance for the knowledge base's dispensing period
(``scheduling.maintenance_days``), only on dosing days when the regimen is every n days. A total
line per strength sums the phases: what a pharmacist dispenses and a patient refills.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from gabaguide.domain import DispenseLine, Dose, Plan, ScheduledDose
from gabaguide.knowledge import Knowledge

Key = tuple[str, float, str]  # form, strength, measure


def dispensing(
    k: Knowledge, plan: Plan, schedule: tuple[ScheduledDose, ...] = ()
) -> tuple[DispenseLine, ...]:
    """Per-phase and total quantities of each strength (empty for a plan with no doses); the
    supplements after hemodialysis are counted from the schedule, one per session placed in it."""
    phases: list[tuple[str, int, dict[Key, float]]] = []
    first = "switch" if plan.switch is not None else "titration"
    if plan.titration:
        phases.append(
            (first, len(plan.titration), _count(d for day in plan.titration for d in day.doses))
        )
    if plan.maintenance is not None and plan.maintenance.doses:
        days = k.dosing.scheduling.maintenance_days
        dosing_days = len(range(0, days, plan.maintenance.every_n_days))
        per_day = _count(plan.maintenance.doses)
        phases.append(("maintenance", days, {key: q * dosing_days for key, q in per_day.items()}))
    if plan.taper:
        phases.append(
            ("taper", len(plan.taper), _count(d for day in plan.taper for d in day.doses))
        )
    supplements = [d for d in schedule if d.phase == "dialysis-supplement"]
    if supplements:
        span = max(d.day for d in schedule) - min(d.day for d in schedule) + 1
        counts: dict[Key, float] = defaultdict(float)
        for d in supplements:
            for u in d.units:
                counts[(u.form, u.strength_mg, u.measure)] += u.count
        phases.append(("dialysis-supplement", span, dict(counts)))
    lines = [
        _line(phase, days, plan.product, key, qty)
        for phase, days, counts in phases
        for key, qty in sorted(counts.items())
    ]
    total: dict[Key, float] = defaultdict(float)
    for _, _, counts in phases:
        for key, qty in counts.items():
            total[key] += qty
    total_days = sum(days for phase, days, _ in phases if phase != "dialysis-supplement")
    lines += [
        _line("total", total_days, plan.product, key, qty) for key, qty in sorted(total.items())
    ]
    return tuple(lines)


def _count(doses: Iterable[Dose]) -> dict[Key, float]:
    out: dict[Key, float] = defaultdict(float)
    for dose in doses:
        for u in dose.units:
            out[(u.form, u.strength_mg, u.measure)] += u.count
    return dict(out)


def _line(phase: str, days: int, product: str, key: Key, qty: float) -> DispenseLine:
    form, strength, measure = key
    return DispenseLine(
        phase=phase,
        days=days,
        product=product,
        form=form,
        strength_mg=strength,
        measure=measure,
        quantity=round(qty, 2),
    )
