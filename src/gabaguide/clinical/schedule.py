"""Dose-time scheduler: every planned dose at a clock time inside the patient's day.

The rules, every number from the knowledge base: each dose inside the waking window; with two or
more doses a day no gap, the overnight one included, longer than the label's maximum interval; no
dose in the gap after an antacid; clock times on the grid. Among the sets of times that keep every
rule the one nearest the preferred times wins (the earliest on a tie). When none keeps every rule,
the set that keeps the window and antacid rules with the shortest longest gap is used, and a finding
names the broken rule. A product taken with the evening meal is taken at that meal, always.

Times are minutes internally, counted from midnight before waking: a bedtime after midnight is past
24:00, and a dose then falls on the next calendar date. The pattern for ``n`` doses a day is found
once per call and shared by every day with ``n`` doses.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from itertools import pairwise
from math import inf

from gabaguide.domain import Dose, Finding, Phase, Plan, PlanDay, Routine, ScheduledDose
from gabaguide.knowledge import Knowledge
from gabaguide.knowledge.schema import Product

from .dialysis import supplement_doses
from .findings import finding
from .regimen import dose_times
from .spacing import DAY_MIN, least_gap

_HOUR_MIN = 60


@dataclass(frozen=True)
class Scheduled:
    """The plan re-timed to the patient's day, every dose of it, and what the scheduler assumed."""

    plan: Plan
    doses: tuple[ScheduledDose, ...]
    findings: tuple[Finding, ...]


def schedule_plan(
    k: Knowledge,
    plan: Plan,
    product: Product,
    indication: str | None,
    routine: Routine | None,
    antacid_times: tuple[str, ...],
    antacid_taken: bool,
) -> Scheduled:
    """Place every dose of ``plan`` at a clock time of the patient's day.

    ``antacid_times`` (HH:MM) are kept clear of doses; when ``antacid_taken`` and no times are
    given, the usual pattern is assumed and said. The returned plan carries the same times as the
    schedule; the findings say what was assumed and which rule could not be kept.
    """
    needs_meals = product.take_with == "evening meal" or (antacid_taken and not antacid_times)
    day, assumed = _patient_day(k, routine, needs_meals)
    findings: list[Finding] = []
    if assumed:
        findings.append(_default_routine_finding(k, assumed))
    antacids = tuple(_minutes(t) for t in antacid_times)
    if antacid_taken and not antacid_times:
        antacids = _usual_antacids(k, day)
        findings.append(_usual_antacid_finding(k, antacids))
    sched = k.dosing.scheduling
    ctx = _Context(
        k,
        product,
        indication,
        day,
        antacids=tuple(sorted(set(antacids))),
        max_gap=_hours_min(k.dosing.limits.max_interval_h),
        antacid_gap=_hours_min(sched.antacid_gap_h),
        grid=sched.grid_minutes,
    )
    timed = _retime(plan, ctx)
    start = date.fromisoformat(routine.start_date) if routine and routine.start_date else None
    doses = tuple(_scheduled(timed, ctx, sched.maintenance_days, start))
    daily: dict[int, float] = {}
    for d in doses:
        daily[d.day] = daily.get(d.day, 0.0) + d.mg
    extra = supplement_doses(k, timed, start, daily)
    if extra:
        doses = tuple(sorted((*doses, *extra), key=lambda d: (d.day, d.date or "", d.time)))
    findings += [f for n in sorted(ctx.memo) for f in ctx.memo[n].findings]
    return Scheduled(plan=timed, doses=doses, findings=tuple(findings))


# --- the patient's day -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Day:
    wake: int
    sleep: int  # after wake; past DAY_MIN when bedtime is after midnight
    meals: tuple[int, ...]

    def contains(self, t: int) -> bool:
        return (t - self.wake) % DAY_MIN <= self.sleep - self.wake

    @property
    def label(self) -> str:
        return f"{_clock(self.wake)}\N{EN DASH}{_clock(self.sleep)}"


def _patient_day(
    k: Knowledge, routine: Routine | None, needs_meals: bool
) -> tuple[_Day, tuple[str, ...]]:
    """The waking window and meals, and what came from the default day (``'bedtime 22:00'``)."""
    s = k.dosing.scheduling
    r = routine or Routine()
    assumed: list[str] = []
    if r.wake is None:
        assumed.append(f"wake {s.default_wake}")
    if r.sleep is None:
        assumed.append(f"bedtime {s.default_sleep}")
    if not r.meals and needs_meals:
        assumed.append("meals " + ", ".join(s.default_meals))
    wake = _minutes(r.wake or s.default_wake)
    sleep = _minutes(r.sleep or s.default_sleep)
    if sleep <= wake:
        sleep += DAY_MIN
    meals = tuple(_minutes(t) for t in (r.meals or s.default_meals))
    return _Day(wake, sleep, meals), tuple(assumed)


def _usual_antacids(k: Knowledge, day: _Day) -> tuple[int, ...]:
    s = k.dosing.scheduling
    after = [(m + s.usual_antacid_after_meal_min) % DAY_MIN for m in day.meals]
    bedtime = [day.sleep % DAY_MIN] if s.usual_antacid_at_bedtime else []
    return tuple(sorted({*after, *bedtime}))


# --- the plan, re-timed ----------------------------------------------------------------------------


@dataclass
class _Context:
    k: Knowledge
    product: Product
    indication: str | None
    day: _Day
    antacids: tuple[int, ...]
    max_gap: int  # minutes
    antacid_gap: int  # minutes
    grid: int  # minutes
    memo: dict[int, _Pattern] = field(default_factory=dict)

    def antacid_before(self, t: int) -> int | None:
        """The antacid time that ``t`` falls within the antacid gap after, if any."""
        return next((a for a in self.antacids if (t - a) % DAY_MIN < self.antacid_gap), None)

    def pattern(self, n: int) -> _Pattern:
        """The day's pattern for ``n`` doses, computed once per knowledge base for the same
        product, indication, day and antacid times (batches repeat them)."""
        if n not in self.memo:
            key = ("schedule", self.product.id, self.indication, self.day, self.antacids, n)
            self.memo[n] = self.k.remember(key, lambda: _pattern(self, n))
        return self.memo[n]


def _retime(plan: Plan, ctx: _Context) -> Plan:
    def doses(ds: tuple[Dose, ...]) -> tuple[Dose, ...]:
        if not ds:
            return ds
        times = ctx.pattern(len(ds)).clocks
        # Keyed on the doses' values (frozen, hashable): batches repeat the same days of doses.
        return ctx.k.remember(
            ("retimed", ds, times),
            lambda: tuple(d.model_copy(update={"time": t}) for d, t in zip(ds, times, strict=True)),
        )

    def days(pds: tuple[PlanDay, ...]) -> tuple[PlanDay, ...]:
        return tuple(pd.model_copy(update={"doses": doses(pd.doses)}) for pd in pds)

    m = plan.maintenance
    return plan.model_copy(
        update={
            "titration": days(plan.titration),
            "maintenance": m.model_copy(update={"doses": doses(m.doses)}) if m else None,
            "taper": days(plan.taper),
        }
    )


def _plan_days(plan: Plan, maintenance_days: int) -> Iterator[tuple[Phase, int, tuple[Dose, ...]]]:
    """(phase, plan day, doses) for every day of the plan that has doses, in order."""
    first: Phase = "switch" if plan.switch is not None else "titration"
    last_day, last_dosed = 0, None
    for pd in plan.titration:
        yield first, pd.day, pd.doses
        last_day = max(last_day, pd.day)
        last_dosed = pd.day if pd.doses else last_dosed
    m = plan.maintenance
    if m is not None:
        start = last_day + 1
        rhythm = start if last_dosed is None else last_dosed  # every n-th day keeps its rhythm
        for d in range(start, start + maintenance_days):
            if (d - rhythm) % m.every_n_days == 0:
                yield "maintenance", d, m.doses
        last_day += maintenance_days
    offset = last_day + 1 - plan.taper[0].day if plan.taper and last_day else 0
    for pd in plan.taper:
        yield "taper", pd.day + offset, pd.doses


def _scheduled(
    plan: Plan, ctx: _Context, maintenance_days: int, start: date | None
) -> Iterator[ScheduledDose]:
    for phase, day, doses in _plan_days(plan, maintenance_days):
        if not doses:
            continue
        pattern = ctx.pattern(len(doses))
        for dose, t in zip(doses, pattern.times, strict=True):
            when = start + timedelta(days=day - 1 + t // DAY_MIN) if start else None
            yield _scheduled_dose(
                day, when.isoformat() if when else None, dose.time, phase, plan.product, dose
            )


@lru_cache(maxsize=1 << 16)
def _scheduled_dose(
    day: int, on: str | None, time: str, phase: Phase, product: str, dose: Dose
) -> ScheduledDose:
    """One scheduled dose; batches repeat the same plans, so equal doses are built once."""
    return ScheduledDose(
        day=day,
        date=on,
        time=time,
        phase=phase,
        product=product,
        mg=dose.mg,
        units=dose.units,
        note=dose.note,
    )


# --- one day's pattern -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pattern:
    times: tuple[int, ...]  # minutes from midnight before waking
    findings: tuple[Finding, ...]

    @property
    def clocks(self) -> tuple[str, ...]:
        return tuple(_clock(t) for t in self.times)


@dataclass(frozen=True)
class _Wanted:
    """Where the doses of a day should go: preferred clock times and doses fixed to a time."""

    anchors: tuple[int, ...]
    fixed: dict[int, int]  # dose index -> clock minutes (a hard meal time)


def _pattern(ctx: _Context, n: int) -> _Pattern:
    slots = _slots(ctx.day.wake, ctx.day.sleep, ctx.grid)
    if len(slots) < n:  # too few times while awake: use the whole day
        slots = _slots(ctx.day.wake, ctx.day.wake + DAY_MIN, ctx.grid)
    wanted = _wanted(ctx, n, slots)
    picks: tuple[int, ...] | None = None
    for keep_antacid, keep_fixed in ((True, True), (False, True), (False, False)):
        costs = _costs(ctx, slots, wanted, keep_antacid, keep_fixed)
        picks = least_gap(slots, costs, ctx.max_gap)
        if picks is not None:
            break
    assert picks is not None, "n slots always hold n doses"
    times = tuple(slots[i] for i in picks)
    return _Pattern(times, tuple(_pattern_findings(ctx, n, times, wanted)))


def _slots(first: int, last: int, grid: int) -> tuple[int, ...]:
    """Times in [first, last] whose clock time is on the grid, each clock time once."""
    last = min(last, first + DAY_MIN - 1)
    return tuple(t for t in range(first, last + 1) if t % DAY_MIN % grid == 0)


def _wanted(ctx: _Context, n: int, slots: tuple[int, ...]) -> _Wanted:
    defaults, _ = dose_times(ctx.k, ctx.product.id, ctx.indication, n)
    anchors = tuple(_minutes(t) for t in defaults)
    if ctx.product.take_with == "with or without food":  # no label clock time: fit the day
        anchors = tuple(_fit_to_day(ctx, a) for a in anchors)
    if ctx.product.take_with != "evening meal":
        return _Wanted(anchors, {})
    meal = _evening_meal(ctx.day)
    at = _nearest(slots, meal) % DAY_MIN  # the meal on the grid
    return _Wanted((*anchors[:-1], at), {n - 1: at})


def _fit_to_day(ctx: _Context, anchor: int) -> int:
    """A default time moved to the same place in the patient's waking day as it has in the default
    day (08:00 in a 07:00-22:00 day is a fifteenth of the way through it)."""
    s = ctx.k.dosing.scheduling
    wake, sleep = _minutes(s.default_wake), _minutes(s.default_sleep)
    length = (sleep - wake) % DAY_MIN or DAY_MIN
    place = (anchor - wake) % DAY_MIN / length
    if place > 1:  # outside the default day: keep its distance from waking
        return (ctx.day.wake + (anchor - wake) % DAY_MIN) % DAY_MIN
    return round(ctx.day.wake + place * (ctx.day.sleep - ctx.day.wake)) % DAY_MIN


def _evening_meal(day: _Day) -> int:
    """The last meal of the waking day (of all meals, if none is inside it)."""
    awake = [m for m in day.meals if day.contains(m)] or list(day.meals)
    return max(awake, key=lambda m: (m - day.wake) % DAY_MIN)


def _costs(
    ctx: _Context, slots: Sequence[int], wanted: _Wanted, keep_antacid: bool, keep_fixed: bool
) -> tuple[tuple[float, ...], ...]:
    """For each dose and slot, the distance to the preferred time; inf where a rule forbids it."""
    rows: list[tuple[float, ...]] = []
    for j, anchor in enumerate(wanted.anchors):
        fixed = wanted.fixed.get(j) if keep_fixed else None
        if fixed is not None:
            rows.append(tuple(0.0 if t % DAY_MIN == fixed else inf for t in slots))
            continue
        rows.append(
            tuple(
                inf if keep_antacid and ctx.antacid_before(t) is not None else _dist(t, anchor)
                for t in slots
            )
        )
    return tuple(rows)


# --- findings --------------------------------------------------------------------------------------


def _pattern_findings(
    ctx: _Context, n: int, times: tuple[int, ...], wanted: _Wanted
) -> Iterator[Finding]:
    fixed = set(wanted.fixed.values())
    longest = _longest_gap(times)
    broken = _broken_rules(ctx, n, times, fixed, longest)
    if broken:
        s, limits = ctx.k.dosing.scheduling, ctx.k.dosing.limits
        yield finding(
            ctx.k,
            "schedule.infeasible",
            f"{_doses(n).capitalize()}: " + "; ".join(broken) + ".",
            f"Nearest schedule: {_clocks(times)}"
            + (f" (longest gap between doses {_duration(longest)})" if n >= 2 else "")
            + ". Review the dose times, the antacid times or the regimen with the prescriber.",
            (*s.cite, *limits.cite) if longest > ctx.max_gap else s.cite,
        )
    for t in times:
        a = ctx.antacid_before(t) if t % DAY_MIN in fixed else None
        if a is not None:
            yield _antacid_conflict(ctx, t, a)


def _broken_rules(
    ctx: _Context, n: int, times: tuple[int, ...], fixed: set[int], longest: int
) -> list[str]:
    """One clause per rule the times break, with the numbers."""
    gap, label = _duration(ctx.antacid_gap), ctx.day.label
    broken: list[str] = []
    if n >= 2 and longest > ctx.max_gap:
        broken.append(_gap_sentence(ctx, n, longest, bool(fixed)))
    outside = [t for t in times if not ctx.day.contains(t % DAY_MIN)]
    if outside:
        broken.append(
            f"waking hours {label} have room for fewer than {n} dose times on the "
            f"{ctx.grid}-minute grid; {_clocks(outside)} fall outside them"
        )
    near = [t for t in times if t % DAY_MIN not in fixed and ctx.antacid_before(t) is not None]
    if near:
        broken.append(
            f"the antacid times {_clocks(ctx.antacids)} leave too few times in waking hours "
            f"{label} at least {gap} after an antacid; {_clocks(near)} fall within {gap} after one"
        )
    if not fixed <= {t % DAY_MIN for t in times}:
        broken.append(
            f"the dose with the evening meal at {_clocks(sorted(fixed))} cannot be the last of "
            f"{n} doses inside waking hours {label}"
        )
    return broken


def _gap_sentence(ctx: _Context, n: int, longest: int, meal: bool) -> str:
    max_gap = ctx.max_gap
    allowed = f"the label allows at most {_duration(max_gap)} between doses"
    overnight = DAY_MIN - (ctx.day.sleep - ctx.day.wake)
    if overnight > max_gap:
        return f"waking hours {ctx.day.label} leave {_duration(overnight)} overnight; {allowed}"
    if n * max_gap < DAY_MIN:
        return f"{_doses(n)} leave at least {_duration(-(-DAY_MIN // n))} between doses; {allowed}"
    if ctx.antacids:
        return (
            f"keeping clear of the antacid times {_clocks(ctx.antacids)} leaves "
            f"{_duration(longest)} between doses; {allowed}"
        )
    cause = "the dose with the evening meal" if meal else "the nearest schedule"
    return f"{cause} leaves {_duration(longest)} between doses; {allowed}"


def _antacid_conflict(ctx: _Context, t: int, antacid: int) -> Finding:
    gap = ctx.antacid_gap
    return finding(
        ctx.k,
        "schedule.antacid-conflict",
        f"The dose with the evening meal at {_clock(t)} falls within {_duration(gap)} after the "
        f"antacid at {_clock(antacid)}.",
        f"{ctx.product.name} is taken with the evening meal, so the dose time is kept. Move the "
        f"antacid to at least {_duration(gap)} before the dose, or ask the prescriber.",
        ctx.k.dosing.scheduling.cite,
    )


def _default_routine_finding(k: Knowledge, assumed: tuple[str, ...]) -> Finding:
    return finding(
        k,
        "schedule.default-routine",
        "Dose times fitted to an assumed day: " + "; ".join(assumed) + ".",
        "The patient's routine did not give these, so the default day was used. Check the dose "
        "times against the patient's own waking hours and meals.",
        k.dosing.scheduling.cite,
    )


def _usual_antacid_finding(k: Knowledge, antacids: tuple[int, ...]) -> Finding:
    s = k.dosing.scheduling
    pattern = f"{s.usual_antacid_after_meal_min} minutes after each meal" + (
        " and at bedtime" if s.usual_antacid_at_bedtime else ""
    )
    gap = _hours_min(s.antacid_gap_h)
    return finding(
        k,
        "schedule.antacid-usual-times",
        f"Antacid times not given: assumed {_clocks(antacids)}.",
        f"The usual pattern was assumed ({pattern}); every dose is kept at least "
        f"{_duration(gap)} after each. Give the antacid's times to fit the schedule to them.",
        s.cite,
    )


# --- clock arithmetic ------------------------------------------------------------------------------


def _minutes(hhmm: str) -> int:
    hh, _, mm = hhmm.partition(":")
    return int(hh) * _HOUR_MIN + int(mm)


def _hours_min(hours: float) -> int:
    return round(hours * _HOUR_MIN)


def _clock(t: int) -> str:
    h, m = divmod(t % DAY_MIN, _HOUR_MIN)
    return f"{h:02d}:{m:02d}"


def _clocks(ts: Sequence[int]) -> str:
    return ", ".join(_clock(t) for t in ts)


def _nearest(options: Sequence[int], target: int) -> int:
    """The option nearest ``target`` on the clock (the earliest on a tie)."""
    return min(options, key=lambda t: (_dist(t, target), t))


def _dist(a: int, b: int) -> int:
    """Minutes between two clock times, the short way round the clock."""
    d = (a - b) % DAY_MIN
    return min(d, DAY_MIN - d)


def _longest_gap(times: Sequence[int]) -> int:
    if len(times) < 2:
        return 0
    gaps = [b - a for a, b in pairwise(times)]
    return max([*gaps, DAY_MIN - (times[-1] - times[0])])


def _duration(minutes: int) -> str:
    h, m = divmod(minutes, _HOUR_MIN)
    return " ".join(part for part in (f"{h} h" if h else "", f"{m} min" if m else "") if part)


def _doses(n: int) -> str:
    return "1 dose a day" if n == 1 else f"{n} doses a day"
