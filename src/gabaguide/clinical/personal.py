"""A patient's personal plan: an assessment's plan (or a prescription kept as it is) placed on the
calendar, day by day, for the diary: what each day asks for, the supply it uses, missed doses."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import date, timedelta

from gabaguide.domain import (
    WEEKDAYS,
    Assessment,
    Maintenance,
    Patient,
    Plan,
    Routine,
    ScheduledDose,
)
from gabaguide.errors import InputError
from gabaguide.knowledge import Knowledge
from gabaguide.records import (
    Advice,
    PersonalPlan,
    PlannedDay,
    PlanRequest,
    Supply,
    SupplyLine,
)

from .assess import assess, resolve_product, schedule_for
from .diary import scale_problems
from .dispensing import dispensing
from .indication import indication_id
from .regimen import doses_for

SERIOUS = ("warning", "contraindicated")
SUPPLY_HORIZON_DAYS = 730
"""How far ahead a run-out date is looked for (not clinical: a bound on the search)."""


def personal_plan(k: Knowledge, request: PlanRequest) -> tuple[Assessment, PersonalPlan]:
    """Assess the patient with day 1 on ``request.start_date`` and make the dated plan. A review of
    a current regimen keeps that regimen as the plan. InputError says why no plan can be made, or
    names a baseline pain off the diary's pain scale."""
    problems = scale_problems("baseline_pain", k.diary.scales.pain, request.baseline_pain)
    if problems:
        raise InputError(problems)
    routine = request.patient.routine or Routine()
    patient = request.patient.model_copy(
        update={"routine": routine.model_copy(update={"start_date": request.start_date})}
    )
    a = assess(patient, k)
    plan, schedule = a.plan, a.schedule
    withheld = any(f.severity == k.planning.gate.withhold_on_severity for f in a.findings)
    if (
        plan is None
        and not withheld  # a contraindication: the diary keeps no regimen either
        and patient.goal == "review"
        and patient.current_regimen is not None
    ):
        ind_id = indication_id(k, patient)
        scheduled = schedule_for(k, patient, _kept_regimen(k, patient, ind_id), ind_id)
        plan, schedule = scheduled.plan, scheduled.doses
    if plan is None or not schedule:
        why = [f.summary for f in a.findings if f.severity in SERIOUS][:3]
        raise InputError(
            [
                "patient: no dose plan can be made for this patient"
                + (": " + " ".join(why) if why else "")
            ]
        )
    product = k.product_by_id[plan.product]
    regular = [d for d in schedule if d.phase != "dialysis-supplement"]
    last_phase = regular[-1].phase
    cycle = plan.maintenance.every_n_days if plan.maintenance else 1
    pattern = _last_days(regular, cycle) if last_phase != "taper" else ()
    after = [d for d in schedule if d.phase == "dialysis-supplement"]
    sessions = plan.dialysis_supplement.days if plan.dialysis_supplement and after else ()
    return a, PersonalPlan(
        product=product.id,
        product_name=product.name,
        start_date=request.start_date,
        schedule=schedule,
        maintenance_daily_mg=plan.maintenance.daily_mg if plan.maintenance else None,
        maintenance_doses=pattern,
        cycle_days=cycle,
        after_dialysis=after[-1] if after and last_phase != "taper" else None,
        dialysis_days=sessions,
        ends=last_phase == "taper",
        baseline_pain=request.baseline_pain,
        dispensed_date=request.dispensed_date or request.start_date,
        dispensed=tuple(line for line in dispensing(k, plan, schedule) if line.phase == "total"),
        missed_dose=missed_dose_advice(k, product.id),
        findings_summary=tuple(f.summary for f in a.findings if f.severity in SERIOUS),
    )


def _kept_regimen(k: Knowledge, patient: Patient, indication: str | None) -> Plan:
    reg = patient.current_regimen
    assert reg is not None
    product = resolve_product(k, reg.product, "current_regimen.product")
    try:
        doses = doses_for(k, product, indication, reg.dose_mg, reg.times_per_day)
    except ValueError:
        strengths = ", ".join(f"{f.strength_mg:g} mg" for f in product.forms)
        raise InputError(
            [
                f"current_regimen.dose_mg: {reg.dose_mg:g} mg cannot be made from the strengths of "
                f"{product.name} ({strengths})"
            ]
        ) from None
    except LookupError:
        raise InputError(
            [
                f"current_regimen.times_per_day: {product.name} is not taken {reg.times_per_day} times a day"
            ]
        ) from None
    daily = reg.dose_mg * reg.times_per_day
    return Plan(
        product=product.id,
        target_daily_mg=None,
        max_daily_mg=None,
        maintenance=Maintenance(daily_mg=daily, doses=doses),
    )


def _last_days(schedule: Sequence[ScheduledDose], days: int) -> tuple[ScheduledDose, ...]:
    last = schedule[-1].day
    return tuple(d for d in schedule if d.day > last - days)


def missed_dose_advice(k: Knowledge, product: str) -> tuple[Advice, ...]:
    """What to do about a missed or late dose of the product, and never to double up."""
    diary = k.diary
    rule = next((m for m in diary.missed_doses if product in m.products), None)
    first = (
        Advice(text=rule.instruction, citations=rule.cite)
        if rule is not None
        else Advice(
            text=diary.missed_dose_default.instruction, citations=diary.missed_dose_default.cite
        )
    )
    return first, Advice(text=diary.never_double.instruction, citations=diary.never_double.cite)


# --- day by day ------------------------------------------------------------------------------------


class PlanCalendar:
    """What a patient's plans ask for, day by day. Plans are given oldest first; a later plan
    replaces an earlier one from its start date. Maintenance repeats after the dated schedule;
    nothing is asked for after a taper ends or before the first plan starts."""

    def __init__(self, plans: Sequence[PersonalPlan]) -> None:
        self.plans = tuple(plans)
        self._days = [_by_day(p) for p in self.plans]

    @property
    def first_day(self) -> date | None:
        return date.fromisoformat(self.plans[0].start_date) if self.plans else None

    def plan_on(self, day: date) -> int | None:
        iso = day.isoformat()
        found = None
        for i, p in enumerate(self.plans):
            if p.start_date <= iso:
                found = i
        return found

    def doses_on(self, day: date) -> tuple[ScheduledDose, ...]:
        i = self.plan_on(day)
        if i is None:
            return ()
        plan = self.plans[i]
        n = (day - date.fromisoformat(plan.start_date)).days + 1
        dated = self._days[i].get(n)
        if dated is not None:
            return dated
        if n <= plan.schedule[-1].day or plan.ends or not plan.maintenance_doses:
            return ()
        first = plan.maintenance_doses[0].day
        want = first + (n - first) % plan.cycle_days
        regular = tuple(d for d in plan.maintenance_doses if d.day == want)
        after = plan.after_dialysis
        if after is None or WEEKDAYS[day.weekday()] not in plan.dialysis_days:
            return regular
        return tuple(sorted((*regular, after), key=lambda d: d.time))  # pattern doses, as above

    def planned(self, day: date) -> PlannedDay:
        doses = self.doses_on(day)
        phase = doses[0].phase if doses else ("before" if self.plan_on(day) is None else "none")
        return PlannedDay(
            date=day.isoformat(), daily_mg=sum(d.mg for d in doses), doses=len(doses), phase=phase
        )


def _by_day(plan: PersonalPlan) -> dict[int, tuple[ScheduledDose, ...]]:
    grouped: dict[int, list[ScheduledDose]] = defaultdict(list)
    for d in plan.schedule:
        grouped[d.day].append(d)
    return {n: tuple(ds) for n, ds in grouped.items()}


def days(first: date, last: date) -> Iterator[date]:
    for n in range((last - first).days + 1):
        yield first + timedelta(days=n)


# --- supply ----------------------------------------------------------------------------------------


def supply(plan: PersonalPlan, as_of: date) -> Supply:
    """Pieces left of each dispensed strength on ``as_of`` and the day each runs out, assuming
    every planned dose is taken (the diary's missed doses are not counted back)."""
    dispensed_on = date.fromisoformat(plan.dispensed_date)
    calendar = PlanCalendar([plan])
    keys = [(line.form, line.strength_mg) for line in plan.dispensed]
    total = dict.fromkeys(keys, 0.0)
    used = dict.fromkeys(keys, 0.0)
    runs_out: dict[tuple[str, float], str | None] = dict.fromkeys(keys)
    quantity = {(line.form, line.strength_mg): line.quantity for line in plan.dispensed}
    for n in range(SUPPLY_HORIZON_DAYS):
        day = dispensed_on + timedelta(days=n)
        if day > as_of and all(runs_out.values()):
            break
        need = dict.fromkeys(keys, 0.0)
        for d in calendar.doses_on(day):
            for u in d.units:
                if (u.form, u.strength_mg) in need:
                    need[(u.form, u.strength_mg)] += u.count
        for key in keys:
            if runs_out[key] is None and total[key] + need[key] > quantity[key] + 1e-9:
                runs_out[key] = day.isoformat()
            total[key] += need[key]
            if day <= as_of:
                used[key] = total[key]
    lines = [
        SupplyLine(
            form=line.form,
            strength_mg=line.strength_mg,
            measure=line.measure,
            dispensed=line.quantity,
            used=round(min(used[key], line.quantity), 2),
            left=round(max(line.quantity - used[key], 0.0), 2),
            runs_out_on=runs_out[key],
        )
        for line, key in zip(plan.dispensed, keys, strict=True)
    ]
    due = min((ln.runs_out_on for ln in lines if ln.runs_out_on), default=None)
    return Supply(
        as_of=as_of.isoformat(),
        dispensed_date=plan.dispensed_date,
        lines=tuple(lines),
        refill_due=due,
        assumption=(
            "Counted from the amounts the plan lists to dispense, from the day they were dispensed, "
            "assuming every planned dose is taken. Check the labels on your packs."
        ),
    )
